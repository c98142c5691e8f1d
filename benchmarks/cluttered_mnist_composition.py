"""Ways to compose a Cluttered MNIST DCN from a coarse and a fine model trained apart, side
by side on the same test canvases.

- coarse top: the coarse model's top layers read the fine vectors (the paper's SVHN recipe,
  and this product's composition before the bridge);
- bridge w x w: the fine model's top layers, with the coarse map carried into the fine
  vectors' space by a least-squares map of each w x w coarse neighbourhood (w = 1, 3, 5),
  fitted on training images, and the fine layers reading each selected position as the fine
  model does, through their whole 24 x 24 receptive field (`dcn compose` uses w = 3);
- bridge 3 x 3, 14 x 14 patches: the same with the paper's patches, whose zero-padded
  edges give other vectors than the fine model's (this product's composition before the
  fine model's view).

Writes `composition<suffix>.json` and `.md` beside the models (`composition_s0.json` for
`coarse_s0.keras`):

    .venv/bin/python benchmarks/cluttered_mnist_composition.py runs/study/data \
        runs/study/models/coarse_s0.keras runs/study/models/fine_s0.keras
"""

import argparse
import json
import pathlib

from dcn_keras import atomic, measure, presets, training
from dcn_keras.cluttered_mnist import compose, evaluation, flops
from dcn_keras.cluttered_mnist.model import DynamicCapacityNetwork


def coarse_top(coarse_model, fine_model, config) -> DynamicCapacityNetwork:
    dcn = DynamicCapacityNetwork(config, name="coarse_top")
    for target, source in ((dcn.coarse, coarse_model.get_layer("coarse")),
                           (dcn.top, coarse_model.get_layer("top")),
                           (dcn.fine, fine_model.get_layer("fine"))):
        target.set_weights(source.get_weights())
    return dcn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=pathlib.Path)
    parser.add_argument("coarse", type=pathlib.Path)
    parser.add_argument("fine", type=pathlib.Path)
    args = parser.parse_args()
    family = presets.family("cluttered_mnist")
    coarse = training.load_model(args.coarse, family)
    fine = training.load_model(args.fine, family)
    train, valid = family.datasets(args.data / "train.tfrecord", args.data / "valid.tfrecord",
                                   100)
    test = family.test_dataset(args.data / "test.tfrecord", 100)
    count = sum(int(labels.shape[0]) for _, labels in test)
    baselines = {name: evaluation.error_rate(evaluation.inference_function(model), test)
                 for name, model in (("coarse model", coarse), ("fine model", fine))}
    variants = {"coarse top": {"dcn": coarse_top(coarse, fine, family.config)}}
    for window, view in ((1, "fine_model"), (3, "fine_model"), (5, "fine_model"),
                         (3, "patch")):
        bridge = compose.fit_bridge(coarse, fine, train, window)
        dcn = compose.compose(coarse, fine, family.config, bridge, fine_view=view)
        name = f"bridge {window}x{window}" + (", 14x14 patches" if view == "patch" else "")
        variants[name] = {
            "dcn": dcn, "r2_fit": bridge.r2, "r2_valid": compose.bridge_r2(dcn, fine, valid)}
    ks = evaluation.PATCH_COUNTS
    fine_total = flops.count(family.config)["fine_model"]["total"]
    rows = {}
    for name, variant in variants.items():
        dcn = variant.pop("dcn")
        variant["test_error_versus_patches"] = evaluation.error_versus_patches(dcn, test, ks)
        variant["multiplications_relative_to_fine"] = {
            k: flops.count(dcn.config, k, bridge=dcn.bridge)["dcn"]["total"] / fine_total
            for k in ks}
        rows[name] = variant
        print(name, variant, flush=True)
    result = {"data": f"test split of {args.data} ({count:,} canvases)",
              "models": [str(args.coarse), str(args.fine)],
              "machine": measure.machine_description(), "test_error": baselines,
              "variants": rows}
    lines = ["| composition | bridge R^2 (fit / valid) | "
             + " | ".join(f"k={k}" for k in ks) + " |", "|---|---|" + "---:|" * len(ks)]
    for name, row in rows.items():
        fit = f"{row['r2_fit']:.2f} / {row['r2_valid']:.2f}" if "r2_fit" in row else "-"
        lines.append(f"| {name} | {fit} | " + " | ".join(
            f"{100 * row['test_error_versus_patches'][k]:.2f}% "
            f"({row['multiplications_relative_to_fine'][k]:.2f})" for k in ks) + " |")
    lines += ["", "In brackets: multiplications relative to the fine model's."]
    lines += ["", ", ".join(f"{name} {100 * error:.2f}%" for name, error in baselines.items())
              + f" on the same {count:,} test canvases.", f"Machine: {result['machine']}"]
    # coarse_s0.keras -> composition_s0.json
    out = args.coarse.parent / f"composition{args.coarse.stem.removeprefix('coarse')}"
    atomic.write_text(out.with_suffix(".json"), json.dumps(result, indent=2))
    atomic.write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
