import numpy as np
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.multi_digit import sequences
from dcn_keras.multi_digit.model import MultiDigitModel


def test_a_window_without_a_whole_number_is_trained_towards_uniform_softmaxes():
    model = MultiDigitModel(presets.svhn(), "coarse")
    images = tf.random.stateless_uniform([3, 54, 110, 1], [1, 2])
    length = tf.constant([2, 0, 1])  # 0: a cut window (`sequence_inputs.cut_windows`)
    digits = tf.constant([[3, 4, 10, 10, 10], [10] * 5, [7, 10, 10, 10, 10]])
    loss, error = model._step_values((images, (length, digits)), training=False)

    length_p, digit_p = model.predict_sequence_probabilities(images)
    whole = [0, 2]
    log_p = sequences.sequence_log_probability(
        tf.gather(length_p, whole), tf.gather(digit_p, whole), tf.gather(length, whole),
        tf.gather(digits, whole))
    cut = sequences.distance_to_uniform(length_p[1:2], digit_p[1:2])
    expected = (-log_p[0] - log_p[1] + cut[0]) / 3
    np.testing.assert_allclose(loss, expected, rtol=1e-4)
    # The sequence error counts whole numbers only.
    predicted = sequences.best_sequence(tf.gather(length_p, whole), tf.gather(digit_p, whole))
    wrong = sequences.sequence_errors(*predicted, tf.gather(length, whole),
                                      tf.gather(digits, whole))
    np.testing.assert_allclose(error, tf.reduce_mean(tf.cast(wrong, tf.float32)))
