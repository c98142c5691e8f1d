"""The comparison report (paper Table 1): scores, Markdown, JSON and plots."""

from __future__ import annotations

import json
import os
import pathlib
import platform

from dcn_keras import training

# Kinds that are DCNs: they get an error-versus-k curve and may have hint histories.
DCN_KINDS = ("dcn_no_hints", "dcn", "composed")


def table_rows(errors: dict, multiplications: dict, throughput: dict) -> list[dict]:
    """One row per trained model, in the paper's order."""
    return [{"model": training.TITLES[kind], "kind": kind, "test_error": errors[kind],
             "multiplications": multiplications[kind], "images_per_second": throughput[kind]}
            for kind in training.TITLES if kind in errors]


def markdown(rows: list[dict], data: str, machine: str, batch_size: int) -> str:
    lines = [
        "| Model | Test error | Multiplications | Images/s (batch %d) |" % batch_size,
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['model']} | {100 * row['test_error']:.2f}% | "
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


def machine_description() -> str:
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU" if gpus else "no GPU"
    return (f"{os.cpu_count()} CPU cores ({cpu}), {device}, TensorFlow {tf.__version__}, "
            f"Python {platform.python_version()}")


def evaluate(data_dir, models_dir, out_dir, preset: str, batch_size: int = 64) -> dict:
    """Score every model in `models_dir` on the test split of `data_dir` (made by `dcn data`)."""
    from dcn_keras import presets
    from dcn_keras.data import cluttered_mnist, tfrecords

    config = presets.get(preset)
    data_dir, models_dir = pathlib.Path(data_dir), pathlib.Path(models_dir)
    metadata = json.loads((data_dir / "metadata.json").read_text())
    test = tfrecords.dataset(data_dir / "test.tfrecord", config.image_shape, batch_size)
    models = {kind: training.load_model(models_dir / f"{kind}.keras", config)
              for kind in training.MODEL_KINDS if (models_dir / f"{kind}.keras").exists()}
    histories = {kind: path for kind in DCN_KINDS
                 if (path := models_dir / f"{kind}_history.csv").exists()}
    return compare(models, test, cluttered_mnist.describe(metadata), out_dir, config,
                   batch_size, histories)


def compare(models: dict, test, data: str, out_dir, config, batch_size: int = 64,
            histories: dict | None = None) -> dict:
    """Score `models` ({kind: keras.Model}) on the batched `test` dataset side by side.

    Writes `results.json`, `results.md`, `error_vs_patches.png`, `patches.png` and
    `hint_distance.png` (from `histories`, {kind: history CSV}) to `out_dir`.
    Returns {"result": the JSON dict, "markdown": the table}.
    """
    from dcn_keras import atomic, evaluation, flops, visualize

    out_dir = pathlib.Path(out_dir)
    if not models:
        raise FileNotFoundError("No trained models to evaluate. Run `dcn train` first.")
    functions = {kind: evaluation.inference_function(model) for kind, model in models.items()}
    errors = {kind: evaluation.error_rate(function, test) for kind, function in functions.items()}
    counts = flops.count(config)
    multiplications = {"coarse": counts["coarse_model"]["total"],
                       "fine": counts["fine_model"]["total"],
                       **{kind: counts["dcn"]["total"] for kind in DCN_KINDS}}
    images, labels = evaluation.first_batch(test, batch_size)
    throughput = evaluation.images_per_second(functions, images)
    rows = table_rows(errors, multiplications, throughput)
    curves = {training.TITLES[kind]: evaluation.error_versus_patches(models[kind], test)
              for kind in DCN_KINDS if kind in models}
    machine = machine_description()
    result = {"data": data, "machine": machine, "batch_size": batch_size, "rows": rows,
              "error_versus_patches": curves, "multiplications": counts,
              "paper_comparison": flops.compare_with_paper(counts)}
    text = markdown(rows, data, machine, batch_size)
    if curves:
        text += "\nTest error versus number of patches:\n\n"
        text += error_versus_patches_markdown(curves)
        visualize.plot_error_versus_patches(
            curves, {training.TITLES[k]: errors[k] for k in ("coarse", "fine") if k in errors},
            out_dir / "error_vs_patches.png", data)
        dcn = models[next(kind for kind in ("dcn", "dcn_no_hints", "composed") if kind in models)]
        attention = {key: value.numpy() for key, value in dcn.attend(images[:8]).items()}
        visualize.plot_patches(images[:8], attention, labels[:8], out_dir / "patches.png")
    histories = {training.TITLES[kind]: visualize.read_history(path)
                 for kind, path in (histories or {}).items()}
    if histories:
        visualize.plot_hint_distance(histories, out_dir / "hint_distance.png")
    atomic.write_text(out_dir / "results.json", json.dumps(result, indent=2))
    atomic.write_text(out_dir / "results.md", text)
    return {"result": result, "markdown": text}
