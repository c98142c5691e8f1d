import dataclasses

import numpy as np
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.house_numbers import sequences
from dcn_keras.house_numbers.model import MultiDigitModel


def test_a_window_without_a_whole_number_is_trained_towards_uniform_softmaxes():
    model = MultiDigitModel(presets.house_numbers(), "coarse")
    images = tf.random.stateless_uniform([3, 54, 110, 1], [1, 2])
    length = tf.constant([2, 0, 1])  # 0: a cut window (`inputs.cut_windows`)
    digits = tf.constant([[3, 4, 10, 10, 10], [10] * 5, [7, 10, 10, 10, 10]])
    loss, wrong, whole = model._step_values((images, (length, digits)), training=False)
    np.testing.assert_array_equal(whole, [1, 0, 1])
    loss, error = tf.reduce_mean(loss), tf.reduce_sum(wrong) / tf.reduce_sum(whole)

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


def test_each_fine_position_of_a_window_without_a_whole_number_is_trained_towards_uniform():
    # A fine window has 6 x 13 positions; positions that are confident and disagree average
    # to near uniform, so the target is each position's distance, not their average's.
    model = MultiDigitModel(presets.house_numbers(), "fine")
    images = tf.random.stateless_uniform([2, 54, 110, 1], [3, 4])
    length = tf.constant([0, 0])
    digits = tf.fill([2, 5], 10)
    loss = tf.reduce_mean(model._step_values((images, (length, digits)), training=False)[0])

    maps = sequences.probabilities(model(images), 5, 11)
    assert maps[0].shape[1:3] == (6, 13)
    per_position = sequences.distance_to_uniform(*maps)
    np.testing.assert_allclose(loss, tf.reduce_mean(per_position), rtol=1e-4)
    of_average = tf.reduce_mean(sequences.distance_to_uniform(*sequences.average_pool(*maps)))
    assert float(loss) > float(of_average)


def test_the_sequence_error_of_an_epoch_is_over_its_examples_not_its_batches():
    # Batches of 2: the last holds one cut window, which the error does not count; it must
    # not count as a batch read without error either.
    model = MultiDigitModel(presets.house_numbers(), "coarse")
    model.compile()
    images = tf.random.stateless_uniform([3, 54, 110, 1], [5, 6])
    length = tf.constant([2, 1, 0])
    digits = tf.constant([[3, 4, 10, 10, 10], [7, 10, 10, 10, 10], [10] * 5])
    loss, wrong, whole = model._step_values((images, (length, digits)), training=False)
    result = model.evaluate(images, (length, digits), batch_size=2, verbose=0,
                            return_dict=True)
    np.testing.assert_allclose(result["sequence_error"],
                               tf.reduce_sum(wrong) / tf.reduce_sum(whole), atol=1e-6)
    np.testing.assert_allclose(result["loss"], tf.reduce_mean(loss), rtol=1e-5)


def test_fit_takes_numpy_labels_of_any_integer_type():
    model = MultiDigitModel(presets.house_numbers(), "coarse")
    model.compile(optimizer="adam")
    images = np.random.default_rng(0).uniform(size=(2, 54, 110, 1)).astype("float32")
    length = np.array([2, 1])  # int64, NumPy's default
    digits = np.array([[3, 4, 10, 10, 10], [7, 10, 10, 10, 10]])
    history = model.fit(images, (length, digits), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_a_folded_model_reads_images_as_the_trained_one():
    model = MultiDigitModel(presets.house_numbers(), "fine")
    rng = np.random.default_rng(0)
    for layer in model.network.layers:
        if "_bn" in layer.name:
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 0.5, n),
                               rng.normal(0, 0.5, n), rng.uniform(0.5, 2, n)])
    folded = model.folded()
    assert folded.config.batch_norm is False and folded.part == "fine"
    assert folded.folded() is folded
    images = tf.random.stateless_uniform([2, 70, 130, 1], [3, 4])
    sizes = tf.constant([[70, 130], [60, 110]])
    for want, have in zip(model.predict_sequence_probabilities(images, sizes),
                          folded.predict_sequence_probabilities(images, sizes), strict=True):
        np.testing.assert_allclose(have, want, atol=1e-4)


def test_the_composed_dcn_runs_folded_models_and_loads_back(tmp_path):
    from dcn_keras import training

    family = presets.family("house_numbers")
    # Model files written before the preset changed its attention record the old one.
    older = dataclasses.replace(family.config, attention="entropy_gradient",
                                combination="inverse_entropy")
    dcn = family.compose(*(MultiDigitModel(older, kind) for kind in ("coarse", "fine")),
                         num_patches=2)
    assert not dcn.coarse.config.batch_norm and not dcn.fine.config.batch_norm
    assert (dcn.attention, dcn.combination) == (family.config.attention,
                                                family.config.combination)
    dcn.save(tmp_path / "dcn.keras")
    loaded = training.load_model(tmp_path / "dcn.keras", family)
    assert loaded.fine.config == dcn.fine.config
