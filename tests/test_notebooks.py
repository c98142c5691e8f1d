import os
import pathlib
import sys

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
TOUR = NOTEBOOKS[0]


def test_there_are_notebooks():
    assert [path.name for path in NOTEBOOKS] == ["dcn_tour.ipynb", "house_numbers.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_outputs_are_stripped_in_git(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


def _execute(path, monkeypatch, **environment) -> tuple[list, str]:
    """Run a notebook headless; returns its outputs and their text."""
    # The kernel must be this environment's Python, whatever PATH the caller has.
    monkeypatch.setenv("PATH", f"{pathlib.Path(sys.executable).parent}{os.pathsep}"
                       f"{os.environ.get('PATH', '')}")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return outputs, "".join(o.get("text", "") for o in outputs)


def _pictures(outputs) -> list:
    return [o for o in outputs if "image/png" in o.get("data", {})]


@pytest.mark.e2e
@pytest.mark.parametrize("layout", ["pipeline_run", "experiment"])
def test_tour_runs_headless_on_a_trained_run(layout, request, monkeypatch):
    run = request.getfixturevalue(layout)
    outputs, text = _execute(TOUR, monkeypatch, DCN_RUN_DIR=str(
        run["root"] if layout == "pipeline_run" else run))
    assert len(_pictures(outputs)) == 2  # the patches and the error-versus-k plot
    assert "DynamicCapacityNetwork k = 8" in text
    assert "boxes: (8, 8, 4)" in text


def test_house_numbers_notebook_runs_headless_on_a_run(house_numbers, monkeypatch):
    outputs, text = _execute(NOTEBOOKS[1], monkeypatch, DCN_HOUSE_DIR=str(house_numbers))
    assert len(_pictures(outputs)) == 2  # the patches and the saliency map
    assert "MultiDigitDCN k = 2" in text and "boxes: (3, 2, 4)" in text
    assert any("text/markdown" in o.get("data", {}) and "Sequence error" in
               o["data"]["text/markdown"] for o in outputs)


def test_a_notebook_without_its_run_says_what_to_run_first(tmp_path, monkeypatch):
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match="run `make house-numbers`"):
        _execute(NOTEBOOKS[1], monkeypatch, DCN_HOUSE_DIR=str(tmp_path / "none"))
