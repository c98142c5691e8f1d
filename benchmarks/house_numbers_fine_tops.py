"""Why the fine model trails soft attention in Table 2: the fine model's sequence error on
the first test images of a `dcn house-numbers` folder at 1, 2, ... scales with the average
top of Table 2 (Eq. 11) and with the soft-attention top (Eq. 12-14), beside the coarse
model's soft-attention row, all side by side on the same images. Each row also gives the
error on the images whose digits each scale brings nearest to the training digit height
(`mnist_sequences.nearest_scale`), and per number length:

    .venv/bin/python benchmarks/house_numbers_fine_tops.py runs/house_cut --images 2000 \\
        --json docs/bench/house_numbers_fine_tops.json
"""

import argparse
import pathlib

from dcn_keras import measure, presets, training
from dcn_keras.data import sequence_inputs
from dcn_keras.multi_digit import report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    family = presets.family("svhn")
    scales = family.recipe("paper").scales
    coarse, fine = (training.load_model(args.run / "models" / f"{kind}.keras", family).folded()
                    for kind in family.model_kinds)
    examples = sequence_inputs.full_images(args.run / "data" / "test.tfrecord")[:args.images]
    groups = report.groups_of(examples, scales, family.config)
    models = {"Fine model, average top": (fine, "average"),
              "Fine model, soft-attention top": (fine, "soft_attention"),
              "Soft attention (coarse model)": (coarse, "soft_attention")}
    errors = {name: report.rows_by_top(model, top, examples, scales, groups, desc=name)
              for name, (model, top) in models.items()}
    measure.publish({"images": len(examples), "scales": list(scales), "errors": errors},
                    args.json)


if __name__ == "__main__":
    main()
