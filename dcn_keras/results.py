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
