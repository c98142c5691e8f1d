"""Table 2 read two ways, side by side on the same models and test images: decoding each
prediction by Eq. 9's factors alone, as the library did before 2026-12-03, and by the
likelihood the models are trained on (`sequences.best_sequence`: Eq. 9 times
p(S_i = no digit) for every i after the length). The recorded figures in
docs/house_numbers.md came from:

    .venv/bin/python benchmarks/house_numbers_decoding.py runs/house_cr --images 600 \\
        --json docs/bench/house_numbers_decoding_cut_rows.json
"""

import argparse
import json
import pathlib
import time
from unittest import mock

import tensorflow as tf

from dcn_keras import atomic, measure, presets, training
from dcn_keras.data import manifest, sequence_inputs
from dcn_keras.multi_digit import report, sequences

best_sequence = sequences.best_sequence


def equation_9_sequence(length, digits):
    """`best_sequence` without the "no digit" factors: with p(S_i = no digit) set to 1,
    each factor's log is 0."""
    return best_sequence(length, tf.concat([digits[..., :sequences.NO_DIGIT],
                                            tf.ones_like(digits[..., sequences.NO_DIGIT:])],
                                           -1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("--images", type=int, default=600, help="the first N test images")
    parser.add_argument("--json", type=pathlib.Path, required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    family = presets.family("svhn")
    recipe = family.recipe("paper")
    dcn = family.compose(*(training.load_model(args.run / "models" / f"{kind}.keras", family)
                           for kind in family.model_kinds),
                         recipe.num_patches, recipe.scales)
    examples = sequence_inputs.full_images(args.run / "data" / "test.tfrecord", args.images)
    rows = {}
    # Every caller looks the decoder up in `sequences` when it runs: the sequence vote of the
    # DCN's picks, and the reading of each row's merged prediction.
    for name, decoder in (("equation_9", equation_9_sequence),
                          ("trained_likelihood", best_sequence)):
        with mock.patch.object(sequences, "best_sequence", decoder):
            rows[name] = report.table_2_rows(dcn, examples, recipe.scales)
    result = {"data": f"first {len(examples)} test images of "
                      f"{family.data.describe(manifest.load(args.run / 'data'))}",
              "machine": measure.machine_description(), "scales": list(recipe.scales),
              "rows": rows}
    atomic.write_text(args.json, json.dumps(result, indent=1))
    print(f"| Model | Eq. 9 alone | trained likelihood | ({len(examples)} images, "
          "sequence error +- standard error) |\n|---|---:|---:|")
    for old, new in zip(rows["equation_9"], rows["trained_likelihood"]):
        print(f"| {old['model']} | {100 * old['test_error']:.1f} ± "
              f"{100 * old['standard_error']:.1f}% | {100 * new['test_error']:.1f} ± "
              f"{100 * new['standard_error']:.1f}% |")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
