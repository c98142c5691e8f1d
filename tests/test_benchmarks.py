"""The scripts of benchmarks/ start and say what they take; the quick one runs and writes its
JSON. What they measure is recorded in docs/benchmarks.md, never asserted here."""

import json
import pathlib

import pytest

from tests.helpers import load_script

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


def _script(name: str):
    return load_script(BENCHMARKS / f"{name}.py")


def test_every_benchmark_is_on_the_benchmarks_page():
    page = (BENCHMARKS.parent / "docs" / "benchmarks.md").read_text()
    for path in BENCHMARKS.glob("*.py"):
        assert f"benchmarks/{path.name}" in page, path.name


@pytest.mark.parametrize("name", sorted(path.stem for path in BENCHMARKS.glob("*.py")))
def test_benchmarks_answer_help(name, capsys):
    with pytest.raises(SystemExit) as done:
        _script(name).main(["--help"])
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.slow
def test_refined_top_pass_times_both_passes_and_writes_its_json(tmp_path):
    out = tmp_path / "refined.json"
    _script("refined_top_pass").main(["--repeats", "1", "--json", str(out)])
    result = json.loads(out.read_text())
    assert "machine" in result
    assert [(row["input_size"], row["batch_size"]) for row in result["rows"]] == [
        ([100, 100], 64), ([100, 100], 1), ([200, 200], 64), ([200, 200], 1)]
    assert all(set(row["median_ms"]) == {"dense", "sparse"} for row in result["rows"])


def test_cli_start_times_every_help_and_writes_its_json(tmp_path):
    out = tmp_path / "cli.json"
    _script("cli_start").main(["--repeats", "1", "--json", str(out)])
    result = json.loads(out.read_text())
    commands = [row["command"] for row in result["rows"]]
    assert commands[0] == "dcn --help" and "dcn bench --help" in commands
    assert all(row["seconds"] > 0 for row in result["rows"])
    assert result["import_dcn_keras_seconds"] > 0 and "machine" in result


def test_megapixel_speed_times_every_model_at_every_side(tmp_path):
    out, png = tmp_path / "megapixel.json", tmp_path / "megapixel.png"
    _script("megapixel_speed").main(["--sides", "120", "160", "--repeats", "1", "--no-memory",
                                     "--train-sides", "120", "--train-batch", "2",
                                     "--json", str(out), "--png", str(png)])
    result = json.loads(out.read_text())
    assert [(row["side"], row["model"]) for row in result["rows"]] == [
        (side, model) for side in (120, 160)
        for model in ("low_resolution", "full_resolution", "dcn")]
    assert all(row["ms_per_image"] > 0 for row in result["rows"])
    ratio = result["full_resolution_over_dcn"]["160"]["ms_per_image"]
    by = {(row["side"], row["model"]): row["ms_per_image"] for row in result["rows"]}
    assert ratio == by[(160, "full_resolution")] / by[(160, "dcn")]
    assert png.stat().st_size > 0
    training = result["training"][0]
    assert training["side"] == 120 and training["batch_size"] == 2
    for kind, ms in training["ms_per_image"].items():
        assert training["epoch_minutes"][kind] == pytest.approx(ms * 5000 / 6e4)



def test_house_numbers_speed_times_each_reading_at_every_scale(house_numbers, tmp_path):
    out = tmp_path / "house.json"
    _script("house_numbers_speed").main([str(house_numbers), "--largest", "1",
                                         "--json", str(out)])
    result = json.loads(out.read_text())
    assert result["images"] == 1 and result["weights"] == "trained"
    assert result["scales"] == [1.0, 0.75, 0.5]
    readings = ["Coarse model, 3 scales", "Fine model, 3 scales", "Soft-attention, 3 scales",
                "DCN as in the paper, 3 + 3 + 3 patches",
                "DCN, confidence picks, sequence vote, 3 + 3 + 3 patches",
                "As served: DCN, confidence picks, sequence vote, 6 patches per scale"]
    assert list(result["mean_ms"]) == [f"{name}, {variant}" for variant in
                                       ("as trained", "folded") for name in readings]
    assert set(result["fine_over_dcn"]["folded"]) == set(readings[3:])
    assert set(result["folded_over_as_trained"]) == set(readings)
