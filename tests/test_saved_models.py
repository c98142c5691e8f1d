"""`.keras` files written before the package moved into families still load and predict
the same: the files in tests/fixtures were made by dcn-keras 0.1 (commit 6dbdf61)."""

import pathlib

import keras
import numpy as np

import dcn_keras

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
