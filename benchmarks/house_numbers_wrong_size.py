"""Do other training windows help whole-image reads at several scales? Trains `--kinds`
models from scratch on a `dcn house-numbers` folder's data, for each of `--seeds` and
`--variants`: as the preset trains them, with `--wrong-size-share` of each batch wrong-size
windows (`data.sequence_inputs.wrong_size_windows`, target "no whole number"), or with cut
windows that also cut the number's rows (`MultiDigitConfig.cut_rows`). Then it reads the
first `--images` test images at 1, 2, ... scales with each model's average top (Eq. 11,
Table 2's coarse and fine rows) and soft-attention top (Eq. 12-14), by the scale that fits
each image's digits, by number length and by map positions at that scale:

    .venv/bin/python benchmarks/house_numbers_wrong_size.py runs/house --out runs/wrong_size \\
        --kinds coarse --seeds 0 1 --json docs/bench/house_numbers_wrong_size_coarse.json \\
        --png docs/images/house_numbers_wrong_size_coarse.png

Models go to OUT/<variant>_s<seed>/<kind>.keras, with history and epochs beside them as
`dcn train` writes them; a killed run resumes from its last finished epoch, and a model
that exists is not retrained. With `--reuse-preset`, the run folder's own models (as
`dcn house-numbers` or `dcn train` made them) are the preset's variant of seed 0.
"""

import argparse
import dataclasses
import pathlib

from dcn_keras import experiments, measure, presets, training, visualize
from dcn_keras.data import sequence_inputs
from dcn_keras.multi_digit import report

TOPS = {"average top": "average", "soft-attention top": "soft_attention"}
VARIANTS = ("preset", "wrong sizes", "cut rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--kinds", nargs="+", choices=("coarse", "fine"), default=["coarse"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--wrong-size-share", type=float, default=0.125)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=VARIANTS[:2],
                        help="how the models are trained: as the preset, with wrong-size "
                             "windows, or with cut windows that also cut the number's rows")
    parser.add_argument("--epochs", type=int, help="default: the paper recipe's")
    parser.add_argument("--reuse-preset", action="store_true",
                        help="the run's own models are the preset's variant of seed 0")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--json", type=pathlib.Path)
    parser.add_argument("--png", type=pathlib.Path, help="error against scales read")
    args = parser.parse_args()
    family = presets.family("svhn")
    recipe = family.recipe("paper").replace(epochs=args.epochs)
    variants = {"preset": family.config,
                "wrong sizes": dataclasses.replace(family.config,
                                                   wrong_size_share=args.wrong_size_share),
                "cut rows": dataclasses.replace(family.config, cut_rows=True)}
    variants = {name: variants[name] for name in args.variants}
    data = args.run / "data"
    examples = sequence_inputs.full_images(data / "test.tfrecord")[:args.images]
    groups = report.groups_of(examples, recipe.scales, family.config)
    results = []
    for seed in args.seeds:
        for variant, config in variants.items():
            for kind in args.kinds:
                path = args.out / f"{variant.replace(' ', '_')}_s{seed}" / f"{kind}.keras"
                if args.reuse_preset and variant == "preset" and seed == 0:
                    path = args.run / "models" / f"{kind}.keras"
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    experiments.train_model(family.with_config(config), kind, data, path,
                                            recipe.replace(seed=seed), verbose=2)
                model = training.load_model(path, family).folded()
                for top_name, top in TOPS.items():
                    name = f"{kind}, {variant}, seed {seed}, {top_name}"
                    results.append({
                        "kind": kind, "variant": variant, "seed": seed, "top": top_name,
                        "model": str(path), "validation": _best_validation(path),
                        "rows": report.rows_by_top(model, top, examples, recipe.scales,
                                                   groups, desc=name)})
                    print(name, " / ".join(f"{row['test_error']:.1%}"
                                           for row in results[-1]["rows"]))
    measure.publish({"images": len(examples), "data": str(data), "scales": list(recipe.scales),
                     "wrong_size_share": args.wrong_size_share,
                     "shrink": sequence_inputs.SHRINK, "enlarge": sequence_inputs.ENLARGE,
                     "results": results}, args.json)
    if args.png:
        _plot(results, len(examples), args.png)


def _best_validation(path: pathlib.Path) -> float | None:
    """The lowest validation sequence error in the history `dcn train` wrote beside `path`."""
    history = path.resolve().with_name(f"{path.stem}_history.csv")
    return (min(visualize.read_history(history)["val_sequence_error"]) if history.exists()
            else None)


def _plot(results: list[dict], images: int, path: pathlib.Path) -> None:
    panels = {}
    for result in results:
        panel = panels.setdefault(f"{result['kind']} model, {result['top']}", {})
        panel[f"{result['variant']}, seed {result['seed']}"] = [
            row["test_error"] for row in result["rows"]]
    visualize.plot_error_versus_scales(
        panels, path, f"MNIST house numbers, first {images} test images: models trained as "
        "the preset trains them and with wrong-size windows "
        "(benchmarks/house_numbers_wrong_size.py)")


if __name__ == "__main__":
    main()
