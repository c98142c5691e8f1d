"""Table 2 on one test split of a `dcn house-numbers` folder whose models are trained, as its
report writes it (`multi_digit.report.compare`: the paper recipe's k, scales and timing, the
DCN composed by the family, batch norms folded). Killed, it resumes when rerun with the same
arguments: the marks read so far wait in OUT/.progress. The steps that wrote the recorded
figures in docs/house_numbers.md:

    .venv/bin/python benchmarks/house_numbers_table2.py runs/house_cut --all-patches 200 \\
        --out runs/house_cut/report_folded
    .venv/bin/python benchmarks/house_numbers_table2.py runs/house_cut --split test_large \\
        --out runs/house_cut/report_folded/test_large
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
    parser.add_argument("--split", default="test", choices=("test", "test_large"),
                        help="test_large: the harder split of large canvases")
    parser.add_argument("--all-patches", type=int, metavar="N",
                        help="the all-patches row on the first N test images (about 500 "
                             "crops per image at 3 scales; default: the recipe's 2,000 on "
                             "test, none on test_large, as `dcn house-numbers` does)")
    parser.add_argument("--images", type=int, metavar="N",
                        help="only the first N images of the split (default: all)")
    parser.add_argument("--out", type=pathlib.Path,
                        help="where the report goes (default: RUN/report)")
    args = parser.parse_args()
    start = time.perf_counter()
    family = presets.family("svhn")
    recipe = family.recipe("paper")
    models = args.run / "models"
    dcn = family.compose(*(training.load_model(models / f"{kind}.keras", family)
                           for kind in family.model_kinds),
                         recipe.num_patches, recipe.scales)
    metadata = manifest.load(args.run / "data")
    examples = sequence_inputs.full_images(args.run / "data" / f"{args.split}.tfrecord",
                                           args.images)
    all_patches = args.all_patches
    if all_patches is None:
        all_patches = recipe.all_patches_images if args.split == "test" else 0
    all_patches = min(all_patches, len(examples))
    first = f"the first {len(examples)} images of the " if args.images else ""
    out = report.compare(dcn, examples,
                         f"{first}{args.split} split of {family.data.describe(metadata)}",
                         measure.machine_description(), args.out or args.run / "report",
                         recipe.largest, recipe.scales, all_patches)
    print(out["markdown"])
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
