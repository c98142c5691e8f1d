"""The levers of the Cluttered MNIST composition study (docs/cluttered_mnist.md), seeds 0-2,
each scored at k = 8 on the study's whole test split.

A study directory holds `data/` (from `dcn data`) and `models/{coarse,fine,composed}_s<seed>
.keras` (from `dcn train --seed` and `dcn compose`). Each lever trains what it needs into
`<study>/<lever>/` (resumable: finished models are kept, a killed training resumes) and
writes `<study>/<lever>/results.json`:

- `scratch`: the DCN with hints trained from fresh weights (`dcn train --model dcn`).
- `tuned`: the composed DCN fine-tuned end to end (`dcn train --model dcn --start`), for
  `--epochs` epochs.
- `nobridge`: the composed DCN without its bridge (coarse layers of the coarse model, fine
  and top layers of the fine model), fine-tuned end to end for `--epochs` epochs.
- `regressed`: the composed DCN without a bridge whose coarse layers were first trained
  for `REGRESS_EPOCHS` to output the fine model's vectors everywhere
  (`compose.fit_coarse_layers`, no labels), then fine-tuned end to end for `--epochs`
  epochs; the start is kept as `<study>/starts/regressed_s<seed>.keras`.
- `distilled`: `regressed`, with the fine model of the seed as teacher
  (`core.distillation`, weight `DISTILLATION_WEIGHT`).
- `bridge`: no end-to-end training; the composed DCN's least-squares bridge
  (`compose.fit_bridge`) fitted further by distillation from the fine model for `--epochs`
  epochs (`compose.distill_bridge`, no labels, coarse and fine models frozen), scored on the
  test split at k = 1 ... 32.
- `shrink`: no training; the composed DCN's bridge B shrunk toward the mean fine vector mu,
  a * B(x) + (1 - a) * mu, scored on `--split` at k = 8, 16, 32 for a in 1, 0.75, 0.5, 0.25.

    .venv/bin/python benchmarks/cluttered_mnist_levers.py runs/study tuned --epochs 4
"""

import argparse
import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from dcn_keras import atomic, experiments, measure, presets, training
from dcn_keras.cluttered_mnist import compose, evaluation

SEEDS = (0, 1, 2)
TEST_BATCH = 100
REGRESS_EPOCHS = 3
DISTILLATION_WEIGHT = 0.5


def _train(family, study, lever, out, seed, epochs) -> pathlib.Path:
    """The lever's DCN of `seed` in `out`, trained unless already there."""
    models = study / "models"
    recipe = family.recipe("paper").replace(batch_size=32, seed=seed, epochs=epochs)
    start = teacher = None
    if lever == "tuned":
        start = training.load_model(models / f"composed_s{seed}.keras", family)
    elif lever in ("nobridge", "regressed", "distilled"):
        start = _no_bridge_start(family, study, lever, seed, recipe)
    if lever == "distilled":
        recipe = recipe.replace(distillation_weight=DISTILLATION_WEIGHT)
        teacher = training.load_model(models / f"fine_s{seed}.keras", family)
    path = out / f"dcn_s{seed}.keras"
    if not path.exists():
        experiments.train_model(family, "dcn", study / "data", path, recipe, verbose=2,
                                start=start, teacher=teacher)
    return path


def _training_batches(family, study, batch_size, seed):
    """The study's shuffled training batches, after seeding every generator with `seed`."""
    keras.utils.set_random_seed(seed)
    return family.datasets(study / "data" / "train.tfrecord",
                           study / "data" / "valid.tfrecord", batch_size, seed)[0]


def _no_bridge_start(family, study, lever, seed, recipe):
    path = study / "starts" / f"regressed_s{seed}.keras"
    if lever != "nobridge" and path.exists():
        return training.load_model(path, family)
    models = study / "models"
    coarse = training.load_model(models / f"coarse_s{seed}.keras", family)
    fine = training.load_model(models / f"fine_s{seed}.keras", family)
    start = compose.compose(coarse, fine, family.config, None, 8, fine_view="patch")
    if lever == "nobridge":
        return start
    train = _training_batches(family, study, recipe.batch_size, seed)
    start.coarse.set_weights(
        compose.fit_coarse_layers(coarse, fine, train, REGRESS_EPOCHS).get_weights())
    with atomic.atomic_path(path) as tmp:
        start.save(tmp)
    return start


def _distilled_bridge(family, study, out, seed, epochs) -> dict:
    path = out / f"composed_s{seed}.keras"
    if not path.exists():
        models = study / "models"
        coarse = training.load_model(models / f"coarse_s{seed}.keras", family)
        fine = training.load_model(models / f"fine_s{seed}.keras", family)
        train = _training_batches(family, study, 32, seed)
        dcn = compose.compose_distilled(coarse, fine, family.config, train, epochs=epochs,
                                        seed=seed)
        with atomic.atomic_path(path) as tmp:
            dcn.save(tmp)
    test = family.test_dataset(study / "data" / "test.tfrecord", TEST_BATCH)
    curve = evaluation.error_versus_patches(training.load_model(path, family), test)
    print(seed, curve, flush=True)
    return {"test_error_versus_patches": curve}


def _shrunk_errors(family, study, seed, split) -> dict:
    dcn = training.load_model(study / "models" / f"composed_s{seed}.keras", family)
    kernel, bias = dcn.bridge_network.get_weights()
    train = family.test_dataset(study / "data" / "train.tfrecord", TEST_BATCH)
    mean = np.mean([tf.reduce_mean(dcn.coarse_features(images), axis=[0, 1, 2]).numpy()
                    for images, _ in train.take(10)], axis=0)
    data = family.test_dataset(study / "data" / f"{split}.tfrecord", TEST_BATCH)
    errors = {}
    for a in (1.0, 0.75, 0.5, 0.25):
        dcn.bridge_network.set_weights([kernel * a, bias * a + (1 - a) * mean])
        for k in (8, 16, 32):
            errors[f"a={a} k={k}"] = evaluation.error_rate(
                evaluation.inference_function(dcn, k), data)
            print(seed, split, a, k, f"{100 * errors[f'a={a} k={k}']:.2f}%", flush=True)
    return errors


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=pathlib.Path)
    parser.add_argument("lever", choices=("scratch", "tuned", "nobridge", "regressed",
                                          "distilled", "bridge", "shrink"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--split", default="valid", choices=("valid", "test"))
    args = parser.parse_args(argv)
    family = presets.family("cluttered_mnist")
    name = args.lever if args.lever in ("scratch", "shrink") else f"{args.lever}{args.epochs}"
    out = args.study / name
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for seed in SEEDS:
        if args.lever == "shrink":
            results[seed] = _shrunk_errors(family, args.study, seed, args.split)
        elif args.lever == "bridge":
            results[seed] = _distilled_bridge(family, args.study, out, seed, args.epochs)
        else:
            path = _train(family, args.study, args.lever, out, seed, args.epochs)
            test = family.test_dataset(args.study / "data" / "test.tfrecord", TEST_BATCH)
            error = evaluation.error_rate(
                evaluation.inference_function(training.load_model(path, family)), test)
            count = sum(int(labels.shape[0]) for _, labels in test)
            results[seed] = {"test_error": error,
                             "standard_error": measure.standard_error(error, count)}
            print(seed, results[seed], flush=True)
        with atomic.atomic_path(out / "results.json") as path:
            path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
