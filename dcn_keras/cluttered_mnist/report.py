"""The comparison report (paper Table 1): scores, Markdown, JSON and plots."""

from __future__ import annotations

import pathlib
import statistics

import tensorflow as tf

from dcn_keras import measure, results, visualize
from dcn_keras.cluttered_mnist import evaluation, multiplications
from dcn_keras.cluttered_mnist.config import DCN_KINDS, TITLES


def markdown(rows: list[dict], summaries: list[dict], throughput: dict, data: str,
             machine: str, batch_size: int) -> str:
    seeds, per_seed_title, mean_title = results.seed_columns(rows)
    several = bool(mean_title)
    lines = [f"| Model | Test error ± s.e.{per_seed_title} | {mean_title}Multiplications | "
             f"Images/s (batch {batch_size}) |",
             "|---|" + ("---|---:|" if several else "---:|") + "---:|---:|"]
    for line in summaries:
        per_seed, mean = results.error_cells(rows, line, seeds)
        lines.append(f"| {line['model']} | {per_seed} | {mean}"
                     f"{line['multiplications'] / 1e6:.1f}M | "
                     f"{throughput.get(line['kind'], float('nan')):,.0f} |")
    timed = "the first seed's models" if several else "the models"
    lines += ["", f"Test images: {rows[0]['test_images']:,}. Images/s: {timed} timed side by "
              "side in one process.", f"Data: {data}", f"Machine: {machine}"]
    return "\n".join(lines) + "\n"


def error_versus_patches_markdown(curves: dict[str, dict[int, float]]) -> str:
    ks = sorted(next(iter(curves.values())))
    lines = ["| k | " + " | ".join(curves) + " |", "|---:|" + "---:|" * len(curves)]
    for k in ks:
        lines.append(f"| {k} | " + " | ".join(f"{100 * c[k]:.2f}%" for c in curves.values())
                     + " |")
    return "\n".join(lines) + "\n"


def compare(models: dict, test, data: str, out_dir, config, batch_size: int = 64,
            histories: dict | None = None, seed: int = 0) -> dict:
    """`compare_seeds` of one set of models ({kind: keras.Model}), trained with `seed`."""
    return compare_seeds({seed: models}, test, data, out_dir, config, batch_size,
                         {seed: histories or {}})


def compare_seeds(runs: dict, test, data: str, out_dir, config, batch_size: int = 64,
                  histories: dict | None = None) -> dict:
    """Score the models of every seed (`runs`: {seed: {kind: keras.Model}}) on the batched
    `test` dataset and time the first seed's models side by side at `batch_size`.

    Writes `results.json` (`rows`: one per model and seed with `model`, `kind`, `seed`,
    `test_error`, `standard_error`, `test_images`, `multiplications`; `summary`: one per
    model with the mean, spread and standard error over seeds; `images_per_second`;
    `error_versus_patches`: the mean over seeds, per DCN kind), `results.md`,
    `error_vs_patches.png`, `patches.png` and `hint_distance.png` (from `histories`,
    {seed: {kind: history CSV}}, of the first seed) to `out_dir`.
    Returns {"result": the JSON dict, "markdown": the table}.
    """
    out_dir = pathlib.Path(out_dir)
    runs = {seed: models for seed, models in sorted(runs.items()) if models}
    if not runs:
        raise FileNotFoundError("No trained models to evaluate. Run `dcn train` first.")
    counts = multiplications.count(config)
    test_images = sum(int(tf.shape(labels)[0]) for _, labels in test)
    rows, curves = [], {}
    for seed, models in runs.items():
        for kind in (kind for kind in TITLES if kind in models):
            model = models[kind]
            total = (multiplications.count(model.config, model.num_patches,
                                           bridge=model.bridge)["dcn"]["total"]
                     if kind in DCN_KINDS else counts[f"{kind}_model"]["total"])
            error = evaluation.error_rate(evaluation.inference_function(model), test)
            rows.append({"model": TITLES[kind], "kind": kind, "seed": seed,
                         "test_error": error,
                         "standard_error": measure.standard_error(error, test_images),
                         "test_images": test_images, "multiplications": total})
            if kind in DCN_KINDS:
                curves.setdefault(TITLES[kind], {})[seed] = \
                    evaluation.error_versus_patches(model, test)
    summaries = [results.summary([row for row in rows if row["kind"] == kind],
                                  "multiplications")
                 for kind in TITLES if any(row["kind"] == kind for row in rows)]
    first = runs[next(iter(runs))]
    images, labels = evaluation.first_batch(test, batch_size)
    functions = {kind: evaluation.inference_function(model) for kind, model in first.items()}
    times = measure.medians_ms(measure.time_side_by_side(functions, tf.constant(images)))
    throughput = {kind: 1e3 * len(images) / ms for kind, ms in times.items()}
    mean_curves = {name: {k: statistics.fmean(curve[k] for curve in by_seed.values())
                          for k in next(iter(by_seed.values()))}
                   for name, by_seed in curves.items()}
    machine = measure.machine_description()
    result = {"data": data, "machine": machine, "test_images": test_images,
              "batch_size": batch_size, "rows": rows, "summary": summaries,
              "images_per_second": throughput, "error_versus_patches": mean_curves,
              "error_versus_patches_per_seed": curves, "multiplications": counts,
              "paper_comparison": multiplications.compare_with_paper(counts)}
    text = markdown(rows, summaries, throughput, data, machine, batch_size)
    if mean_curves:
        text += "\nTest error versus number of patches (mean over seeds):\n\n"
        text += error_versus_patches_markdown(mean_curves)
        visualize.plot_error_versus_patches(
            mean_curves, {line["model"]: line["mean"] for line in summaries
                          if line["kind"] in ("coarse", "fine")},
            out_dir / "error_vs_patches.png", data)
        dcn = first[next(kind for kind in ("dcn", "dcn_no_hints", "composed") if kind in first)]
        attention = {key: value.numpy() for key, value in dcn.attend(images[:8]).items()}
        visualize.plot_patches(images[:8], attention, labels[:8], out_dir / "patches.png")
    first_histories = (histories or {}).get(next(iter(runs)), {})
    plotted = {TITLES[kind]: visualize.read_history(path)
               for kind, path in first_histories.items()}
    if plotted:
        visualize.plot_hint_distance(plotted, out_dir / "hint_distance.png")
    return results.write(out_dir, result, text)
