"""The comparison report (paper Table 1): scores, Markdown, JSON and plots."""

from __future__ import annotations

import os
import pathlib
import statistics

import numpy as np
import tensorflow as tf

from dcn_keras import measure, results, visualize
from dcn_keras.cluttered_mnist import evaluation, multiplications
from dcn_keras.cluttered_mnist.config import DCN_KINDS, TITLES


def markdown(rows: list[dict], summaries: list[dict], throughput: dict, data: str,
             machine: str, batch_size: int, timed_seed: int = 0) -> str:
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
    timed = f"seed {timed_seed}'s models" if several else "the models"
    lines += ["", f"Test images: {rows[0]['test_images']:,}. Images/s: {timed} timed side by "
              "side in one process.", f"Data: {data}", f"Machine: {machine}"]
    epochs = {row.get("epochs") for row in rows}
    if epochs != {None}:
        lines.append("Epochs trained (each model's history): " + (
            f"{epochs.pop()} for every model" if len(epochs) == 1 else ", ".join(
                f"{row['model']} seed {row['seed']} {row.get('epochs') or '?'}"
                for row in rows)))
    return "\n".join(lines) + "\n"


def error_versus_patches_markdown(curves: dict[str, dict[int, float]]) -> str:
    ks = sorted(next(iter(curves.values())))
    lines = ["| k | " + " | ".join(curves) + " |", "|---:|" + "---:|" * len(curves)]
    for k in ks:
        lines.append(f"| {k} | " + " | ".join(f"{100 * c[k]:.2f}%" for c in curves.values())
                     + " |")
    return "\n".join(lines) + "\n"


def paired_with_fine(marks: dict, groups=None) -> list[dict]:
    """Each DCN kind's test error minus the fine model's of the same seed, on the same
    images: `marks` {(seed, kind): `[images]` wrong marks} -> `paired_over_seeds` of
    {kind: {seed: {"difference", "standard_error"}}} (paired over the images, clustered by
    `groups`, each image's digit, where given)."""
    per_kind = {}
    for (seed, kind), wrong in sorted(marks.items()):
        if kind in DCN_KINDS and (seed, "fine") in marks:
            difference, spread = measure.paired_difference(wrong, marks[seed, "fine"], groups)
            per_kind.setdefault(kind, {})[seed] = {"difference": difference,
                                                   "standard_error": spread}
    return paired_over_seeds(per_kind)


def paired_over_seeds(per_kind: dict) -> list[dict]:
    """{kind: {seed: {"difference", "standard_error"}}} -> one dict per DCN kind, in
    `TITLES`' order, with its `per_seed` values and, over the seeds, `mean`, `stdev` and
    `se_of_mean` (None for one seed)."""
    lines = []
    for kind in (kind for kind in TITLES if kind in per_kind):
        per_seed = dict(sorted(per_kind[kind].items()))
        differences = [value["difference"] for value in per_seed.values()]
        stdev = statistics.stdev(differences) if len(differences) > 1 else None
        lines.append({"model": TITLES[kind], "kind": kind, "per_seed": per_seed,
                      "mean": statistics.fmean(differences), "stdev": stdev,
                      "se_of_mean": None if stdev is None else stdev / len(differences) ** 0.5})
    return lines


def paired_markdown(lines: list[dict]) -> str:
    """The table of `paired_with_fine`: points of test error above the fine model's."""
    seeds = sorted({seed for line in lines for seed in line["per_seed"]})
    several = len(seeds) > 1
    text = ["| Minus the fine model, same images | " + " | ".join(f"Seed {s}" for s in seeds)
            + (" | Mean ± s.e. of seeds |" if several else " |"),
            "|---|" + "---:|" * (len(seeds) + several)]
    for line in lines:
        cells = [f"{100 * line['per_seed'][s]['difference']:+.2f} ± "
                 f"{100 * line['per_seed'][s]['standard_error']:.2f}"
                 if s in line["per_seed"] else "-" for s in seeds]
        if several:
            spread = ("" if line["se_of_mean"] is None
                      else f" ± {100 * line['se_of_mean']:.2f}")
            cells.append(f"{100 * line['mean']:+.2f}{spread}")
        text.append(f"| {line['model']} | " + " | ".join(cells) + " |")
    return "\n".join(text) + "\n\nPoints; per seed ± the standard error of the paired " \
        "per-image difference.\n"


