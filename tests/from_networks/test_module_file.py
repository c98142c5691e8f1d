import json
import pathlib

import pytest

from dcn_keras import presets
from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.from_networks import module_file
from dcn_keras_cli import cli

TINY = pathlib.Path(__file__).with_name("tiny_networks.py")


def test_a_module_file_gives_a_family_of_its_networks_on_the_presets_data():
    family = presets.family("cluttered_mnist", TINY)
    assert family.model_kinds == ("small_cnn", "dcn")
    assert family.reference_kind == "small_cnn"
    assert family.titles == {"small_cnn": "Small cnn", "dcn": "DCN"}
    assert family.recipes is presets.family("cluttered_mnist").recipes
    dcn = family.build("dcn")
    assert isinstance(dcn, DynamicCapacityNetwork) and dcn.num_patches == 4
    assert (dcn.geometry.map_height, dcn.geometry.stride, dcn.geometry.patch_size) == (24, 4, 8)
    assert family.build("dcn", num_patches=2, hint_weight=0.0).num_patches == 2
    assert family.build("small_cnn").output_shape == (None, 10)
    with pytest.raises(ValueError, match="trains small_cnn, dcn, not 'fine'"):
        family.build("fine")


@pytest.mark.parametrize("text, error", [
    ("import keras\n", "does not define coarse_network, fine_network, top_network"),
    ("def coarse_network(s): pass\ndef fine_network(s): pass\n", "does not define top_network"),
    ("raise RuntimeError('broken')\n", "failed to import .RuntimeError: broken"),
    ("from tiny import *\n", "failed to import .ModuleNotFoundError"),
])
def test_a_module_file_without_its_networks_is_refused_by_name(tmp_path, text, error):
    path = tmp_path / "networks.py"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        module_file.load(path)


@pytest.mark.parametrize("extra, error", [
    ("BASELINES = {'cnn': 3}", "BASELINES must map names"),
    ("BASELINES = {'dcn': coarse_network}", "may not be called dcn"),
    ("REFERENCE = 'cnn'", "REFERENCE 'cnn' is none of its BASELINES .none."),
])
def test_bad_baselines_are_refused(tmp_path, extra, error):
    path = tmp_path / "networks.py"
    path.write_text(TINY.read_text().replace("BASELINES[\"small_cnn\"] = small_cnn", "")
                    .replace('REFERENCE = "small_cnn"', "") + "\n" + extra + "\n")
    with pytest.raises(ValueError, match=error):
        module_file.load(path)


def test_a_missing_module_file_and_a_preset_of_many_sizes_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="No module file at .*nowhere.py"):
        presets.family("cluttered_mnist", tmp_path / "nowhere.py")
    with pytest.raises(ValueError, match="images of many sizes"):
        presets.family("house_numbers", TINY)


def test_the_cli_trains_evaluates_and_exports_a_module_files_models(tmp_path, mnist_dir):
    data, models = tmp_path / "data", tmp_path / "models"
    module = ["--module-file", str(TINY), "--profile", "smoke"]
    assert cli.main(["data", "--out", str(data), "--mnist-dir", str(mnist_dir), "--train",
                     "32", "--valid", "16", "--test", "16", "--profile", "smoke"]) == 0
    for kind in ("small_cnn", "dcn"):
        assert cli.main(["train", *module, "--model", kind, "--data", str(data), "--out",
                         str(models / f"{kind}.keras"), "--verbose", "0"]) == 0
    assert cli.main(["evaluate", *module, "--data", str(data), "--models", str(models),
                     "--out", str(tmp_path / "report")]) == 0
    result = json.loads((tmp_path / "report/results.json").read_text())
    assert [(row["kind"], row["test_images"]) for row in result["rows"]] == \
        [("small_cnn", 16), ("dcn", 16)]
    assert set(result["ms_per_image"]) == {"small_cnn", "dcn"}
    assert (tmp_path / "report/patches.png").stat().st_size > 0
    assert cli.main(["export", "--module-file", str(TINY), "--model",
                     str(models / "dcn.keras"), "--out", str(tmp_path / "serving")]) == 0
    assert (tmp_path / "serving/1/saved_model.pb").exists()


def test_a_model_with_other_classes_is_refused_on_loading(tmp_path):
    import keras

    from dcn_keras import training

    other = keras.Sequential([keras.Input((100, 100, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3)], name="three_classes")
    other.save(tmp_path / "small_cnn.keras")
    with pytest.raises(ValueError, match="'three_classes' with 3 outputs, but preset "
                                         "'cluttered_mnist' has 10 classes"):
        training.load_model(tmp_path / "small_cnn.keras",
                            presets.family("cluttered_mnist", TINY))
