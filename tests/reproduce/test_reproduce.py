"""The scripts of reproduce/ on tiny runs: each writes its table from real trained models."""

import json
import pathlib
import shutil

import pytest

from tests.helpers import load_script

REPRODUCE = pathlib.Path(__file__).resolve().parents[2] / "reproduce"


def _script(name: str):
    return load_script(REPRODUCE / f"{name}.py")


def test_every_script_is_in_the_readme():
    readme = (REPRODUCE / "README.md").read_text()
    scripts = sorted(path.name for path in REPRODUCE.glob("*.py"))
    assert scripts == ["cluttered_mnist_seeds.py", "house_numbers_curves.py",
                       "house_numbers_data.py", "house_numbers_table2.py",
                       "megapixel_mnist_table.py"]
    for name in scripts:
        assert f"`{name}`" in readme


def test_cluttered_mnist_seeds_scores_every_model_of_a_study(experiment, tmp_path):
    study = tmp_path / "study"
    shutil.copytree(experiment / "data", study / "data")
    (study / "models").mkdir()
    for seed in (0, 1):  # the same models as two seeds: a spread of zero
        for kind in ("coarse", "dcn"):
            shutil.copy(experiment / "models" / f"{kind}.keras",
                        study / "models" / f"{kind}_s{seed}.keras")
    _script("cluttered_mnist_seeds").main([str(study)])
    result = json.loads((study / "seeds.json").read_text())
    assert result["test_images"] == 48
    assert set(result["models"]) == {"coarse", "dcn"}
    coarse, dcn = result["models"]["coarse"], result["models"]["dcn"]
    assert coarse["count"] == 2 and coarse["stdev"] == 0.0
    assert coarse["seeds"]["0"]["test_error"] == coarse["mean"]
    assert 0 < coarse["seeds"]["0"]["standard_error"] < 0.1
    assert set(dcn["seeds"]["1"]["error_versus_patches"]) >= {"1", "8", "32"}
    assert "| dcn |" in (study / "seeds.md").read_text()


def test_megapixel_mnist_table_puts_errors_beside_time_and_memory(mnist_dir, tmp_path):
    from dcn_keras import experiments, presets
    from dcn_keras.data import megapixel_mnist
    from dcn_keras.megapixel_mnist import speed

    megapixel = presets.family("megapixel_mnist")
    family = megapixel.with_config(megapixel.config.resized(300))
    data = tmp_path / "data"
    megapixel_mnist.build(data, mnist_dir, {"train": 4, "valid": 2, "test": 3}, side=300,
                          progress=False)
    recipe = family.recipe("smoke")
    experiments.train_model(family, "dcn", data, tmp_path / "models/dcn.keras", recipe, 0)
    family.report(data, tmp_path / "models", tmp_path / "report", recipe)
    timed = tmp_path / "speed.json"
    timed.write_text(json.dumps({"machine": "m", **speed.scaling([300, 400], repeats=1,
                                                                  memory=False)}))
    out = tmp_path / "table.json"
    _script("megapixel_mnist_table").main([str(tmp_path / "report"), "--speed", str(timed),
                                           "--json", str(out)])
    result = json.loads(out.read_text())
    rows = {row["kind"]: row for row in result["rows"]}
    assert set(rows) == {"low_resolution", "full_resolution", "dcn"}  # all timed at 300
    assert all(row["side"] == 300 for row in rows.values())
    dcn = rows["dcn"]
    assert dcn["seeds"] == [0] and dcn["test_images"] == 3
    error = dcn["test_error"]
    assert dcn["standard_error"] == pytest.approx((error * (1 - error) / 3) ** 0.5)
    assert rows["full_resolution"]["test_error"] is None  # timed, not trained
    assert dcn["ms_per_image"] > 0
    assert {row["side"] for row in result["scaling"]} == {300, 400}


def test_house_numbers_table2_rebuilds_the_report(house_numbers, tmp_path):
    out = tmp_path / "table2"
    args = [str(house_numbers), "--images", "2", "--all-patches", "1", "--out", str(out)]
    _script("house_numbers_table2").main(args)
    result = json.loads((out / "results.json").read_text())
    assert result["test_images"] == 2
    names = {row["name"] for row in result["rows"]}
    assert {"Coarse model", "Fine model"} <= names
    assert [row["name"] for row in result["rows"] if row["patches"] == "all"] == [
        "Fine network on every window, Eq. 12-14",
        "Fine network on every window, sequence vote"]
    assert all(row["images"] == 1 for row in result["rows"] if row["patches"] == "all")
    assert not (out / ".progress").exists()  # cleared once the table is written


def test_house_numbers_curves_read_every_kept_epoch(house_numbers, tmp_path):
    png, out = tmp_path / "curves.png", tmp_path / "curves.json"
    _script("house_numbers_curves").main([str(house_numbers), "--images", "2",
                                          "--png", str(png), "--json", str(out)])
    curves = json.loads(out.read_text())["curves"]
    assert set(curves["valid_crops"]) == {"coarse", "fine"}
    assert list(curves["test_canvases"]["coarse"]) == ["1"]
    assert 0.0 <= curves["test_canvases"]["dcn"]["1"] <= 1.0
    assert png.stat().st_size > 10_000


def test_house_numbers_data_describes_the_generated_test_images(mnist_dir, tmp_path):
    png, out = tmp_path / "sizes.png", tmp_path / "sizes.json"
    _script("house_numbers_data").main(["--mnist-dir", str(mnist_dir), "--images", "20",
                                        "--png", str(png), "--json", str(out)])
    result = json.loads(out.read_text())
    assert set(result["splits"]) == {"test", "test_large"}
    for split in result["splits"].values():
        assert split["images"] == 20
        assert abs(sum(split["nearest_scale_share"].values()) - 1) < 1e-3
        assert 0 <= split["share_in_training_range_at_nearest_scale"] <= 1
    # The same images as the recorded figures: the generator is seeded per example.
    recorded = json.loads((REPRODUCE.parent / "docs" / "bench" /
                           "house_numbers_test_distribution.json").read_text())
    assert result["training_digit_height"] == recorded["training_digit_height"]
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize("name", ["cluttered_mnist_seeds", "house_numbers_table2",
                                  "house_numbers_curves", "house_numbers_data"])
def test_scripts_answer_help_with_their_purpose(name, capsys):
    with pytest.raises(SystemExit) as done:
        _script(name).main(["--help"])
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out
