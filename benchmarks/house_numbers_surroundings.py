"""How much real surroundings the fine model's reading of a number takes before it breaks.

The fine layers pad with zeros and a fine position sees up to 50 pixels past its 54x110
training crop, where training showed it zeros; on a whole test image (Table 2's fine row)
it sees the image. This reads, for each of the first `--images` test images of a
`dcn house-numbers` folder, at the scale that fits its digits (`report.nearest_scales`),
the 54x110 window that holds the whole number (of the coarse windows that do, the one
centred nearest it): the fine model's Eq. 11 average over the window's own positions
(6 x 13), given 0, 8, 16, ... rows and columns of the image around the window (`MARGINS`;
zeros beyond the image), and over the same positions of the whole image, each with its
difference from margin 0 on the same images (paired). Margin 0 is how
the DCN reads a patch. The coarse model's one position on that window is read beside
them. Each fine model given is read the same way, so models trained with and without
surroundings compare side by side:

    .venv/bin/python benchmarks/house_numbers_surroundings.py runs/house \\
        runs/house/models/fine.keras --images 600 \\
        --png docs/images/house_numbers_surroundings.png \\
        --json docs/bench/house_numbers_surroundings.json
"""

import argparse
import json
import pathlib
import time

import numpy as np
import tensorflow as tf
import tqdm

from dcn_keras import atomic, measure, presets, training
from dcn_keras.core.layers import output_size
from dcn_keras.data import mnist_sequences, sequence_inputs
from dcn_keras.multi_digit import report, sequences
from dcn_keras.multi_digit.dcn import rescale

# (rows, columns) of surroundings, multiples of the fine stride (8) so that the window's
# positions line up with those of the window alone; 48 covers all but 2 pixels of a
# position's view past the crop.
MARGINS = ((0, 0), (8, 8), (16, 16), (16, 32), (32, 32), (48, 48))
WHOLE = "whole image"


def number_window(image_shape, box, scale: float, config):
    """(top, left) of the coarse window (`config.grid()`) of a `[1, H, W, C]` image read at
    `scale` that holds the whole of `box` and is centred nearest it; None where none holds
    it."""
    grid = config.grid()
    map_shape = config.map_size(*image_shape[1:3])
    holding = report.holding_positions(map_shape, box, scale, grid)
    if not holding.any():
        return None
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]) * scale
    positions = np.argwhere(holding)
    spots = positions * grid.stride + np.array(config.crop_size) / 2
    i, j = positions[np.argmin(np.sum((spots - centre) ** 2, axis=1))]
    return i * grid.stride[0], j * grid.stride[1]


def window_read(model, image: tf.Tensor, corner, margin) -> tuple[tf.Tensor, tf.Tensor]:
    """Eq. 11 over the positions of the crop-size window at `corner` (top, left) of
    `image` `[1, H, W, C]`, read by `model` on that window with `margin` (rows, columns)
    of the image around it (zeros beyond the image), or on the whole image (`margin` None)
    -> (length `[1, L]`, digits `[1, L, C]`)."""
    config, layers = model.config, model.config.fine_layers
    crop = config.crop_size
    if margin is None:
        view, offset = image, corner
    else:
        padded = tf.pad(image, [[0, 0], [margin[0]] * 2, [margin[1]] * 2, [0, 0]])
        view = padded[:, corner[0]:corner[0] + crop[0] + 2 * margin[0],
                      corner[1]:corner[1] + crop[1] + 2 * margin[1]]
        offset = margin
    starts = [output_size(layers, offset[axis], axis) for axis in (0, 1)]
    counts = [output_size(layers, crop[axis], axis) for axis in (0, 1)]
    logits = model(view)[:, starts[0]:starts[0] + counts[0], starts[1]:starts[1] + counts[1]]
    return sequences.average_pool(*sequences.probabilities(logits, config.max_length,
                                                           config.digit_classes))


def wrong(read, example) -> bool:
    length, digits = sequences.best_sequence(*read)
    return bool(sequences.sequence_errors(length, digits, tf.constant([example["length"]]),
                                          tf.constant(example["digits"][None]))[0])


