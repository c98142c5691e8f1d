"""Batch-1 inference times on the largest `test` images of a house-numbers run folder, each
model reading the paper recipe's scales as Table 2 reads them
(`house_numbers.report.timed_readings`): the coarse and fine models and soft attention, the
DCN as in the paper (entropy-gradient saliency, its backward pass included, and Eq. 12-14),
the extension (confidence picks, sequence vote) and the DCN as served. All are called side
by side in one process (`measure.time_per_input`), with the models as trained and with
their batch norms folded into the convolutions (as `family.compose` serves them):

    .venv/bin/python benchmarks/house_numbers_speed.py runs/house \\
        --json docs/bench/house_numbers_speed.json

The run folder holds data/test.tfrecord (`dcn data --dataset house_numbers`) and
models/{coarse,fine}.keras; `--fresh-weights` times freshly initialised models of the
preset instead: the work per image does not depend on the weights.
"""

import argparse
import pathlib

from dcn_keras import measure, presets, training
from dcn_keras.data import tfrecords
from dcn_keras.house_numbers import report
from dcn_keras.house_numbers.dcn import MultiDigitDCN
from dcn_keras.house_numbers.model import MultiDigitModel


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a house-numbers run folder")
    parser.add_argument("--largest", type=int, default=100)
    parser.add_argument("--fresh-weights", action="store_true",
                        help="time fresh models of the preset instead of the folder's")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args(argv)
    family = presets.family("house_numbers")
    recipe = family.recipe("paper")
    if args.fresh_weights:
        parts = [MultiDigitModel(family.config, kind) for kind in family.model_kinds]
    else:
        parts = [training.load_model(args.run / "models" / f"{kind}.keras", family)
                 for kind in family.model_kinds]
    models = {"as trained": MultiDigitDCN(*parts, recipe.num_patches, recipe.scales),
              "folded": family.compose(*parts, recipe.num_patches, recipe.scales)}
    examples = tfrecords.full_images(args.run / "data" / "test.tfrecord")
    big = sorted(examples, key=lambda e: e["image"].shape[0] * e["image"].shape[1])
    big = big[-args.largest:]
    readings = {variant: report.timed_readings(dcn, recipe.scales)
                for variant, dcn in models.items()}
    times = report.batch_one_times(
        {f"{name}, {variant}": function for variant, named in readings.items()
         for name, function in named.items()}, [e["image"] for e in big])
    mean, names = times["mean_ms"], list(readings["folded"])
    fine = next(name for name in names if name.startswith("Fine model"))
    dcns = [name for name in names if name.startswith(("DCN", report.SERVED_TIMED))]
    result = {"images": len(big), "weights": "fresh" if args.fresh_weights else "trained",
              "smallest": list(big[0]["image"].shape[:2]),
              "largest": list(big[-1]["image"].shape[:2]),
              "scales": list(recipe.scales), "num_patches": recipe.num_patches, **times,
              "fine_over_dcn": {variant: {name: mean[f"{fine}, {variant}"]
                                          / mean[f"{name}, {variant}"] for name in dcns}
                                for variant in models},
              "folded_over_as_trained": {name: mean[f"{name}, folded"]
                                         / mean[f"{name}, as trained"] for name in names}}
    measure.publish(result, args.json)


if __name__ == "__main__":
    main()
