"""Learning curves of a `dcn house-numbers` run, per epoch: sequence error on the validation
crops (from each model's history) and on the test canvases (the coarse model alone, and the
DCN of the run as Table 2 counts it at all scales with that epoch's fine model and the
final coarse model), from the weights `dcn train` keeps of every epoch (`<model>_epochs/`;
a pipeline trainer keeps them in its `ModelRun`'s `epochs/`, which a run folder can link):

    .venv/bin/python reproduce/house_numbers_curves.py runs/house --images 500 \
        --png docs/images/house_numbers_curves.png --json docs/bench/house_numbers_curves.json

The test canvases are the first `--images` of the run's test split, read at the paper
recipe's scales; k is that of the run's composed `models/dcn.keras` (written by its report),
else the recipe's.
"""

import argparse
import csv
import json
import pathlib

from dcn_keras import atomic, presets, training
from dcn_keras.data import tfrecords
from dcn_keras.house_numbers import report
from dcn_keras.house_numbers.dcn import MultiDigitDCN
from dcn_keras.house_numbers.model import MultiDigitModel


def history(models: pathlib.Path, kind: str) -> list[float]:
    with open(models / f"{kind}_history.csv", newline="") as stream:
        return [float(row["val_sequence_error"]) for row in csv.DictReader(stream)]


def epoch_models(models: pathlib.Path, kind: str, config):
    """(epoch, model with that epoch's weights) for every kept epoch of `kind`."""
    for path in sorted((models / f"{kind}_epochs").glob("epoch_*.weights.h5")):
        model = MultiDigitModel(config, kind)
        model.load_weights(path)
        yield int(path.name.split("_")[1].split(".")[0]), model


def canvas_error(predict, examples, scales, config) -> float:
    return float(report.sequence_wrong_by_scales(predict, examples, scales, config.crop_size,
                                                 desc="canvases")[-1].mean())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--png", type=pathlib.Path, required=True)
    parser.add_argument("--json", type=pathlib.Path, required=True)
    args = parser.parse_args(argv)
    family = presets.family("house_numbers")
    recipe = family.recipe("paper")
    models = args.run / "models"
    examples = tfrecords.full_images(args.run / "data" / "test.tfrecord", args.images)
    scales = recipe.scales
    coarse = training.load_model(models / "coarse.keras", family)
    config = coarse.config  # the run's own, which may differ from the preset's
    # The composed DCN of the run (dcn.keras, written by its report) says k, its attention
    # and its combination; without one, the family composes it as the report would.
    if (models / "dcn.keras").exists():
        composed = training.load_model(models / "dcn.keras", family)
    else:
        composed = family.compose(coarse, training.load_model(models / "fine.keras", family),
                                  recipe.num_patches, scales)
    k = report.paper_patches(composed.num_patches, len(scales))
    curves = {"valid_crops": {kind: dict(enumerate(history(models, kind), start=1))
                              for kind in ("coarse", "fine")},
              "test_canvases": {"coarse": {}, "dcn": {}}}
    for epoch, model in epoch_models(models, "coarse", config):
        error = canvas_error(report.graph_function(model.predict_sequence_probabilities,
                                                   model), examples, scales, config)
        curves["test_canvases"]["coarse"][epoch] = error
        print(f"coarse epoch {epoch}: {100 * error:.1f}% on {len(examples)} canvases")
    for epoch, model in epoch_models(models, "fine", config):
        dcn = MultiDigitDCN(coarse, model, k, scales, attention=composed.attention,
                            combination=composed.combination)
        error = float(report.dcn_wrong_by_scales(dcn, examples, scales,
                                                 desc="canvases")[-1].mean())
        curves["test_canvases"]["dcn"][epoch] = error
        print(f"DCN with fine epoch {epoch}: {100 * error:.1f}% on {len(examples)} canvases")
    result = {"run": str(args.run), "test_images": len(examples), "scales": list(scales),
              "dcn_patches": k * len(scales), "curves": curves}
    atomic.write_text(args.json, json.dumps(result, indent=2))
    plot(curves, len(examples), k * len(scales), len(scales), args.png)


def plot(curves: dict, images: int, patches: int, scales: int, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for kind, errors in curves["valid_crops"].items():
        left.plot(list(errors), [100 * e for e in errors.values()], "o-", label=kind)
    left.set(title="validation crops", xlabel="epoch", ylabel="sequence error (%)")
    labels = {"coarse": f"coarse model, {scales} scales",
              "dcn": f"DCN, {patches} patches, {scales} scales (fine model of that epoch)"}
    # A run that kept no epochs of a model has no curve.
    for kind, errors in curves["test_canvases"].items():
        if errors:
            right.plot(list(errors), [100 * e for e in errors.values()], "o-",
                       label=labels[kind])
    right.set(title=f"test canvases (first {images})", xlabel="epoch")
    for axes in (left, right):
        axes.grid(alpha=0.3)
        axes.legend()
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    with atomic.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    main()
