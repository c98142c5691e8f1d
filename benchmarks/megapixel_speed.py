"""Inference time and memory of the Megapixel MNIST models against the image side, batch 1,
any weights: the low-resolution CNN (image downscaled first), the full-resolution CNN and
the DCN (saliency included). Times are medians of the three called side by side in one
process; the memory inference adds is measured for each model in a fresh process; a
training step of each is timed at `--train-sides`.

    .venv/bin/python benchmarks/megapixel_speed.py --sides 500 1000 1500 2000 3000 \\
        --json docs/bench/megapixel_speed.json --png docs/images/megapixel_speed.png
"""

import argparse
import json
import pathlib

from dcn_keras import atomic, visualize
from dcn_keras.megapixel_mnist import config, speed

TRAINING_IMAGES = 5000  # the training split of the published recipe


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", type=int, nargs="*", default=[500, 1000, 1500, 2000, 3000],
                        help="inference at these sides (none: training steps only)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per model (median)")
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="times only (no fresh process per model and side)")
    parser.add_argument("--train-sides", type=int, nargs="*", default=[1500],
                        help="also time a training step of each model at these sides")
    parser.add_argument("--train-batch", type=int, default=4, help="images per training step")
    parser.add_argument("--json", type=pathlib.Path, help="write the result here")
    parser.add_argument("--png", type=pathlib.Path, help="plot time and memory here")
    args = parser.parse_args(argv)
    result = speed.scaling(args.sides, repeats=args.repeats, memory=args.memory)
    result["training"] = [
        {"side": side, "batch_size": args.train_batch,
         "ms_per_image": (step := speed.training_step_ms(config.megapixel_mnist().resized(side),
                                                         batch_size=args.train_batch)),
         "epoch_minutes": {kind: ms * TRAINING_IMAGES / 6e4 for kind, ms in step.items()}}
        for side in args.train_sides]
    for row in result["training"]:
        print(f"side {row['side']}: training, minutes per epoch of {TRAINING_IMAGES} images: "
              + ", ".join(f"{kind} {minutes:.0f}" for kind, minutes
                          in row["epoch_minutes"].items()))
    for side, ratio in result["full_resolution_over_dcn"].items():
        print(f"side {side}: full-resolution CNN / DCN " + ", ".join(
            f"{key} {value:.1f}x" for key, value in ratio.items()))
    if args.json:
        atomic.write_text(args.json, json.dumps(result, indent=2) + "\n")
    if args.png:
        visualize.plot_scaling(result["rows"], speed.TITLES, args.png)


if __name__ == "__main__":
    main()
