import json

import numpy as np
import pytest

from dcn_keras import experiments, presets
from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.data import megapixel_mnist


@pytest.fixture(scope="module")
def family():
    """The Megapixel MNIST family on 300 x 300 canvases, so that tests run in seconds."""
    megapixel = presets.family("megapixel_mnist")
    return megapixel.with_config(megapixel.config.resized(300))


@pytest.fixture(scope="module")
def data(tmp_path_factory, mnist_dir):
    out = tmp_path_factory.mktemp("megapixel") / "data"
    megapixel_mnist.build(out, mnist_dir, {"train": 4, "valid": 2, "test": 3}, side=300,
                          progress=False)
    return out


def test_the_preset_builds_its_three_models(family):
    assert presets.family("megapixel_mnist").config.side == 1500
    dcn = family.build("dcn", num_patches=3)
    assert isinstance(dcn, DynamicCapacityNetwork) and dcn.num_patches == 3
    assert family.build("full_resolution").input_shape == (None, 300, 300, 1)
    assert family.build("low_resolution").input_shape == (None, 36, 36, 1)


def test_each_model_reads_what_it_takes(family, data):
    images, labels = next(iter(family.test_dataset(data / "test.tfrecord", 3)))
    views, same = next(iter(family.test_dataset(data / "test.tfrecord", 3,
                                                kind="low_resolution")))
    assert images.shape == (3, 300, 300, 1) and views.shape == (3, 36, 36, 1)
    np.testing.assert_array_equal(labels, same)
    np.testing.assert_allclose(family.inputs("low_resolution", images), views, atol=1e-6)


def test_models_train_and_are_reported_with_their_standard_errors(family, data, tmp_path):
    recipe = family.recipe("smoke")
    for kind in ("low_resolution", "dcn"):
        experiments.train_model(family, kind, data, tmp_path / f"{kind}.keras", recipe, 0)
    out = family.report(data, tmp_path, tmp_path / "report", recipe)
    rows = out["result"]["rows"]
    assert [(row["kind"], row["test_images"]) for row in rows] == \
        [("low_resolution", 3), ("dcn", 3)]
    for row in rows:
        error = row["test_error"]
        assert row["standard_error"] == pytest.approx((error * (1 - error) / 3) ** 0.5)
    saved = json.loads((tmp_path / "report/results.json").read_text())
    assert saved["reference"] == "full_resolution"
    assert saved["image_shape"] == [300, 300, 1]
    assert (tmp_path / "report/patches.png").exists()


def test_the_models_take_the_side_of_their_data(data, tmp_path):
    family = presets.family("megapixel_mnist")
    assert family.for_data(data).config.side == 300
    assert family.for_data(tmp_path).config.side == 1500  # no data there: the readers say so
    with pytest.raises(ValueError, match="--side is for megapixel_mnist"):
        presets.family("cluttered_mnist").build_data(tmp_path, None, {}, 0, side=300)