def where_it_looked(shares: dict, marks: dict) -> list[dict]:
    """How much of the digit each DCN's patches hold, and its error where they hold nearly
    all of it and where less, beside the fine model's of the same seed on the same canvases:
    `shares` {(seed, kind): `[images]` share of the digit's ink inside the patches
    (`evaluation.digit_ink_inside_patches`)}, `marks` {(seed, kind): `[images]` wrong
    marks} -> one dict per DCN and seed."""
    lines = []
    for seed, kind in sorted(shares, key=lambda key: (list(TITLES).index(key[1]), key[0])):
        share, wrong = shares[seed, kind], marks[seed, kind]
        fine = marks.get((seed, "fine"))
        line = {"model": TITLES[kind], "kind": kind, "seed": seed,
                "ink_inside": float(share.mean()),
                "ink_inside_when_wrong": float(share[wrong].mean()) if wrong.any() else None}
        nearly_all = share >= evaluation.NEARLY_ALL
        for name, chosen in (("nearly_all", nearly_all), ("less", ~nearly_all)):
            line[name] = {"images": int(chosen.sum()),
                          "test_error": float(wrong[chosen].mean()) if chosen.any() else None,
                          "fine_test_error": (float(fine[chosen].mean())
                                              if fine is not None and chosen.any() else None)}
        lines.append(line)
    return lines


def where_it_looked_markdown(lines: list[dict]) -> str:
    """The table of `where_it_looked`."""
    def cell(group):
        errors = " / ".join("-" if group[key] is None else f"{100 * group[key]:.2f}%"
                            for key in ("test_error", "fine_test_error"))
        return f"{group['images']:,}: {errors}"

    share = f"{100 * evaluation.NEARLY_ALL:.0f}%"
    text = [f"| DCN, seed | Digit's ink inside the patches, mean (on its errors) | "
            f"Canvases with at least {share} inside: count, DCN / fine model error | "
            "The other canvases |", "|---|---:|---:|---:|"]
    for line in lines:
        when_wrong = ("-" if line["ink_inside_when_wrong"] is None
                      else f"{100 * line['ink_inside_when_wrong']:.1f}%")
        text.append(f"| {line['model']}, seed {line['seed']} | "
                    f"{100 * line['ink_inside']:.1f}% ({when_wrong}) | "
                    f"{cell(line['nearly_all'])} | {cell(line['less'])} |")
    return "\n".join(text) + (f"\n\nInk: pixels of the digit's box brighter than "
                              f"{evaluation.INK} (clutter inside the box included).\n")


def compare(models: dict, test, data: str, out_dir, config, batch_size: int = 64,
            histories: dict | None = None, seed: int = 0, boxed_test=None,
            digits=None) -> dict:
    """`compare_seeds` of one set of models ({kind: keras.Model}), trained with `seed`."""
    return compare_seeds({seed: models}, test, data, out_dir, config, batch_size,
                         {seed: histories or {}}, boxed_test, digits)


