import numpy as np
import tensorflow as tf

from dcn_keras.classifier import networks
from dcn_keras.core import saliency


def _entropy_numpy(logits):
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return -(p * np.log(p)).sum(-1)


def test_entropy_from_logits_matches_definition():
    logits = np.random.default_rng(1).normal(size=(5, 10)).astype(np.float32) * 3
    np.testing.assert_allclose(saliency.entropy_from_logits(logits).numpy(),
                               _entropy_numpy(logits), rtol=1e-5)


def test_saliency_equals_independent_per_example_computation(config):
    top = networks.top_network(config)
    # Non-trivial moving statistics, so inference mode differs from batch statistics.
    for layer in top.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization) or "bn" in layer.name:
            layer.moving_mean.assign(tf.fill(layer.moving_mean.shape, 0.3))
            layer.moving_variance.assign(tf.fill(layer.moving_variance.shape, 2.0))
    features = np.random.default_rng(2).random((4, 23, 23, 24), dtype=np.float32)
    batch_map = saliency.entropy_saliency(top, tf.constant(features)).numpy()
    assert batch_map.shape == (4, 23, 23)
    for index in range(4):
        single = tf.constant(features[index:index + 1])
        with tf.GradientTape() as tape:
            tape.watch(single)
            probabilities = tf.nn.softmax(top(single, training=False))
            entropy = -tf.reduce_sum(probabilities * tf.math.log(probabilities))
        expected = np.sqrt((tape.gradient(entropy, single).numpy() ** 2).sum(-1))[0]
        np.testing.assert_allclose(batch_map[index], expected, rtol=1e-4, atol=1e-7)
    assert batch_map.std() > 0


def test_top_k_positions_are_the_k_largest():
    values = np.random.default_rng(3).random((2, 23, 23)).astype(np.float32)
    positions = saliency.top_k_positions(tf.constant(values), 8).numpy()
    assert positions.shape == (2, 8, 2)
    for index in range(2):
        expected = np.argsort(-values[index].ravel())[:8]
        got = positions[index, :, 0] * 23 + positions[index, :, 1]
        np.testing.assert_array_equal(got, expected)
