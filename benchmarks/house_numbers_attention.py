"""Where the multi-digit DCN looks and how it combines what it reads, on the first test
images of a `dcn house-numbers` folder: for each attention (`dcn.ATTENTION`, and random
picks as a reference) the share of images where a pick's 54x110 window holds the whole
number (within 2 pixels) at the scale that brings its digits nearest to the training
height; how often the fine model reads the number from the window nearest its centre at
that scale, and from at least one of the picks at 3 scales; and the sequence error at 3
scales with 3 patches per scale of each attention and combination (`dcn.COMBINATION`):

    .venv/bin/python benchmarks/house_numbers_attention.py runs/house --images 500 \
        --json docs/bench/house_numbers_attention_recorded.json
"""

import argparse
import itertools
import math
import pathlib

import numpy as np
import tensorflow as tf
import tqdm

from dcn_keras import measure, presets, training
from dcn_keras.core import patches, saliency
from dcn_keras.data import mnist_sequences, sequence_inputs
from dcn_keras.multi_digit import report, sequences
from dcn_keras.multi_digit.dcn import ATTENTION, COMBINATION, MultiDigitDCN, rescale

SLACK = 2  # pixels a "holding" window may cut off the number's box


def holds_number(positions, valid, box, scale, grid) -> bool:
    """Whether one of `positions` `[k, 2]` (where `valid`) has a crop that holds `box`
    (top, left, bottom, right in input pixels) read at `scale`."""
    positions = np.asarray(positions, int)[np.asarray(valid) > 0]
    if not len(positions):
        return False
    holding = report.holding_positions(positions.max(0) + 1, box, scale, grid, SLACK)
    return bool(holding[positions[:, 0], positions[:, 1]].any())


def reads_right(length, digits, example) -> np.ndarray:
    """`[n]` bool: which of n predictions (length `[n, L]`, digits `[n, L, C]`) read
    `example`'s number."""
    n = int(length.shape[0])
    return ~sequences.sequence_errors(
        *sequences.best_sequence(length, digits), tf.fill([n], int(example["length"])),
        tf.tile(tf.constant(example["digits"][None]), [n, 1])).numpy()


def centred_window(image_size, box, scale, grid) -> list[int]:
    """The map position whose window's centre is nearest `box`'s centre at `scale`."""
    (stride_h, stride_w), (height, width) = grid.stride, grid.size
    rows = max(1, (round(image_size[0] * scale) - height) // stride_h + 1)
    columns = max(1, (round(image_size[1] * scale) - width) // stride_w + 1)
    row = round(((box[0] + box[2]) / 2 * scale - height / 2) / stride_h)
    column = round(((box[1] + box[3]) / 2 * scale - width / 2) / stride_w)
    return [min(max(row, 0), rows - 1), min(max(column, 0), columns - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--patches", type=int, default=3, help="k per scale")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    family = presets.family("svhn")
    scales = family.recipe("paper").scales
    composed = training.load_model(args.run / "models" / "dcn.keras", family)
    coarse, fine, config = composed.coarse, composed.fine, composed.config
    grid = config.grid()
    examples = sequence_inputs.full_images(args.run / "data" / "test.tfrecord", args.images)
    rng = np.random.default_rng(0)
    maps = {attention: MultiDigitDCN(coarse, fine, args.patches, scales, attention=attention)
            for attention in ATTENTION}
    pick_functions = {attention: report.graph_function(dcn.picks_one_scale, coarse)
                      for attention, dcn in maps.items()}
    held = {name: [] for name in (*ATTENTION, "random")}
    centred, any_pick = [], {attention: [] for attention in ATTENTION}
    for example in tqdm.tqdm(examples, desc="windows", unit="image"):
        image, box = example["image"], example["box"]
        scale = mnist_sequences.nearest_scale(mnist_sequences.digit_height(box), scales)
        images, sizes = rescale(image[None], tf.constant([image.shape[:2]]), scale,
                                config.crop_size)
        for attention, dcn in maps.items():
            values, mask = (dcn.saliency if attention == "entropy_gradient"
                            else dcn.confidence)(images, sizes)
            k = min(args.patches, int(np.prod(values.shape[1:])))  # as `attend` caps it
            positions, valid = saliency.top_k_positions(values, k, mask)
            held[attention].append(holds_number(positions[0].numpy(), valid[0].numpy(), box,
                                                scale, grid))
        crop = patches.cut_patches(images, tf.constant([[centred_window(
            image.shape[:2], box, scale, grid)]]), grid)[0]
        centred.append(bool(reads_right(*fine.predict_sequence_probabilities(crop),
                                        example)[0]))
        for attention, picks in pick_functions.items():
            reads = [picks(*rescale(image[None], tf.constant([image.shape[:2]]), s,
                                    config.crop_size)) for s in scales]
            any_pick[attention].append(bool(any(
                (reads_right(length[0], digits[0], example) & (valid[0].numpy() > 0)).any()
                for length, digits, valid in reads)))
        inside = np.argwhere(mask[0].numpy() > 0)
        picks = inside[rng.choice(len(inside), min(args.patches, len(inside)), replace=False)]
        held["random"].append(holds_number(picks, [1] * len(picks), box, scale, grid))
    errors = {}
    for attention, combination in itertools.product(ATTENTION, COMBINATION):
        dcn = MultiDigitDCN(coarse, fine, args.patches, scales, attention=attention,
                            combination=combination)
        wrong = report.dcn_wrong_by_scales(dcn, examples, scales,
                                           desc=f"{attention}, {combination}")[-1]
        errors[f"{attention}, {combination}"] = {
            "test_error": float(wrong.mean()),
            "standard_error": measure.standard_error(float(wrong.mean()), len(wrong))}
    result = {"run": str(args.run), "test_images": len(examples), "patches_per_scale":
              args.patches, "scales": list(scales),
              "window_holds_number_at_nearest_scale": {
                  name: float(np.mean(marks)) for name, marks in held.items()},
              "window_holds_number_standard_error": {
                  name: math.sqrt(np.mean(marks) * (1 - np.mean(marks)) / len(marks))
                  for name, marks in held.items()},
              "fine_reads_centred_window": float(np.mean(centred)),
              "some_pick_read_right_3_scales": {
                  name: float(np.mean(marks)) for name, marks in any_pick.items()},
              "sequence_error_3_scales": errors}
    measure.publish(result, args.json)


if __name__ == "__main__":
    main()
