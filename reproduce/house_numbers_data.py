"""Sizes of the MNIST house numbers test images against the scales that read them.

For N generated images of each test split (test: SVHN-like canvases; test_large: large
cluttered canvases): canvas height and width, the number's height in pixels and
as a share of the canvas height, its digit height, and which of the paper's scales (1, 0.75,
0.5) brings that digit height closest to the training digit height
(`house_numbers.training_digit_heights`); and, for the test splits and the training crops,
the clutter outside the number's box, and how many digits the numbers have (against SVHN's
`house_numbers.SVHN_LENGTH_COUNTS`). Writes histograms (PNG) and summary statistics (JSON),
each atomically:

    .venv/bin/python reproduce/house_numbers_data.py --mnist-dir ../shared/data/mnist \\
        --png docs/images/house_numbers_test_distribution.png \\
        --json docs/bench/house_numbers_test_distribution.json

Digit height = number height x 28 / 32: a rendered number is 32 rows, a digit's box 28.
"""

import argparse
import pathlib
import sys
import time

import numpy as np

from dcn_keras import atomic, measure
from dcn_keras.data import house_numbers as hn
from dcn_keras.data import mnist

TEST_SPLITS = ("test", "test_large")
SMALL_HEIGHT = 200  # "small" canvases: at most this many rows
TOLERANCE = 0.1  # a digit within 10% of the training digit heights counts as read at size


def scale_mismatch(digit_height: float) -> float:
    """How far outside the training digit heights a digit lies at its nearest paper scale,
    as a ratio: 0 inside, 0.1 for 10% too small or too large."""
    low, high = hn.training_digit_heights()
    seen = digit_height * hn.nearest_scale(digit_height)
    return max(0.0, low / seen - 1, seen / high - 1)


def ink_outside_box(example: hn.SequenceExample) -> float:
    """Share of the pixels outside the number's box that hold ink (clutter)."""
    top, left, bottom, right = example.box
    outside = np.ones(example.image.shape, bool)
    outside[top:bottom, left:right] = False
    return float((example.image[outside] > 0).mean())


def split_statistics(pool: mnist.Digits, split: str, images: int,
                     seed: int) -> dict[str, np.ndarray]:
    """{quantity: `[images]` array} of the first `images` examples of `split`."""
    rows = []
    for index in range(images):
        example = hn.make_example(pool, split, seed, index)
        top, _, bottom, _ = example.box
        rows.append((*example.image.shape, bottom - top, hn.digit_height(example.box),
                     ink_outside_box(example), len(example.digits)))
    height, width, number, digit, ink, length = (np.array(column, float)
                                                 for column in zip(*rows))
    return {"height": height, "width": width, "number_height": number,
            "number_fraction": number / height, "digit_height": digit,
            "nearest_scale": np.array([hn.nearest_scale(d) for d in digit]),
            "mismatch": np.array([scale_mismatch(d) for d in digit]), "ink_outside": ink,
            "length": length}


def length_share(data: dict[str, np.ndarray]) -> dict[str, float]:
    """Share of the numbers with 1..5 digits."""
    return {str(n): round(float(np.mean(data["length"] == n)), 4)
            for n in range(1, hn.MAX_LENGTH + 1)}


def clutter(data: dict[str, np.ndarray]) -> dict[str, float]:
    """How much clutter lies outside the number's box."""
    return {"mean_ink_share_outside_box": round(float(data["ink_outside"].mean()), 4),
            "share_with_ink_outside_box": round(float(np.mean(data["ink_outside"] > 0)), 4)}


def _quantiles(values: np.ndarray) -> dict[str, float]:
    points = {"min": 0, "p10": 10, "p25": 25, "median": 50, "p75": 75, "p90": 90, "max": 100}
    return {name: round(float(np.percentile(values, q)), 3) for name, q in points.items()}


def summary(data: dict[str, np.ndarray]) -> dict:
    """Quantiles of each size, the largest 100 canvases, and how the scales cover the
    digit heights."""
    area = data["height"] * data["width"]
    largest = np.argsort(area)[-100:]
    sizes = sorted(zip(data["height"][largest].astype(int).tolist(),
                       data["width"][largest].astype(int).tolist()), key=lambda s: s[0] * s[1])
    return {
        "images": len(area),
        **{name: _quantiles(data[name]) for name in
           ("height", "width", "number_height", "number_fraction", "digit_height")},
        f"share_height_at_most_{SMALL_HEIGHT}": round(float(np.mean(data["height"]
                                                                    <= SMALL_HEIGHT)), 4),
        "largest_100": {"smallest": list(sizes[0]), "largest": list(sizes[-1])},
        "nearest_scale_share": {str(scale): round(float(np.mean(data["nearest_scale"] == scale)),
                                                  4) for scale in hn.PAPER_SCALES},
        "share_in_training_range_at_nearest_scale": round(float(np.mean(data["mismatch"] == 0)),
                                                          4),
        f"share_within_{int(100 * TOLERANCE)}pct_at_nearest_scale": round(
            float(np.mean(data["mismatch"] <= TOLERANCE)), 4),
        "largest_mismatch": round(float(data["mismatch"].max()), 4),
        "clutter": clutter(data),
        "length_share": length_share(data),
    }