def compare_seeds(runs: dict, test, data: str, out_dir, config, batch_size: int = 64,
                  histories: dict | None = None, boxed_test=None, digits=None) -> dict:
    """Score the models of every seed (`runs`: {seed: {kind: keras.Model}}) on the batched
    `test` dataset and time the first seed's models side by side at `batch_size`.
    `boxed_test`: the same canvases as `(images, labels, digit boxes)` batches, for
    `where_it_looked`. `digits`: `[images]` the digit each canvas shows
    (`tfrecords.digit_indices`); canvases of one digit are not independent, so the standard
    errors are clustered by digit where it is given, binomial otherwise.

    Writes `results.json` (`rows`: one per model and seed with `model`, `kind`, `seed`,
    `test_error`, `standard_error`, `test_images`, `multiplications`, `epochs` (the rows of
    its history, None without one); `summary`: one per
    model with the mean, spread and standard error over seeds; `paired_with_fine`: each
    DCN kind minus the fine model on the same images; `images_per_second` of the first
    seed's models, `images_per_second_seed`;
    `error_versus_patches`: the mean over seeds, per DCN kind; `where_it_looked` with
    `boxed_test`), `results.md`,
    `error_vs_patches.png`, `patches.png` and `hint_distance.png` (from the DCNs' of
    `histories`, {seed: {kind: history CSV}}, of the first seed) to `out_dir`.
    Returns {"result": the JSON dict, "markdown": the table}.
    """
    out_dir = pathlib.Path(out_dir)
    runs = {seed: models for seed, models in sorted(runs.items()) if models}
    if not runs:
        raise FileNotFoundError("No trained models to evaluate. Run `dcn train` first.")
    counts = multiplications.count(config)
    test_images = sum(int(tf.shape(labels)[0]) for _, labels in test)
    rows, curves, marks, shares = [], {}, {}, {}
    for seed, models in runs.items():
        for kind in (kind for kind in TITLES if kind in models):
            model = models[kind]
            total = (multiplications.count(model.config, model.num_patches,
                                           bridge=model.bridge)["dcn"]["total"]
                     if kind in DCN_KINDS else counts[f"{kind}_model"]["total"])
            marks[seed, kind] = measure.wrong_marks(evaluation.inference_function(model),
                                                    test)
            error = float(marks[seed, kind].mean())
            print(f"{TITLES[kind]}, seed {seed}: {100 * error:.2f}% test error on "
                  f"{test_images:,} images", flush=True)
            history = (histories or {}).get(seed, {}).get(kind)
            spread = (measure.clustered_standard_error(marks[seed, kind], digits)
                      if digits is not None else measure.standard_error(error, test_images))
            rows.append({"model": TITLES[kind], "kind": kind, "seed": seed,
                         "test_error": error, "standard_error": spread,
                         "test_images": test_images, "multiplications": total,
                         "epochs": (len(visualize.read_history(history).get("epoch", []))
                                    if history and os.path.exists(history) else None)})
            if kind in DCN_KINDS:
                curves.setdefault(TITLES[kind], {})[seed] = \
                    evaluation.error_versus_patches(model, test)
                if boxed_test is not None:
                    shares[seed, kind] = evaluation.digit_ink_inside_patches(model, boxed_test)
    first = runs[next(iter(runs))]
    images, labels = evaluation.first_batch(test, batch_size)
    functions = {kind: evaluation.inference_function(model) for kind, model in first.items()}
    times = measure.medians_ms(measure.time_side_by_side(functions, tf.constant(images)))
    throughput = {kind: 1e3 * len(images) / ms for kind, ms in times.items()}
    errors = (f"clustered by test digit ({len(np.unique(digits)):,} digits)"
              if digits is not None else "binomial over the test images")
    result, text = tabulate(rows, paired_with_fine(marks, digits), curves, throughput,
                            next(iter(runs)), data, measure.machine_description(), batch_size,
                            counts, out_dir, where_it_looked(shares, marks), errors)
    if curves:
        dcn = first[next(kind for kind in ("dcn", "dcn_no_hints", "composed") if kind in first)]
        attention = {key: value.numpy() for key, value in dcn.attend(images[:8]).items()}
        visualize.plot_patches(images[:8], attention, labels[:8], out_dir / "patches.png")
    first_histories = (histories or {}).get(next(iter(runs)), {})
    plotted = {TITLES[kind]: visualize.read_history(path)
               for kind, path in first_histories.items()
               if kind in DCN_KINDS and os.path.exists(path)}
    if plotted:
        visualize.plot_hint_distance(plotted, out_dir / "hint_distance.png")
    return results.write(out_dir, result, text)


