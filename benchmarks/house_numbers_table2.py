"""Table 2 on the test split of a `dcn house-numbers` folder whose models are trained, as its
report writes it (`multi_digit.report.compare`, the paper recipe's k, scales and timing), with
no all-patches row and without test_large: the step that wrote the recorded figures in
docs/house_numbers.md (880 s on 2 cores):

    .venv/bin/python benchmarks/house_numbers_table2.py runs/house
"""

import argparse
import pathlib
import time

from dcn_keras import measure, presets, training
from dcn_keras.data import manifest, sequence_inputs
from dcn_keras.multi_digit import report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    args = parser.parse_args()
    start = time.perf_counter()
    family = presets.family("svhn")
    recipe = family.recipe("paper")
    dcn = training.load_model(args.run / "models" / "dcn.keras", family)
    metadata = manifest.load(args.run / "data")
    examples = sequence_inputs.full_images(args.run / "data" / "test.tfrecord")
    out = report.compare(dcn, examples, f"test split of {family.data.describe(metadata)}",
                         measure.machine_description(), args.run / "report", recipe.largest,
                         recipe.scales)
    print(out["markdown"])
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
