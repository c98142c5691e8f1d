"""Table 2 on one test split of a `dcn house-numbers` folder whose models are trained, as its
report writes it (`house_numbers.report.compare`: the paper recipe's k, scales and timing, the
DCN composed by the family, batch norms folded), with a choice of split, of how many images
and of how many of them the fine network on every window reads. Killed, it resumes when rerun
with the same arguments: the marks read so far wait in OUT/.progress.

    .venv/bin/python reproduce/house_numbers_table2.py runs/house --out runs/house/report
    .venv/bin/python reproduce/house_numbers_table2.py runs/house --split test_large \\
        --out runs/house/report/test_large
"""

import argparse
import pathlib
import time

from dcn_keras import measure, presets, training
from dcn_keras.data import manifest, tfrecords
from dcn_keras.house_numbers import report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("--split", default="test", choices=("test", "test_large"),
                        help="test_large: the harder split of large canvases")
    parser.add_argument("--all-patches", type=int, metavar="N",
                        help="the every-window rows on the first N test images (about 500 "
                             "crops per image at 3 scales; default: the recipe's 2,000 on "
                             "test, none on test_large, as `dcn house-numbers` does)")
    parser.add_argument("--images", type=int, metavar="N",
                        help="only the first N images of the split (default: all)")
    parser.add_argument("--out", type=pathlib.Path,
                        help="where the report goes (default: RUN/report)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    family = presets.family("house_numbers")
    recipe = family.recipe("paper")
    models = args.run / "models"
    dcn = family.compose(*(training.load_model(models / f"{kind}.keras", family)
                           for kind in family.model_kinds),
                         recipe.num_patches, recipe.scales)
    metadata = manifest.load(args.run / "data")
    examples = tfrecords.full_images(args.run / "data" / f"{args.split}.tfrecord",
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
