"""A composed Cluttered MNIST DCN that hands its least confident images to the fine model.

For each seed of a study (benchmarks/cluttered_mnist_seeds.py), the composed DCN
(`<study>/models/composed_s<seed>.keras`, no retraining) reads every test canvas with k
patches; a canvas whose top class probability is under a threshold tau is read again by the
fine model (`fine_s<seed>.keras`), which is the DCN's own fine and top layers run on every
position. tau is set on the validation split so that a given share q of the validation
canvases is handed over, then applied unchanged to the test split. Multiplications are the
test-set average: the DCN's at k, plus the fine model's on the handed-over share.

    .venv/bin/python benchmarks/cluttered_mnist_cascade.py runs/study
"""

import argparse
import json
import pathlib
import statistics

import numpy as np
import tensorflow as tf

from dcn_keras import atomic, measure, presets, training
from dcn_keras.cluttered_mnist import flops

SEEDS = (0, 1, 2)


def _probabilities(model, dataset, k=None):
    predict = tf.function(lambda images: model(images, training=False)) if k is None else \
        tf.function(lambda images: model.predict_with_patches(images, k))
    probabilities, labels = [], []
    for images, batch_labels in dataset:
        probabilities.append(predict(images).numpy())
        labels.append(batch_labels.numpy())
    return np.concatenate(probabilities), np.concatenate(labels)


def seed_rows(family, study, seed, model_name, ks, shares) -> dict:
    """{"fine", "dcn k=..", "k=.. q=..": {test_error, standard_error, handed_over,
    multiplications_relative}} for one seed."""
    models = study / "models"
    fine = training.load_model(models / f"fine_s{seed}.keras", family)
    dcn = training.load_model(models / model_name.format(seed=seed), family)
    valid = family.test_dataset(study / "data" / "valid.tfrecord", 100)
    test = family.test_dataset(study / "data" / "test.tfrecord", 100)
    fine_total = flops.count(family.config)["fine_model"]["total"]
    fine_test, labels = _probabilities(fine, test)
    count = len(labels)
    fine_error = float(np.mean(fine_test.argmax(1) != labels))
    rows = {"fine": {"test_error": fine_error,
                     "standard_error": measure.standard_error(fine_error, count),
                     "handed_over": 1.0, "multiplications_relative": 1.0}}
    for k in ks:
        dcn_valid, _ = _probabilities(dcn, valid, k)
        dcn_test, _ = _probabilities(dcn, test, k)
        own = flops.count(dcn.config, k, bridge=dcn.bridge)["dcn"]["total"] / fine_total
        for share in (0.0, *shares):
            threshold = float(np.quantile(dcn_valid.max(1), share)) if share else 0.0
            handed = dcn_test.max(1) < threshold
            predicted = np.where(handed, fine_test.argmax(1), dcn_test.argmax(1))
            error = float(np.mean(predicted != labels))
            rows[f"k={k} q={share}"] = {
                "k": k, "validation_share": share, "threshold": threshold,
                "test_error": error, "standard_error": measure.standard_error(error, count),
                "handed_over": float(np.mean(handed)),
                "multiplications_relative": own + float(np.mean(handed))}
            print(seed, f"k={k} q={share}", rows[f"k={k} q={share}"], flush=True)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=pathlib.Path)
    parser.add_argument("--model", default="composed_s{seed}.keras",
                        help="the DCN of each seed in <study>/models ({seed} is replaced)")
    parser.add_argument("--ks", default="4,8,16")
    parser.add_argument("--shares", default="0.1,0.2,0.3",
                        help="shares of validation canvases handed to the fine model")
    args = parser.parse_args(argv)
    family = presets.family("cluttered_mnist")
    ks = [int(k) for k in args.ks.split(",")]
    shares = [float(q) for q in args.shares.split(",")]
    seeds = {seed: seed_rows(family, args.study, seed, args.model, ks, shares)
             for seed in SEEDS}
    names = list(seeds[SEEDS[0]])
    means = {name: {field: statistics.fmean(seeds[s][name][field] for s in SEEDS)
                    for field in ("test_error", "handed_over", "multiplications_relative")}
             for name in names}
    for name in names:
        means[name]["stdev"] = statistics.stdev(seeds[s][name]["test_error"] for s in SEEDS)
    result = {"model": args.model, "machine": measure.machine_description(),
              "seeds": seeds, "means": means}
    lines = ["| reader | test error, seeds 0 / 1 / 2 | mean | handed to the fine model | "
             "multiplications / fine model's |", "|---|---|---:|---:|---:|"]
    for name in names:
        per_seed = " / ".join(f"{100 * seeds[s][name]['test_error']:.2f}" for s in SEEDS)
        lines.append(f"| {name} | {per_seed} | {100 * means[name]['test_error']:.2f}% | "
                     f"{100 * means[name]['handed_over']:.1f}% | "
                     f"{means[name]['multiplications_relative']:.2f} |")
    stem = args.study / f"cascade_{pathlib.Path(args.model).stem.replace('_s{seed}', '')}"
    atomic.write_text(stem.with_suffix(".json"), json.dumps(result, indent=2))
    atomic.write_text(stem.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