def tabulate(rows: list[dict], against_fine: list[dict], curves: dict, throughput: dict,
             timed_seed: int, data: str, machine: str, batch_size: int, counts: dict, out_dir,
             looked: list[dict] | None = None,
             errors: str = "binomial over the test images") -> tuple[dict, str]:
    """Table 1's JSON dict and Markdown from scored `rows` (one per model and seed),
    `against_fine` (`paired_with_fine`), `curves` {DCN title: {seed: {k: error}}}, the
    `throughput` {kind: images/s} of seed `timed_seed`'s models, `looked`
    (`where_it_looked`) and how the standard errors were computed (`errors`); plots the
    mean error versus k to `out_dir`/error_vs_patches.png."""
    summaries = [results.summary([row for row in rows if row["kind"] == kind],
                                  "multiplications")
                 for kind in TITLES if any(row["kind"] == kind for row in rows)]
    mean_curves = {name: {k: statistics.fmean(curve[k] for curve in by_seed.values())
                          for k in next(iter(by_seed.values()))}
                   for name, by_seed in curves.items()}
    result = {"data": data, "machine": machine, "test_images": rows[0]["test_images"],
              "standard_errors": errors,
              "batch_size": batch_size, "rows": rows, "summary": summaries,
              "paired_with_fine": against_fine,
              "images_per_second": throughput, "images_per_second_seed": timed_seed,
              "error_versus_patches": mean_curves,
              "error_versus_patches_per_seed": curves, "multiplications": counts,
              "paper_comparison": multiplications.compare_with_paper(counts),
              "where_it_looked": looked or []}
    text = markdown(rows, summaries, throughput, data, machine, batch_size, timed_seed)
    text += f"Standard errors: {errors}.\n"
    if against_fine:
        text += "\n" + paired_markdown(against_fine)
    if looked:
        text += "\nWhere the DCNs looked:\n\n" + where_it_looked_markdown(looked)
    if mean_curves:
        text += "\nTest error versus number of patches (mean over seeds):\n\n"
        text += error_versus_patches_markdown(mean_curves)
        visualize.plot_error_versus_patches(
            mean_curves, {line["model"]: line["mean"] for line in summaries
                          if line["kind"] in ("coarse", "fine")},
            pathlib.Path(out_dir) / "error_vs_patches.png", data)
    return result, text


def merge(reports: list[dict], out_dir) -> dict:
    """One Table 1 from the `results.json` dicts of runs scored apart (`compare_seeds`, each
    with its own seeds, all on the same test images): every seed's rows, the paired
    differences and error-versus-k curves, the mean and spread over all of them, and the
    images per second of the first report (its models timed side by side). Writes
    `results.json`, `results.md` and `error_vs_patches.png` to `out_dir`; returns
    {"result", "markdown"}."""
    if not reports:
        raise ValueError("No reports to merge: give the results.json of each run.")
    first = reports[0]
    for report in reports[1:]:
        if (report["data"], report["test_images"]) != (first["data"], first["test_images"]):
            raise ValueError(f"The reports were scored on different test sets: "
                             f"{first['data']!r} ({first['test_images']} images) and "
                             f"{report['data']!r} ({report['test_images']} images). Merge "
                             "only runs on the same data.")
    rows, per_kind, curves, seen = [], {}, {}, {}
    for number, report in enumerate(reports):
        for row in report["rows"]:
            key = row["kind"], row["seed"]
            if key in seen:
                raise ValueError(f"{row['model']}, seed {row['seed']}, is in reports "
                                 f"{seen[key] + 1} and {number + 1}: merge each seed once.")
            seen[key] = number
            rows.append(row)
        for line in report["paired_with_fine"]:
            per_kind.setdefault(line["kind"], {}).update(
                {int(seed): value for seed, value in line["per_seed"].items()})
        for name, by_seed in report["error_versus_patches_per_seed"].items():
            curves.setdefault(name, {}).update(
                {int(seed): {int(k): error for k, error in curve.items()}
                 for seed, curve in by_seed.items()})
    rows.sort(key=lambda row: (list(TITLES).index(row["kind"]), row["seed"]))
    looked = sorted((line for report in reports for line in report.get("where_it_looked", [])),
                    key=lambda line: (list(TITLES).index(line["kind"]), line["seed"]))
    machines = list(dict.fromkeys(report["machine"] for report in reports))
    errors = {report.get("standard_errors", "binomial over the test images")
              for report in reports}
    if len(errors) > 1:
        raise ValueError(f"The reports' standard errors were computed differently "
                         f"({' and '.join(sorted(errors))}): score them all again with "
                         "`dcn evaluate` on the same data directory, then merge.")
    out_dir = pathlib.Path(out_dir)
    timed_seed = first.get("images_per_second_seed",
                           min(row["seed"] for row in first["rows"]))
    result, text = tabulate(rows, paired_over_seeds(per_kind), curves,
                            first["images_per_second"], timed_seed, first["data"],
                            "; ".join(machines), first["batch_size"], first["multiplications"],
                            out_dir, looked, errors.pop())
    return results.write(out_dir, result, text)
