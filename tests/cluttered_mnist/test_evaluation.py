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
