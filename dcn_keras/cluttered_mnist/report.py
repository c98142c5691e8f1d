"""The comparison report (paper Table 1): scores, Markdown, JSON and plots."""

from __future__ import annotations

import pathlib

import tensorflow as tf

from dcn_keras import measure, results, visualize
from dcn_keras.cluttered_mnist import evaluation, multiplications
from dcn_keras.cluttered_mnist.config import DCN_KINDS, TITLES


def table_rows(errors: dict, counts: dict, throughput: dict, images: int) -> list[dict]:
    """One row per trained model, in the paper's order; each error with its standard error
    on the `images` test images."""
    return [{"model": TITLES[kind], "kind": kind, "test_error": errors[kind],
             "standard_error": measure.standard_error(errors[kind], images),
             "test_images": images, "multiplications": counts[kind],
             "images_per_second": throughput[kind]}
            for kind in TITLES if kind in errors]


def markdown(rows: list[dict], data: str, machine: str, batch_size: int) -> str:
    lines = [
        f"| Model | Test error ± s.e. | Multiplications | Images/s (batch {batch_size}) |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['model']} | {100 * row['test_error']:.2f} ± "
                     f"{100 * row['standard_error']:.2f}% | "
                     f"{row['multiplications'] / 1e6:.1f}M | {row['images_per_second']:,.0f} |")
    lines += ["", f"Data: {data}", f"Machine: {machine}"]
    return "\n".join(lines) + "\n"


def error_versus_patches_markdown(curves: dict[str, dict[int, float]]) -> str:
    ks = sorted(next(iter(curves.values())))
    lines = ["| k | " + " | ".join(curves) + " |", "|---:|" + "---:|" * len(curves)]
    for k in ks:
        lines.append(f"| {k} | " + " | ".join(f"{100 * c[k]:.2f}%" for c in curves.values())
                     + " |")
    return "\n".join(lines) + "\n"


def compare(models: dict, test, data: str, out_dir, config, batch_size: int = 64,
            histories: dict | None = None) -> dict:
    """Score `models` ({kind: keras.Model}) on the batched `test` dataset side by side.

    Writes `results.json`, `results.md`, `error_vs_patches.png`, `patches.png` and
    `hint_distance.png` (from `histories`, {kind: history CSV}) to `out_dir`.
    Returns {"result": the JSON dict, "markdown": the table}.
    """
    out_dir = pathlib.Path(out_dir)
    if not models:
        raise FileNotFoundError("No trained models to evaluate. Run `dcn train` first.")
    functions = {kind: evaluation.inference_function(model) for kind, model in models.items()}
    errors = {kind: evaluation.error_rate(function, test) for kind, function in functions.items()}
    counts = multiplications.count(config)
    totals = {"coarse": counts["coarse_model"]["total"],
                       "fine": counts["fine_model"]["total"],
                       **{kind: multiplications.count(model.config, model.num_patches,
                                            bridge=model.bridge)
                          ["dcn"]["total"] for kind, model in models.items()
                          if kind in DCN_KINDS}}
    images, labels = evaluation.first_batch(test, batch_size)
    times = measure.medians_ms(measure.time_side_by_side(functions, tf.constant(images)))
    throughput = {kind: 1e3 * len(images) / ms for kind, ms in times.items()}
    test_images = sum(int(tf.shape(labels)[0]) for _, labels in test)
    rows = table_rows(errors, totals, throughput, test_images)
    curves = {TITLES[kind]: evaluation.error_versus_patches(models[kind], test)
              for kind in DCN_KINDS if kind in models}
    machine = measure.machine_description()
    result = {"data": data, "machine": machine, "batch_size": batch_size, "rows": rows,
              "error_versus_patches": curves, "multiplications": counts,
              "paper_comparison": multiplications.compare_with_paper(counts)}
    text = markdown(rows, data, machine, batch_size)
    if curves:
        text += "\nTest error versus number of patches:\n\n"
        text += error_versus_patches_markdown(curves)
        visualize.plot_error_versus_patches(
            curves, {TITLES[k]: errors[k] for k in ("coarse", "fine") if k in errors},
            out_dir / "error_vs_patches.png", data)
        dcn = models[next(kind for kind in ("dcn", "dcn_no_hints", "composed") if kind in models)]
        attention = {key: value.numpy() for key, value in dcn.attend(images[:8]).items()}
        visualize.plot_patches(images[:8], attention, labels[:8], out_dir / "patches.png")
    histories = {TITLES[kind]: visualize.read_history(path)
                 for kind, path in (histories or {}).items()}
    if histories:
        visualize.plot_hint_distance(histories, out_dir / "hint_distance.png")
    return results.write(out_dir, result, text)