def plot(results: dict[str, dict[str, np.ndarray]], path: pathlib.Path) -> None:
    """Histograms of each quantity, the splits overlaid, the scales' digit heights shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("height", "canvas height (pixels)"), ("width", "canvas width (pixels)"),
              ("number_height", "number height (pixels)"),
              ("number_fraction", "number height / canvas height"),
              ("digit_height", "digit height (pixels)")]
    colours = {"test": "tab:blue", "test_large": "tab:orange"}
    figure, axes = plt.subplots(2, 3, figsize=(15, 8))
    for axis, (name, label) in zip(axes.flat, panels):
        upper = max(values[name].max() for values in results.values())
        bins = np.linspace(0, upper, 41)
        for split, values in results.items():
            axis.hist(values[name], bins=bins, alpha=0.55, color=colours[split],
                      label=f"{split} ({len(values[name])})")
        axis.set_xlabel(label)
        axis.set_ylabel("images")
    digit_axis = axes.flat[4]
    for scale, (low, high) in zip(hn.PAPER_SCALES, hn.covered_digit_heights()):
        digit_axis.axvspan(low, high, color="tab:green", alpha=0.15)
        digit_axis.text((low + high) / 2, digit_axis.get_ylim()[1] * 0.95, f"x{scale}",
                        ha="center", va="top", fontsize=8)
    digit_axis.set_title("shaded: heights each scale brings to the training digit height",
                         fontsize=9)
    axes.flat[0].legend()
    bars = axes.flat[5]
    positions = np.arange(len(hn.PAPER_SCALES))
    for offset, (split, values) in zip((-0.2, 0.2), results.items()):
        shares = [np.mean(values["nearest_scale"] == scale) for scale in hn.PAPER_SCALES]
        bars.bar(positions + offset, shares, width=0.4, color=colours[split], label=split)
    bars.set_xticks(positions, [f"x{scale}" for scale in hn.PAPER_SCALES])
    bars.set_xlabel("scale bringing the digit closest to the training digit height")
    bars.set_ylabel("share of images")
    bars.legend()
    low, high = hn.training_digit_heights()
    figure.suptitle(f"MNIST house numbers test images (training digit height {low:.1f}-"
                    f"{high:.1f} pixels at 64 rows)")
    figure.tight_layout()
    with atomic.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=90)
    plt.close(figure)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist-dir", default=None, help="MNIST IDX files (default: tfds)")
    parser.add_argument("--images", type=int, default=2000, help="images per test split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--png", type=pathlib.Path, required=True)
    parser.add_argument("--json", type=pathlib.Path, required=True)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    pools = mnist.digit_pools(mnist.load(args.mnist_dir))
    results = {split: split_statistics(pools[hn.POOLS[split]], split, args.images, args.seed)
               for split in TEST_SPLITS}
    train = split_statistics(pools["train"], "train", args.images, args.seed)
    low, high = hn.training_digit_heights()
    report = {
        "command": " ".join(["reproduce/house_numbers_data.py",
                             *(sys.argv[1:] if argv is None else argv)]),
        "seed": args.seed,
        "scales": list(hn.PAPER_SCALES),
        "training_digit_height": [round(low, 2), round(high, 2)],
        "digit_heights_each_scale_covers": {
            str(scale): [round(a, 2), round(b, 2)]
            for scale, (a, b) in zip(hn.PAPER_SCALES, hn.covered_digit_heights())},
        "test_digit_height_range": list(hn.TEST_DIGIT_HEIGHT),
        "test_number_fraction_range": list(hn.TEST_NUMBER_FRACTION),
        "test_tail_share": hn.TEST_TAIL_SHARE,
        "splits": {split: summary(values) for split, values in results.items()},
        # Training crops at their own size (resized to 64 rows for training).
        "train_crops": {"images": args.images, "height": _quantiles(train["height"]),
                        "width": _quantiles(train["width"]),
                        "wider_than_1_to_2": round(float(np.mean(
                            train["width"] > 2 * train["height"])), 4),
                        "clutter": clutter(train), "length_share": length_share(train)},
        "svhn_length_share": {split: {str(n): round(count / sum(counts), 4)
                                      for n, count in enumerate(counts, start=1)}
                              for split, counts in hn.SVHN_LENGTH_COUNTS.items()},
    }
    plot(results, args.png)
    report["seconds"] = round(time.perf_counter() - start, 1)
    measure.publish(report, args.json)


if __name__ == "__main__":
    main()
