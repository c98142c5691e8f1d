"""Batch-1 inference times on the largest test images of a `dcn house-numbers` folder, with
the models as trained and with their batch norms folded into the convolutions (as
`family.compose` runs them), side by side in one process (`measure.time_per_input`): the
coarse model, the fine model, the DCN (the paper recipe's k, one scale) and the fine model
reading the DCN's k crops alone (a call of its own: the DCN's cost is about the coarse
model's plus that read, a little less in one graph):

    .venv/bin/python benchmarks/house_numbers_speed.py runs/house \\
        --json docs/bench/house_numbers_speed.json
"""

import argparse
import pathlib
import statistics

import tensorflow as tf

from dcn_keras import measure, presets, training
from dcn_keras.data import tfrecords
from dcn_keras.house_numbers import report
from dcn_keras.house_numbers.dcn import MultiDigitDCN


def timed(dcn: MultiDigitDCN) -> dict:
    """{name: function (image, size, crops)} of `dcn`'s coarse and fine models, the DCN at
    one scale and the fine model on the DCN's crops."""
    crops = tf.function(dcn.read_patches)
    return {"coarse": report.graph_function(dcn.coarse.predict_sequence_probabilities,
                                            dcn.coarse),
            "fine": report.graph_function(dcn.fine.predict_sequence_probabilities, dcn.coarse),
            "dcn": report.graph_function(dcn.predict_one_scale, dcn.coarse),
            "crops": crops}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("--largest", type=int, default=100)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args(argv)
    family = presets.family("house_numbers")
    recipe = family.recipe("paper")
    parts = [training.load_model(args.run / "models" / f"{kind}.keras", family)
             for kind in family.model_kinds]
    models = {"as trained": MultiDigitDCN(*parts, recipe.num_patches),
              "folded": family.compose(*parts, recipe.num_patches)}
    examples = tfrecords.full_images(args.run / "data" / "test.tfrecord")
    big = sorted(examples, key=lambda e: e["image"].shape[0] * e["image"].shape[1])
    big = big[-args.largest:]
    inputs = []
    for example in big:
        image = tf.constant(example["image"][None])
        size = tf.constant([example["image"].shape[:2]], tf.int32)
        picks = models["folded"].attend(image, size)["positions"]
        crops = tf.reshape(models["folded"].cut_patches(image, picks),
                           [-1, *family.config.crop_size, family.config.channels])
        inputs.append((image, size, crops))
    functions = {}
    for variant, dcn in models.items():
        for name, function in timed(dcn).items():
            functions[f"{name}, {variant}"] = (
                (lambda i, s, c, f=function: f(c)) if name == "crops"
                else (lambda i, s, c, f=function: f(i, s)))
    times = measure.time_per_input(functions, inputs)
    mean = {name: 1e3 * statistics.fmean(values) for name, values in times.items()}
    result = {"images": len(big),
              "smallest": list(big[0]["image"].shape[:2]),
              "largest": list(big[-1]["image"].shape[:2]),
              "num_patches": recipe.num_patches, "mean_ms": mean,
              "median_ms": measure.medians_ms(times),
              "fine_over_dcn": {variant: mean[f"fine, {variant}"] / mean[f"dcn, {variant}"]
                                for variant in models},
              "fine_over_coarse_plus_crops": {
                  variant: mean[f"fine, {variant}"]
                  / (mean[f"coarse, {variant}"] + mean[f"crops, {variant}"])
                  for variant in models}}
    measure.publish(result, args.json)


if __name__ == "__main__":
    main()
