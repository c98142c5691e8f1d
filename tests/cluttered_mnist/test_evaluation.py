import keras
import numpy as np
import pytest
import tensorflow as tf

from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.cluttered_mnist import evaluation


@pytest.fixture(scope="module")
def model(config):
    keras.utils.set_random_seed(0)
    return DynamicCapacityNetwork(config)


def test_every_k_in_one_pass_equals_each_k_alone(model, images):
    ks = (1, 3, 8, 32)
    at_every_k = evaluation.patch_count_function(model, ks)(tf.constant(images))
    assert sorted(at_every_k) == list(ks)
    for k in ks:
        np.testing.assert_allclose(at_every_k[k], model.predict_with_patches(images, k),
                                   atol=1e-5)


def test_errors_at_every_k_count_each_k_as_its_own_inference(model):
    rng = np.random.default_rng(1)
    images = rng.random((10, 100, 100, 1), np.float32)
    labels = rng.integers(0, 10, 10).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    curve = evaluation.error_versus_patches(model, data, (2, 4))
    for k in (2, 4):
        alone = evaluation.error_rate(evaluation.inference_function(model, k), data)
        assert curve[k] == alone and alone in {i / 10 for i in range(11)}


def test_more_patches_than_positions_are_refused_before_tracing(model):
    with pytest.raises(ValueError, match="num_patches"):
        evaluation.patch_count_function(model, (1, 10_000))


def test_ink_inside_counts_the_lit_pixels_of_the_digit_box_that_some_patch_holds():
    images = np.zeros((3, 10, 10, 1), np.float32)
    images[:, 2:6, 2:6] = 1.0  # 16 lit pixels in the digit's box
    images[:, 8, 8] = 1.0  # clutter outside the box: not the digit's
    images[2] = 0.0
    digit_boxes = np.array([[2, 2, 6, 6]] * 3)
    patch_boxes = np.array([
        [[0, 0, 4, 10], [0, 0, 4, 10]],  # rows 2-3 of the box, twice: 8 of 16
        [[2, 2, 6, 4], [4, 0, 12, 12]],  # columns 2-3, then rows 4-5: 4 + 4 + 4 of 16
        [[0, 0, 1, 1], [0, 0, 1, 1]],  # no ink in the box: nothing to miss
    ])
    np.testing.assert_allclose(evaluation.ink_inside(images, digit_boxes, patch_boxes),
                               [0.5, 0.75, 1.0])


def test_digit_ink_inside_patches_reads_the_patches_the_model_attends(model, images):
    boxes = model.attend(images)["boxes"].numpy()
    digit_boxes = np.array([[30, 30, 58, 58]] * len(images))
    labels = np.zeros(len(images), np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels, digit_boxes)).batch(3)
    np.testing.assert_allclose(
        evaluation.digit_ink_inside_patches(model, dataset),
        evaluation.ink_inside(np.asarray(images), digit_boxes, boxes))
