"""Models written by earlier releases still load and predict the same: the files in
tests/fixtures were made by dcn-keras 0.1 (commit 6dbdf61) and 0.2.0 (commit fabacf2), the
0.2 ones with the constructor arguments and config fields that this release drops."""

import pathlib

import keras
import numpy as np

import dcn_keras
from dcn_keras.data import tfrecords

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def test_a_cluttered_mnist_dcn_saved_by_0_1_loads_and_predicts_the_same():
    model = keras.models.load_model(FIXTURES / "v0_1_dcn_cluttered_mnist.keras")
    assert isinstance(model, dcn_keras.DynamicCapacityNetwork)
    assert (model.num_patches, model.hint_weight, model.patch_method) == (4, 0.2, "gather")
    assert model.config == dcn_keras.presets.cluttered_mnist()
    images = np.random.default_rng(0).random((2, 100, 100, 1), np.float32)
    np.testing.assert_allclose(
        model(images), np.load(FIXTURES / "v0_1_dcn_cluttered_mnist_probabilities.npy"),
        atol=1e-6)


def test_a_multi_digit_dcn_saved_by_0_1_loads_and_predicts_the_same():
    model = keras.models.load_model(FIXTURES / "v0_1_multi_digit_dcn_tiny.keras")
    assert isinstance(model, dcn_keras.MultiDigitDCN)
    assert isinstance(model.coarse, dcn_keras.MultiDigitModel)
    assert (model.num_patches, model.scales, model.config.name) == (2, (1.0, 0.75), "svhn_tiny")
    saved = np.load(FIXTURES / "v0_1_multi_digit_dcn_tiny_outputs.npz")
    outputs = model(saved["images"])
    np.testing.assert_allclose(outputs["length"], saved["length"], atol=1e-6)
    np.testing.assert_allclose(outputs["digits"], saved["digits"], atol=1e-6)


def test_a_cluttered_mnist_dcn_saved_by_0_2_with_retired_arguments_loads_the_same():
    # Written by 0.2.0 with a bridge and a distillation weight, which DCNs no longer take.
    model = keras.models.load_model(FIXTURES / "v0_2_dcn_cluttered_mnist_bridge.keras")
    assert isinstance(model, dcn_keras.DynamicCapacityNetwork)
    assert (model.num_patches, model.hint_weight, model.bridge) == (4, 0.2, 3)
    assert not hasattr(model, "distillation_weight")
    assert "distillation_weight" not in model.get_config()
    images = np.random.default_rng(0).random((2, 100, 100, 1), np.float32)
    expected = np.load(FIXTURES / "v0_2_dcn_cluttered_mnist_bridge_probabilities.npy")
    np.testing.assert_allclose(model(images), expected, atol=1e-6)


def test_a_house_numbers_dcn_saved_by_0_2_under_the_svhn_name_loads_the_same():
    # Written by 0.2.0 as preset "svhn", with training-window fields this release drops.
    model = keras.models.load_model(FIXTURES / "v0_2_svhn_dcn_tiny.keras")
    assert isinstance(model, dcn_keras.MultiDigitDCN)
    assert model.config.name == "house_numbers" == dcn_keras.presets.house_numbers().name
    for retired in ("cut_rows", "wrong_size_share", "fine_context"):
        assert not hasattr(model.config, retired)
    assert (model.num_patches, model.scales) == (2, (1.0, 0.75))
    assert model.config.cut_window_share == 0.25
    saved = np.load(FIXTURES / "v0_2_svhn_dcn_tiny_outputs.npz")
    outputs = model(saved["images"])
    for name in ("length", "digits", "boxes"):
        np.testing.assert_allclose(outputs[name], saved[name], atol=1e-6)
    # The family takes it as its own: the preset is one, under the new name.
    family = dcn_keras.presets.family("house_numbers")
    family.check(model.coarse, "coarse.keras")


def test_a_serving_savedmodel_exported_by_0_2_serves_the_same_probabilities():
    import tensorflow as tf

    served = tf.saved_model.load(str(FIXTURES / "v0_2_dcn_cluttered_mnist_savedmodel" / "1"))
    images = np.random.default_rng(0).random((2, 100, 100, 1), np.float32)
    outputs = served.signatures["serving_images"](images=tf.constant(images))
    expected = np.load(FIXTURES / "v0_2_dcn_cluttered_mnist_bridge_probabilities.npy")
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)
    np.testing.assert_array_equal(outputs["classes"], expected.argmax(-1))
    # The tf.Example signature reads 8-bit images: the same as the Keras model on them.
    pixels = np.round(images * 255).astype(np.uint8)
    examples = [tfrecords.serialize(image, 0, (0, 0, 1, 1)) for image in pixels]
    by_example = served.signatures["serving_default"](examples=tf.constant(examples))
    model = keras.models.load_model(FIXTURES / "v0_2_dcn_cluttered_mnist_bridge.keras")
    np.testing.assert_allclose(by_example["probabilities"], model(pixels / np.float32(255)),
                               atol=1e-5)
