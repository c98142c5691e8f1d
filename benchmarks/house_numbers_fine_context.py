"""Why Table 2's fine row loses: what the fine model's positions see around their window.

The fine layers pad with zeros and each position sees 108x108 pixels, twice a 54x110
training crop's height, so in training everything beyond the crop is zero. On a whole test
image (Table 2's fine row, Eq. 11) it is the image. This reads the fine model's Eq. 11
average, at scale 1, on the `test` images whose digits scale 1 fits, three ways: on the
whole image; over its own 54x110 windows (every one inside the image at the coarse
stride, zero padded as in training); and over the same windows given 16 rows and 32
columns of the image around them, averaging only the positions of the window. The coarse
model's average (no padding: a position sees its window only) is read beside them. The
recorded figures in docs/house_numbers.md came from:

    .venv/bin/python benchmarks/house_numbers_fine_context.py runs/house_cr --images 150 \\
        --json docs/bench/house_numbers_fine_context_cut_rows.json
"""

import argparse
import json
import pathlib
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from dcn_keras import atomic, measure, presets, training
from dcn_keras.core.layers import receptive_field
from dcn_keras.data import mnist_sequences, sequence_inputs
from dcn_keras.multi_digit import report, sequences

CONTEXT = (16, 32)  # rows and columns around a window: 2 and 4 fine positions


def windows(image: tf.Tensor, size, stride) -> tf.Tensor:
    """`[n, size, C]` every window of `image` `[1, H, W, C]` at `stride`, row by row."""
    patches = tf.image.extract_patches(image, [1, *size, 1], [1, *stride, 1], [1, 1, 1, 1],
                                       "VALID")
    return tf.reshape(patches, [-1, *size, image.shape[-1]])


def average(model, images: tf.Tensor, rows=slice(None), columns=slice(None), batch=64):
    """Eq. 11 over the `rows` x `columns` positions of each of `images`, then over
    `images`: (length `[L]`, digits `[L, C]`)."""
    lengths, digits = [], []
    for start in range(0, images.shape[0], batch):
        length, digit = sequences.probabilities(model(images[start:start + batch]),
                                                model.config.max_length,
                                                model.config.digit_classes)
        lengths.append(tf.reduce_mean(length[:, rows, columns], [1, 2]))
        digits.append(tf.reduce_mean(digit[:, rows, columns], [1, 2]))
    return tf.reduce_mean(tf.concat(lengths, 0), 0), tf.reduce_mean(tf.concat(digits, 0), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("--images", type=int, default=150,
                        help="the first N test images whose digits scale 1 fits")
    parser.add_argument("--json", type=pathlib.Path, required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    family = presets.family("svhn")
    config = family.config
    coarse, fine = (training.load_model(args.run / "models" / f"{kind}.keras", family).folded()
                    for kind in family.model_kinds)
    examples = sequence_inputs.full_images(args.run / "data" / "test.tfrecord")
    fits = report.nearest_scales(examples, mnist_sequences.PAPER_SCALES) == 1.0
    examples = [e for e, fit in zip(examples, fits) if fit][:args.images]
    crop, stride = config.crop_size, config.stride()
    # A window's fine positions inside a window with CONTEXT around it.
    window_map = fine(tf.zeros([1, *crop, config.channels])).shape[1:3]
    first = [extra // receptive_field(config.fine_layers, axis)[1]
             for axis, extra in enumerate(CONTEXT)]
    rows = slice(first[0], first[0] + window_map[0])
    columns = slice(first[1], first[1] + window_map[1])
    wrong = {"coarse model, whole image": [], "fine model, whole image": [],
             "fine model, its 54x110 windows zero padded": [],
             "fine model, its windows with 16 rows and 32 columns around": []}
    for example in tqdm(examples, unit="image"):
        image = example["image"]
        height, width = image.shape[:2]
        image = tf.constant(np.pad(image, [[0, max(0, crop[0] - height)],
                                           [0, max(0, crop[1] - width)], [0, 0]])[None])
        around = tf.pad(image, [[0, 0], [CONTEXT[0]] * 2, [CONTEXT[1]] * 2, [0, 0]])
        reads = [average(coarse, image), average(fine, image),
                 average(fine, windows(image, crop, stride)),
                 average(fine, windows(around, (crop[0] + 2 * CONTEXT[0],
                                                crop[1] + 2 * CONTEXT[1]), stride),
                         rows, columns)]
        for name, (length, digits) in zip(wrong, reads):
            n, read = sequences.best_sequence(length[None], digits[None])
            wrong[name].append(bool(sequences.sequence_errors(
                n, read, tf.constant([example["length"]]),
                tf.constant(example["digits"][None]))[0]))
    rows_out = {name: {"test_error": float(np.mean(marks)),
                       "standard_error": measure.standard_error(float(np.mean(marks)),
                                                                len(marks))}
                for name, marks in wrong.items()}
    atomic.write_text(args.json, json.dumps(
        {"images": len(examples), "scale": 1.0, "machine": measure.machine_description(),
         "rows": rows_out}, indent=1))
    for name, row in rows_out.items():
        print(f"{name}: {100 * row['test_error']:.1f} ± {100 * row['standard_error']:.1f}%")
    print(f"{len(examples)} images, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
