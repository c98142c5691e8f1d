"""The Megapixel MNIST results table: test error of each trained model at the side it was
trained at, beside its batch-1 inference time and memory at that side, and the scaling of
time and memory with the side.

Reads the `report/results.json` of `dcn evaluate --preset megapixel_mnist` (or `dcn
experiment`) runs, one per side, and the JSON of `benchmarks/megapixel_speed.py`, which
times the three models with any weights. Writes, for each side at which some model was
trained, one row per model trained or timed there: `model`, `kind`, `side`, `test_error`
(the mean over seeds; None where no model of that kind was trained at that side),
`standard_error` (binomial for one seed, of the mean over several), `seeds`,
`test_images`, `ms_per_image` and `peak_mib` (the peak of tensors TensorFlow holds during
inference, input and weights included) with `resident_mib` (the resident memory inference
adds); the scaling curve as `scaling`; the minutes per training epoch as `training`.

    .venv/bin/python reproduce/megapixel_mnist_table.py runs/megapixel/report \\
        runs/mp500/report --speed docs/bench/megapixel_speed.json \\
        --json docs/bench/megapixel_mnist.json --md runs/megapixel_mnist.md
"""

import argparse
import json
import pathlib

from dcn_keras import atomic, measure
from dcn_keras.megapixel_mnist.family import TITLES
from dcn_keras.megapixel_mnist.networks import MODEL_KINDS


def trained_rows(report: dict) -> list[dict]:
    """One row per model kind of a networks report (`classifier.report.compare`): the mean
    test error over its seeds with its standard error, at the report's side."""
    side = report["image_shape"][0]
    rows = []
    for line in report["summary"]:
        seeds = line["seeds"]
        if len(seeds) > 1:
            spread = line["se_of_mean"] or 0.0  # None where every seed scored the same
        else:
            spread = measure.standard_error(line["mean"], line["test_images"])
        rows.append({"model": TITLES[line["kind"]], "kind": line["kind"], "side": side,
                     "test_error": line["mean"], "standard_error": spread, "seeds": seeds,
                     "stdev_of_seeds": line["stdev"], "test_images": line["test_images"],
                     "data": report["data"], "machine": report["machine"]})
    return rows


def table(reports: list[dict], speed: dict) -> dict:
    """{"rows", "scaling", "full_resolution_over_dcn", "training", "timing_machine"}: every
    trained model of `reports` and every model `speed` timed at a side where something was
    trained, each with its time and memory at that side."""
    timed = {(row["model"], row["side"]): row for row in speed["rows"]}
    trained = {}
    for report in reports:
        for row in trained_rows(report):
            if (row["kind"], row["side"]) in trained:
                raise SystemExit(f"Two reports score {row['model']} at side {row['side']}: "
                                 "pass one report per side.")
            trained[row["kind"], row["side"]] = row
    sides = sorted({side for _, side in trained})
    rows = []
    for side in sides:
        for kind in MODEL_KINDS:
            row = trained.get((kind, side))
            timing = timed.get((kind, side))
            if row is None and timing is None:
                continue
            row = row or {"model": TITLES[kind], "kind": kind, "side": side,
                          "test_error": None, "standard_error": None, "seeds": [],
                          "test_images": None}
            rows.append({**row,
                         "ms_per_image": timing and timing["ms_per_image"],
                         "peak_mib": timing and timing.get("tensor_peak_mib"),
                         "resident_mib": timing and timing.get("inference_mib")})
    return {"rows": rows, "scaling": speed["rows"],
            "full_resolution_over_dcn": speed["full_resolution_over_dcn"],
            "training": speed.get("training", []), "timing_machine": speed["machine"]}


def markdown(result: dict) -> str:
    lines = ["| Model | side | test error ± s.e. | seeds | test images | ms per image "
             "(batch 1) | tensors' peak MiB |", "|---|---:|---:|---|---:|---:|---:|"]
    for row in result["rows"]:
        error = ("not trained" if row["test_error"] is None else
                 f"{100 * row['test_error']:.2f} ± {100 * row['standard_error']:.2f}%")
        seeds = ", ".join(map(str, row["seeds"])) or "-"
        ms = "-" if row["ms_per_image"] is None else f"{row['ms_per_image']:.1f}"
        peak = "-" if row["peak_mib"] is None else f"{row['peak_mib']:.1f}"
        images = "-" if row["test_images"] is None else f"{row['test_images']:,}"
        lines.append(f"| {row['model']} | {row['side']} | {error} | {seeds} | {images} | "
                     f"{ms} | {peak} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=pathlib.Path,
                        help="report folders (or their results.json) of dcn evaluate / "
                             "dcn experiment with --preset megapixel_mnist, one per side")
    parser.add_argument("--speed", type=pathlib.Path, required=True,
                        help="the JSON of benchmarks/megapixel_speed.py")
    parser.add_argument("--json", type=pathlib.Path, help="write the table here")
    parser.add_argument("--md", type=pathlib.Path, help="write it as Markdown here")
    args = parser.parse_args(argv)
    reports = []
    for path in args.reports:
        path = path / "results.json" if path.is_dir() else path
        report = json.loads(path.read_text())
        if "image_shape" not in report:
            raise SystemExit(f"{path} names no image_shape: score its models again with "
                             "`dcn evaluate --preset megapixel_mnist`.")
        reports.append(report)
    result = table(reports, json.loads(args.speed.read_text()))
    text = markdown(result)
    print(text, end="")
    if args.json:
        atomic.write_text(args.json, json.dumps(result, indent=2) + "\n")
    if args.md:
        atomic.write_text(args.md, text)


if __name__ == "__main__":
    main()
