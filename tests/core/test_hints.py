import numpy as np
import tensorflow as tf

from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.core import hints


def test_hint_distance_is_sum_of_squared_differences_over_patches():
    coarse = np.zeros((1, 23, 23, 24), np.float32)
    coarse[0, 2, 3] = 1.0
    fine = np.zeros((1, 2, 24), np.float32)
    positions = tf.constant([[[2, 3], [5, 5]]], tf.int32)
    assert hints.hint_distance(coarse, fine, positions).numpy()[0] == 24.0


def _gradients(model, images, labels, term):
    variables = {"coarse": model.coarse.trainable_variables,
                 "fine": model.fine.trainable_variables, "top": model.top.trainable_variables}
    with tf.GradientTape(persistent=True) as tape:
        _, values = model._loss_terms(images, labels, training=True)
    return {name: [tf.zeros(v.shape) if g is None else g
                   for v, g in zip(group, tape.gradient(values[term], group))]
            for name, group in variables.items()}


def _assert_close(got, expected):
    # float32 sums over thousands of terms carry rounding of about 1e-6 of the tensor's
    # largest entry, and where it falls differs between CPUs: scale the tolerance to it.
    expected = np.asarray(expected)
    scale = float(np.max(np.abs(expected))) or 1.0
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=1e-5 * scale)


def _norm(gradients):
    return float(sum(tf.reduce_sum(tf.square(g)) for g in gradients))


def test_hint_loss_trains_only_the_coarse_layers(config, images):
    model = DynamicCapacityNetwork(config, hint_weight=0.3)
    labels = tf.constant([1, 2, 3])
    gradients = _gradients(model, images, labels, "hint_distance")
    assert _norm(gradients["coarse"]) > 0
    assert _norm(gradients["fine"]) == 0
    assert _norm(gradients["top"]) == 0


def test_coarse_layers_follow_convex_combination(config, images):
    """d loss / d coarse = (1 - a) d CE / d coarse + a d hint / d coarse; fine, top: d CE."""
    labels = tf.constant([1, 2, 3])
    model = DynamicCapacityNetwork(config, hint_weight=0.25)
    without = DynamicCapacityNetwork(config, hint_weight=0.0)
    # Every training-mode pass moves the batch-norm statistics that the saliency reads,
    # so each gradient starts from the same weights.
    weights = model.get_weights()
    total = _gradients(model, images, labels, "loss")
    model.set_weights(weights)
    hint = _gradients(model, images, labels, "hint_distance")
    without.set_weights(weights)
    cross_entropy = _gradients(without, images, labels, "cross_entropy")
    for got, ce, h in zip(total["coarse"], cross_entropy["coarse"], hint["coarse"]):
        _assert_close(got, 0.75 * ce + 0.25 * h)
    for group in ("fine", "top"):
        for got, ce in zip(total[group], cross_entropy[group]):
            _assert_close(got, ce)
