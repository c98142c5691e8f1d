"""Are a fine model's positions uniform on windows that hold no whole number, or only their
average? Each model reads the same `--windows` cut windows (`sequence_inputs.cut_windows`,
drawn from a run's `valid` crops) of both kinds: cut sideways only, and cut across the
number's rows or columns or both (`MultiDigitConfig.cut_rows`). For each model and kind
this prints how far from uniform
(`sequences.distance_to_uniform`, nats summed over the six softmaxes) the average of its
positions is, and the mean of its positions' own distances. A coarse model has one position
per window, so the two agree. Table 2's fine row averages a whole image's positions, most
of them off the number, so their own distances are what count there:

    .venv/bin/python benchmarks/house_numbers_cut_window_positions.py runs/house_cr \\
        runs/house_cr/models/fine.keras runs/house_ctl/models/fine.keras \\
        runs/house_pp/models/fine.keras --json docs/bench/house_numbers_cut_window_positions.json
"""

import argparse
import dataclasses
import pathlib

import numpy as np
import tensorflow as tf

from dcn_keras import measure, presets, training
from dcn_keras.data import sequence_inputs
from dcn_keras.multi_digit import sequences


def distances(model, images: tf.Tensor, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(`[n]` distance to uniform of each window's average, `[n]` mean of its positions')."""
    of_average, of_positions = [], []
    for start in range(0, images.shape[0], batch):
        maps = sequences.probabilities(model(images[start:start + batch]),
                                       model.config.max_length, model.config.digit_classes)
        of_average.append(sequences.distance_to_uniform(*sequences.average_pool(*maps)))
        of_positions.append(sequences.position_distance_to_uniform(*maps))
    return np.concatenate(of_average), np.concatenate(of_positions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=pathlib.Path, help="a `dcn house-numbers --out` folder")
    parser.add_argument("models", type=pathlib.Path, nargs="+", help=".keras files")
    parser.add_argument("--windows", type=int, default=512)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    family = presets.family("svhn")
    records = tf.data.TFRecordDataset([str(args.run / "data" / "valid.tfrecord")])
    kinds = {}
    for cut_rows in (False, True):
        config = dataclasses.replace(family.config, cut_rows=cut_rows)
        windows = sequence_inputs.cut_windows(records.shuffle(4096, seed=args.seed), config,
                                              seed=args.seed)
        kinds["cut rows" if cut_rows else "cut sideways"] = tf.concat(
            [image[None] for image, _ in windows.take(args.windows)], 0)
    results = {}
    for path in args.models:
        model = training.load_model(path, family).folded()
        results[str(path)] = {"part": model.part}
        for kind, images in kinds.items():
            of_average, of_positions = distances(model, images)
            results[str(path)][kind] = {
                "distance_of_the_average_mean": float(of_average.mean()),
                "distance_of_the_positions_mean": float(of_positions.mean()),
                "distance_of_the_positions_median": float(np.median(of_positions))}
            print(f"{path}: {model.part}, {kind}: average {of_average.mean():.2f} nats, "
                  f"positions {of_positions.mean():.2f} nats (median "
                  f"{np.median(of_positions):.2f})")
    measure.publish({"data": str(args.run / "data" / "valid.tfrecord"),
                     "windows_of_each_kind": args.windows, "seed": args.seed,
                     "models": results}, args.json)

if __name__ == "__main__":
    main()
