"""The report of a family built from networks: the test error of every model and seed with
its standard error, the first seed's models timed side by side at batch 1, and the DCN's
selected patches on test images."""

from __future__ import annotations

import functools
import pathlib

import numpy as np
import tensorflow as tf

from dcn_keras import measure, results, visualize

TIMING_REPEATS = 5


def error_rate(model, dataset: tf.data.Dataset) -> tuple[float, int]:
    """(fraction misclassified, images) of a model giving class scores (probabilities or
    logits) on `(inputs, labels)` batches."""
    predict = tf.function(functools.partial(model, training=False), reduce_retracing=True)
    marks = measure.wrong_marks(predict, dataset)
    return float(marks.mean()) if len(marks) else 0.0, len(marks)


def times_ms(family, models: dict, image: tf.Tensor, repeats: int = TIMING_REPEATS) -> dict:
    """Median ms of each model on one `[1, H, W, C]` image, called side by side; a baseline
    that reads a view makes it inside its time (`family.inputs`)."""
    functions = {kind: tf.function(functools.partial(_call, family, kind, model))
                 for kind, model in models.items()}
    return measure.medians_ms(measure.time_side_by_side(functions, image, repeats=repeats,
                                                        warmup=1))


def _call(family, kind: str, model, images):
    return model(family.inputs(kind, images), training=False)


def markdown(rows: list[dict], summaries: list[dict], times: dict, data: str,
             machine: str) -> str:
    seeds, per_seed_title, mean_title = results.seed_columns(rows)
    lines = [f"| Model | Test error ± s.e.{per_seed_title} | {mean_title}ms per image "
             "(batch 1) |",
             "|---|---|" + ("---:|" if mean_title else "") + "---:|"]
    for line in summaries:
        per_seed, mean = results.error_cells(rows, line, seeds)
        ms = times.get(line["kind"])
        lines.append(f"| {line['model']} | {per_seed} | {mean}"
                     f"{'-' if ms is None else f'{ms:,.1f}'} |")
    lines += ["", f"Test images: {rows[0]['test_images']:,}. Times: the first seed's models "
              "on one test image, side by side in one process, medians.", f"Data: {data}",
              f"Machine: {machine}"]
    return "\n".join(lines) + "\n"


def compare(family, runs: dict, test_files, data: str, out_dir, batch_size: int = 16,
            count: int | None = None) -> dict:
    """Score the models of every seed (`runs`: {seed: {kind: keras.Model}}) on the test
    TFRecords `test_files` (each kind reading what `family.test_dataset` gives it), and time
    the first seed's models on one test image.

    Writes `results.json` (`image_shape`; `rows`: one per model and seed with `model`,
    `kind`, `seed`, `test_error`, `standard_error`, `test_images`; `summary`: one per model
    with the mean, spread and standard error over seeds; `ms_per_image`), `results.md` and,
    where a DCN is among them, `patches.png` (its selected patches on four test images) to
    `out_dir`.
    Returns {"result": the JSON dict, "markdown": the table}.
    """
    out_dir = pathlib.Path(out_dir)
    runs = {seed: models for seed, models in sorted(runs.items()) if models}
    if not runs:
        raise FileNotFoundError("No trained models to evaluate. Run `dcn train` first.")
    rows = []
    for seed, models in runs.items():
        for kind in (kind for kind in family.model_kinds if kind in models):
            error, images = error_rate(
                models[kind], family.test_dataset(test_files, batch_size, count, kind))
            print(f"{family.titles[kind]}, seed {seed}: {100 * error:.2f}% test error on "
                  f"{images:,} images", flush=True)
            rows.append({"model": family.titles[kind], "kind": kind, "seed": seed,
                         "test_error": error,
                         "standard_error": measure.standard_error(error, images),
                         "test_images": images})
    summaries = [results.summary([row for row in rows if row["kind"] == kind])
                 for kind in family.model_kinds if any(row["kind"] == kind for row in rows)]
    first = runs[next(iter(runs))]
    images, labels = next(iter(family.test_dataset(test_files, 4, count).take(1)))
    times = times_ms(family, first, images[:1])
    machine = measure.machine_description()
    result = {"data": data, "machine": machine, "image_shape": list(family.image_shape),
              "test_images": rows[0]["test_images"], "rows": rows, "summary": summaries,
              "ms_per_image": times, "reference": family.reference_kind}
    dcn = next((first[kind] for kind in family.dcn_kinds if kind in first), None)
    if dcn is not None:
        attention = {key: value.numpy() for key, value in dcn.attend(images).items()}
        visualize.plot_patches(np.asarray(images), attention, labels.numpy(),
                               out_dir / "patches.png", columns=2, panel_inches=6)
    return results.write(out_dir, result,
                         markdown(rows, summaries, times, data, machine))
