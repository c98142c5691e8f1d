import os
import pathlib
import sys

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert [path.name for path in NOTEBOOKS] == ["dcn_tour.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_outputs_are_stripped_in_git(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("layout", ["pipeline_run", "experiment"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_headless_on_a_trained_run(path, layout, request, monkeypatch):
    run = request.getfixturevalue(layout)
    # The kernel must be this environment's Python, whatever PATH the caller has.
    monkeypatch.setenv("PATH", f"{pathlib.Path(sys.executable).parent}{os.pathsep}"
                       f"{os.environ.get('PATH', '')}")
    monkeypatch.setenv("DCN_RUN_DIR", str(run["root"] if layout == "pipeline_run" else run))
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the patches and the error-versus-k plot
    text = "".join(o.get("text", "") for o in outputs)
    assert "DynamicCapacityNetwork k = 8" in text
    assert "boxes: (8, 8, 4)" in text
