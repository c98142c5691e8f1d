"""Why Table 2's average top (Eq. 11) loses on whole images: each model reads the
first `--images` test images of a `dcn house-numbers` folder at the scale that fits their
digits (`mnist_sequences.nearest_scale`), and its map positions are split into those whose
window holds the whole number and the others, which cut it above or below, beside, or
both, or hold background only (`report.position_kinds`). For each model: how many
positions hold the number, the error of the average over all positions (Eq. 11), over the
holding positions alone and over the others alone, and how far each kind of position is
from uniform (`sequences.distance_to_uniform`, what cut windows train towards). A coarse
position's window is the 54x110 window it sees (`MultiDigitConfig.grid`); a fine position
sees more, and its window here is the 54x110 crop centred on it (`fine_grid`), the crop in
whose middle it lies in training:

    .venv/bin/python benchmarks/house_numbers_average_top.py runs/house \\
        runs/house/models/coarse.keras runs/wrong_size/wrong_sizes_s0/coarse.keras \\
        --images 2000 --json docs/bench/house_numbers_average_top.json
"""

import argparse
import pathlib

import numpy as np
import tensorflow as tf
import tqdm

from dcn_keras import measure, presets, training
from dcn_keras.core.layers import receptive_field
from dcn_keras.core.patches import PatchGrid
from dcn_keras.data import mnist_sequences, sequence_inputs
from dcn_keras.multi_digit import report, sequences
from dcn_keras.multi_digit.dcn import rescale


def fine_grid(config) -> PatchGrid:
    """The 54x110 crop centred on each fine map position. The fine layers pad and pool by
    flooring, so a crop's positions (6 x 13) tile its top-left corner `stride` apart, each
    centred `stride / 2` into its tile."""
    stride, offset = [], []
    for axis, crop in enumerate(config.crop_size):
        step = receptive_field(config.fine_layers, axis)[1]
        stride.append(step)
        offset.append(crop // 2 - step // 2)
    return PatchGrid(tuple(stride), tuple(offset), config.crop_size)


def position_reads(model):
    """A graph function: one padded image `[1, H, W, C]` and its size `[1, 2]` -> (length
    `[P, L]`, digits `[P, L, C]`, distance to uniform `[P]`) of its P map positions in row
    order, and the map shape."""
    def reads(images, sizes):
        logits = model(images)
        shape = tf.shape(logits)[1:3]
        length, digits = sequences.probabilities(logits[0], model.config.max_length,
                                                 model.config.digit_classes)
        length = tf.reshape(length, [-1, model.config.max_length])
        digits = tf.reshape(digits, [-1, model.config.max_length, model.config.digit_classes])
        inside = tf.reshape(model.position_mask(sizes, shape)[0], [-1]) > 0
        return length, digits, sequences.distance_to_uniform(length, digits), inside, shape

    return report.graph_function(reads, model)


def read_right(length, digits, example) -> bool:
    """Whether the mean of predictions (length `[n, L]`, digits `[n, L, C]`) reads
    `example`'s number."""
    best = sequences.best_sequence(tf.reduce_mean(length, 0)[None],
                                   tf.reduce_mean(digits, 0)[None])
    return not bool(sequences.sequence_errors(*best, tf.constant([int(example["length"])]),
                                              tf.constant(example["digits"][None]))[0])


def by_kind(position_kinds, inside, distance) -> dict[str, tuple]:
    """{kind: (share of an image's positions, their mean distance to uniform or None)}."""
    result = {}
    for index, name in enumerate(report.POSITION_KINDS):
        mask = inside & (position_kinds == index)
        result[name] = (float(mask.sum() / inside.sum()),
                        float(distance[mask].mean()) if mask.any() else None)
    return result


def analyse(model, examples: list[dict], scales, desc: str) -> dict:
    reads = position_reads(model)
    grid = model.config.grid() if model.part == "coarse" else fine_grid(model.config)
    rows = []
    for example in tqdm.tqdm(examples, desc=desc, unit="image"):
        image, box = example["image"], example["box"]
        scale = mnist_sequences.nearest_scale(mnist_sequences.digit_height(box), scales)
        length, digits, distance, inside, shape = reads(
            *rescale(image[None], tf.constant([image.shape[:2]]), scale,
                     model.config.crop_size))
        inside, distance = inside.numpy(), distance.numpy()
        position_kinds = report.position_kinds(shape.numpy(), box, scale, grid).reshape(-1)
        holding, other = (position_kinds == 0) & inside, (position_kinds != 0) & inside
        kinds = {"all": inside, "holding": holding, "other": other}
        rows.append({
            "positions": int(inside.sum()), "holding": int(holding.sum()),
            **{f"{kind}_right": (read_right(tf.boolean_mask(length, mask),
                                            tf.boolean_mask(digits, mask), example)
                                 if mask.any() else None) for kind, mask in kinds.items()},
            **{f"{kind}_distance": (float(distance[kinds[kind]].mean())
                                    if kinds[kind].any() else None)
               for kind in ("holding", "other")},
            "kinds": by_kind(position_kinds, inside, distance)})
    return summary(rows)


def summary(rows: list[dict]) -> dict:
    def error(key, subset):
        marks = [not row[key] for row in subset if row[key] is not None]
        return {"test_error": float(np.mean(marks)), "images": len(marks),
                "standard_error": measure.standard_error(float(np.mean(marks)), len(marks))}

    held = [row for row in rows if row["holding"]]
    share = np.array([row["holding"] / row["positions"] for row in rows])
    return {
        "images": len(rows),
        "images_with_a_holding_position": len(held),
        "positions_median": float(np.median([row["positions"] for row in rows])),
        "holding_positions_median": float(np.median([row["holding"] for row in rows])),
        "holding_share_median": float(np.median(share)),
        "holding_share_mean": float(share.mean()),
        "average_all_positions": error("all_right", rows),
        "on_images_with_a_holding_position": {
            "average_all_positions": error("all_right", held),
            "average_holding_positions": error("holding_right", held),
            "average_other_positions": error("other_right", held)},
        "distance_to_uniform_mean": {
            kind: float(np.mean([row[f"{kind}_distance"] for row in rows
                                 if row[f"{kind}_distance"] is not None]))
            for kind in ("holding", "other")},
        "position_kinds": {
            name: {"share_mean": float(np.mean([row["kinds"][name][0] for row in rows])),
                   "distance_to_uniform_mean": float(np.mean(
                       [row["kinds"][name][1] for row in rows
                        if row["kinds"][name][1] is not None]))}
            for name in report.POSITION_KINDS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("models", type=pathlib.Path, nargs="+", help="coarse or fine .keras files")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    family = presets.family("svhn")
    scales = family.recipe("paper").scales
    examples = sequence_inputs.full_images(args.run / "data" / "test.tfrecord")[:args.images]
    results = {}
    for path in args.models:
        model = training.load_model(path, family)
        results[str(path)] = analyse(model.folded(), examples, scales, path.parent.name)
    measure.publish({"data": str(args.run / "data"), "scales": list(scales),
                     "results": results}, args.json)


if __name__ == "__main__":
    main()