def paired(points, zero) -> dict:
    """The difference from margin 0 on the same images (`measure.paired_difference`)."""
    difference, spread = measure.paired_difference(points, zero)
    return {"paired_difference_from_margin_0": difference,
            "paired_difference_standard_error": spread}


def label(margin) -> str:
    return margin if isinstance(margin, str) else "/".join(map(str, margin))


def plot(rows: dict, images: int, png: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label(margin) for margin in MARGINS] + [WHOLE]
    figure, axes = plt.subplots(figsize=(7.5, 4.2))
    for name, row in rows.items():
        if name.startswith("coarse"):
            axes.axhline(100 * row[0]["test_error"], color="grey", linestyle="--", label=name)
            continue
        error = np.array([100 * point["test_error"] for point in row])
        spread = np.array([100 * point["standard_error"] for point in row])
        axes.errorbar(range(len(labels)), error, yerr=spread, marker="o", capsize=3,
                      label=name)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_xlabel("real surroundings around the 54x110 window, rows / columns")
    axes.set_ylabel("sequence error, %")
    axes.set_title(f"The number's window read by the fine model ({images} test images)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    with atomic.atomic_path(png) as path:
        figure.savefig(path, format="png", dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder "
                        "(its data and coarse model)")
    parser.add_argument("fine", type=pathlib.Path, nargs="+", help="fine models (.keras)")
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--json", type=pathlib.Path, required=True)
    parser.add_argument("--png", type=pathlib.Path)
    args = parser.parse_args()
    start = time.perf_counter()
    family = presets.family("svhn")
    config = family.config
    coarse = training.load_model(args.run / "models" / "coarse.keras", family).folded()
    fines = {str(path): training.load_model(path, family).folded() for path in args.fine}
    examples = sequence_inputs.full_images(args.run / "data" / "test.tfrecord", args.images)
    scales = report.nearest_scales(examples, mnist_sequences.PAPER_SCALES)
    marks = {"coarse model, the window": [[]]}
    marks |= {name: [[] for _ in range(len(MARGINS) + 1)] for name in fines}
    read = 0
    for example, scale in tqdm.tqdm(list(zip(examples, scales)), unit="image"):
        image = tf.constant(example["image"][None])
        image, _ = rescale(image, tf.constant([image.shape[1:3]]), float(scale),
                           config.crop_size)
        corner = number_window(image.shape, example["box"], float(scale), config)
        if corner is None:
            continue
        read += 1
        window = image[:, corner[0]:corner[0] + config.crop_size[0],
                       corner[1]:corner[1] + config.crop_size[1]]
        marks["coarse model, the window"][0].append(wrong(sequences.average_pool(
            *sequences.probabilities(coarse(window), config.max_length,
                                     config.digit_classes)), example))
        for name, fine in fines.items():
            for k, margin in enumerate([*MARGINS, None]):
                marks[name][k].append(wrong(window_read(fine, image, corner, margin),
                                            example))
    rows = {name: [{"margin": list(margin) if margin else WHOLE,
                    "test_error": float(np.mean(points)),
                    "standard_error": measure.standard_error(float(np.mean(points)), read),
                    **paired(points, columns[0])}
                   for margin, points in zip([*MARGINS, None], columns)]
            for name, columns in marks.items()}
    rows["coarse model, the window"][0]["margin"] = [0, 0]
    result = {"images": len(examples), "images_with_a_holding_window": read,
              "machine": measure.machine_description(), "rows": rows}
    atomic.write_text(args.json, json.dumps(result, indent=1))
    if args.png:
        plot(rows, read, args.png)
    for name, row in rows.items():
        print(name + ": " + ", ".join(
            f"{label(point['margin'])} {100 * point['test_error']:.1f} ± "
            f"{100 * point['standard_error']:.1f}% "
            f"({100 * point['paired_difference_from_margin_0']:+.1f} ± "
            f"{100 * point['paired_difference_standard_error']:.1f})" for point in row))
    print(f"{read} of {len(examples)} images have a window holding the number; "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
