"""What Table 2's all-patches row costs, and what its batching saves: the DCN with every
patch at 3 scales on the first `--images` test images, its crops read by the fine model
in equal calls of at most 256 (`MultiDigitDCN.read_patches`) and, side by side in one
process, padded with blank crops to a multiple of 256 (how they were read before the
sixteenth session). Image by image, the two alternate; medians and totals, and the
largest difference between their probabilities. Untrained models cost what trained ones
do; trained ones come from a run folder with `--run-models`:

    .venv/bin/python benchmarks/house_numbers_all_patches_batching.py runs/house_pipe \\
        --images 12 --json docs/bench/house_numbers_all_patches_batching.json
"""

import argparse
import json
import pathlib
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from dcn_keras import atomic, measure, presets, training
from dcn_keras.data import sequence_inputs
from dcn_keras.multi_digit import dcn as multi_digit_dcn
from dcn_keras.multi_digit import report
from dcn_keras.multi_digit.model import MultiDigitModel


class PaddedDCN(multi_digit_dcn.MultiDigitDCN):
    """The reading before: every scale's crops padded to a multiple of `patch_batch`."""

    def read_patches(self, crops):
        config, size = self.config, self.patch_batch
        count = tf.shape(crops)[0]
        padded = tf.pad(crops, [[0, (size - count % size) % size], [0, 0], [0, 0], [0, 0]])
        length, digits = tf.map_fn(
            self.fine.predict_sequence_probabilities,
            tf.reshape(padded, [-1, size, *config.crop_size, config.channels]),
            fn_output_signature=(tf.float32, tf.float32), parallel_iterations=1)
        return (tf.reshape(length, [-1, config.max_length])[:count],
                tf.reshape(digits, [-1, config.max_length, config.digit_classes])[:count])


def reader(dcn):
    """One image `[1, H, W, C]` -> (seconds, digits `[1, L, C]`) of `dcn` at its scales."""
    picks = report.graph_function(dcn.picks_one_scale, dcn.coarse)

    def read(image):
        start = time.perf_counter()
        seen = [picks(*multi_digit_dcn.rescale(image, multi_digit_dcn.batch_sizes(image),
                                               scale, dcn.config.crop_size))
                for scale in dcn.scales]
        digits = dcn.merge_scales(seen)[1].numpy()
        return time.perf_counter() - start, digits

    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a folder with data/test.tfrecord")
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--run-models", action="store_true",
                        help="read the run's models/{coarse,fine}.keras, not untrained ones")
    parser.add_argument("--json", type=pathlib.Path, required=True)
    args = parser.parse_args()
    family = presets.family("svhn")
    config = family.config
    if args.run_models:
        coarse, fine = (training.load_model(args.run / "models" / f"{kind}.keras", family)
                        .folded() for kind in family.model_kinds)
    else:
        keras.utils.set_random_seed(0)
        coarse, fine = MultiDigitModel(config, "coarse"), MultiDigitModel(config, "fine")
    examples = sequence_inputs.full_images(args.run / "data" / "test.tfrecord", args.images)
    kinds = {name: reader(kind(coarse, fine, report.ALL_PATCHES, config.scales,
                               patch_batch=report.ALL_PATCHES_BATCH))
             for name, kind in (("equal calls", multi_digit_dcn.MultiDigitDCN),
                                ("padded to a multiple of 256", PaddedDCN))}
    first = tf.constant(examples[0]["image"][None])
    for read in kinds.values():
        read(first)  # traces
    times = {name: [] for name in kinds}
    difference = 0.0
    for example in examples:
        image = tf.constant(example["image"][None])
        digits = []
        for name, read in kinds.items():
            seconds, read_digits = read(image)
            times[name].append(seconds)
            digits.append(read_digits)
        difference = max(difference, float(np.abs(digits[0] - digits[1]).max()))
    rows = {name: {"median_seconds": statistics.median(values),
                   "total_seconds": sum(values)} for name, values in times.items()}
    result = {"images": len(examples), "scales": list(config.scales),
              "trained": args.run_models, "machine": measure.machine_description(),
              "rows": rows, "max_abs_difference": difference,
              "ratio_of_totals": rows["padded to a multiple of 256"]["total_seconds"]
              / rows["equal calls"]["total_seconds"]}
    atomic.write_text(args.json, json.dumps(result, indent=1))
    for name, row in rows.items():
        print(f"{name}: median {row['median_seconds']:.2f} s an image, total "
              f"{row['total_seconds']:.1f} s")
    print(f"padded / equal calls: {result['ratio_of_totals']:.2f}x; largest difference "
          f"{difference:.1e}")


if __name__ == "__main__":
    main()
