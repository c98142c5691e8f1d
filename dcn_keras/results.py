"""Writing an experiment's results: the JSON of every number and its Markdown table."""

from __future__ import annotations

import json
import pathlib

from dcn_keras import atomic


def write(out_dir, result: dict, markdown: str) -> dict:
    """Write `results.json` and `results.md` to `out_dir`, each atomically; returns
    {"result": result, "markdown": markdown}."""
    out_dir = pathlib.Path(out_dir)
    atomic.write_text(out_dir / "results.json", json.dumps(result, indent=2))
    atomic.write_text(out_dir / "results.md", markdown)
    return {"result": result, "markdown": markdown}
