import keras
import numpy as np
import pytest
import tensorflow as tf

import dcn_keras
from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.core import patches, refine, saliency
from tests.helpers import run_model_saving_test


@pytest.fixture(scope="module")
def model(config):
    keras.utils.set_random_seed(0)
    return DynamicCapacityNetwork(config)


def test_public_api(config):
    assert dcn_keras.presets.cluttered_mnist() == config
    assert dcn_keras.saliency.entropy_saliency is saliency.entropy_saliency
    model = dcn_keras.DynamicCapacityNetwork(config)
    assert isinstance(model, keras.Model)
    assert {"coarse", "fine", "top"} <= set(dir(model))


def test_attend_reports_saliency_positions_boxes(model, images, config):
    out = model.attend(images)
    assert out["probabilities"].shape == (3, 10)
    assert out["saliency"].shape == (3, 23, 23)
    assert out["positions"].shape == (3, 8, 2)
    assert out["boxes"].shape == (3, 8, 4)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
    coarse = model.coarse(images, training=False)
    expected_map = saliency.entropy_saliency(model.top, coarse)
    np.testing.assert_allclose(out["saliency"], expected_map, rtol=1e-5)
    expected_positions = saliency.top_k_positions(expected_map, 8)
    np.testing.assert_array_equal(out["positions"], expected_positions)
    np.testing.assert_array_equal(out["boxes"],
                                  patches.patch_boxes(expected_positions, config.geometry().grid))
    np.testing.assert_allclose(model(images), out["probabilities"], rtol=1e-5)


def test_prediction_is_the_refined_model(model, images, config):
    """g(f_r(x)) computed by hand from the parts equals the model's output."""
    out = model.attend(images)
    coarse = model.coarse(images, training=False)
    cut = patches.cut_patches(images, out["positions"], config.geometry().grid)
    fine = tf.reshape(model.fine(tf.reshape(cut, [-1, 14, 14, 1]), training=False), [3, 8, 24])
    refined = refine.refine(coarse, fine, out["positions"])
    expected = tf.nn.softmax(model.top(refined, training=False))
    np.testing.assert_allclose(out["probabilities"], expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out["coarse_probabilities"],
                               tf.nn.softmax(model.top(coarse, training=False)), rtol=1e-5)


def test_num_patches_changes_the_prediction_path(model, images):
    one = model.predict_with_patches(images, 1)
    all_positions = model.predict_with_patches(images, 529)
    assert one.shape == all_positions.shape == (3, 10)
    assert model.attend(images, num_patches=16)["positions"].shape == (3, 16, 2)


def test_save_load_round_trip_gives_identical_predictions(model, images, tmp_path):
    loaded = run_model_saving_test(model, (images,), tmp_path,
                                   call=lambda m, x: m.attend(x))
    assert (loaded.num_patches, loaded.hint_weight, loaded.config) == \
        (model.num_patches, model.hint_weight, model.config)


def test_training_fits_a_small_batch(config):
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    images = rng.random((32, 100, 100, 1), dtype=np.float32) * 0.2
    labels = np.arange(32) % 4
    for index, label in enumerate(labels):  # a class-dependent bright square somewhere
        row, col = rng.integers(0, 80, size=2)
        images[index, row:row + 16, col:col + 16] = (label + 1) / 4
    model = DynamicCapacityNetwork(config, hint_weight=0.1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(images, labels, epochs=15, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert history["accuracy"][-1] > 0.5
    assert set(history) >= {"cross_entropy", "hint_distance", "accuracy", "loss"}


@pytest.mark.parametrize("bad, error, message", [
    (np.zeros((2, 100, 100, 1), np.uint8), TypeError, "float images"),
    (np.zeros((2, 64, 64, 1), np.float32), ValueError, r"\[batch, 100, 100, 1\]"),
    (np.zeros((100, 100, 1), np.float32), ValueError, "batch axis"),
    (np.zeros((2, 100, 100), np.float32), ValueError, "channel axis"),
])
def test_bad_images_get_clear_errors(model, bad, error, message):
    with pytest.raises(error, match=message):
        model(bad)
    with pytest.raises(error, match=message):
        model.attend(bad)


@pytest.mark.parametrize("k", [0, 530, 2.5])
def test_bad_number_of_patches(config, model, images, k):
    with pytest.raises(ValueError, match="from 1 to 529"):
        DynamicCapacityNetwork(config, num_patches=k)
    with pytest.raises(ValueError, match="from 1 to 529"):
        model.attend(images, num_patches=k)


def test_hint_weight_must_be_convex(config):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        DynamicCapacityNetwork(config, hint_weight=1.5)
