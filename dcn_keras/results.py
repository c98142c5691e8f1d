"""Writing an experiment's results: the JSON of every number and its Markdown table."""

from __future__ import annotations

import json
import math
import pathlib
import statistics

from dcn_keras import atomic


def write(out_dir, result: dict, markdown: str) -> dict:
    """Write `results.json` and `results.md` to `out_dir`, each atomically; returns
    {"result": result, "markdown": markdown}."""
    out_dir = pathlib.Path(out_dir)
    atomic.write_text(out_dir / "results.json", json.dumps(result, indent=2))
    atomic.write_text(out_dir / "results.md", markdown)
    return {"result": result, "markdown": markdown}


def summary(rows: list[dict], *keep: str) -> dict:
    """Mean, sample standard deviation and standard error of the mean of the test errors of
    `rows` (one model, one row per seed), with the first row's `model`, `kind`,
    `test_images` and the keys of `keep`."""
    errors = [row["test_error"] for row in rows]
    spread = statistics.stdev(errors) if len(errors) > 1 else None
    return {"model": rows[0]["model"], "kind": rows[0]["kind"],
            "seeds": [row["seed"] for row in rows], "mean": statistics.fmean(errors),
            "stdev": spread, "se_of_mean": spread / math.sqrt(len(errors)) if spread else None,
            "test_images": rows[0]["test_images"], **{key: rows[0][key] for key in keep}}


def seed_columns(rows: list[dict]) -> tuple[list[int], str, str]:
    """(seeds of `rows`, title of the per-seed error column's suffix, title of the mean
    column with its separator, "" for one seed) of a Markdown table of `rows`."""
    seeds = sorted({row["seed"] for row in rows})
    if len(seeds) == 1:
        return seeds, "", ""
    return seeds, ", seed " + " / ".join(map(str, seeds)), "Mean ± stdev of seeds | "


def error_cells(rows: list[dict], line: dict, seeds: list[int]) -> tuple[str, str]:
    """The Markdown cells of the model of `line` (a `summary`): its test error ± standard
    error per seed ("a / b / c", "-" where missing), and the mean ± stdev of the seeds with
    its separator ("" for one seed)."""
    errors = {(row["kind"], row["seed"]): row for row in rows}
    per_seed = " / ".join(
        f"{100 * errors[line['kind'], seed]['test_error']:.2f} ± "
        f"{100 * errors[line['kind'], seed]['standard_error']:.2f}%"
        if (line["kind"], seed) in errors else "-" for seed in seeds)
    if len(seeds) == 1:
        return per_seed, ""
    spread = f" ± {100 * line['stdev']:.2f}" if line["stdev"] is not None else ""
    return per_seed, f"{100 * line['mean']:.2f}{spread}% | "
