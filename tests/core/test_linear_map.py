import numpy as np
import pytest
import tensorflow as tf

from dcn_keras.core import linear_map


def _maps(rng, kernel, bias, noise=0.0, batches=3):
    """Source maps and targets made by a known same-padded convolution."""
    for _ in range(batches):
        source = rng.normal(size=(4, 9, 7, kernel.shape[2])).astype(np.float32)
        target = tf.nn.conv2d(source, kernel, 1, "SAME") + bias
        yield source, target + noise * rng.normal(size=target.shape).astype(np.float32)


def test_fit_recovers_a_known_linear_relation_between_neighbourhoods():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 5, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    fitted = linear_map.fit(_maps(rng, kernel, bias), window=3, l2=1e-9)
    np.testing.assert_allclose(fitted.kernel, kernel, atol=1e-3)
    np.testing.assert_allclose(fitted.bias, bias, atol=1e-3)
    assert fitted.r2 == pytest.approx(1.0, abs=1e-6)
    assert fitted.samples == 3 * 4 * 9 * 7 and fitted.window == 3


def test_fit_reports_the_variance_it_cannot_explain():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(3, 3, 2, 2)).astype(np.float32)
    # The targets depend on a 3x3 neighbourhood: one vector explains part, noise stays.
    one = linear_map.fit(_maps(rng, kernel, np.zeros(2, np.float32)), window=1)
    noisy = linear_map.fit(_maps(rng, kernel, np.zeros(2, np.float32), noise=3.0), window=3)
    assert 0.0 < one.r2 < 0.5
    assert 0.1 < noisy.r2 < 0.9


def test_the_fitted_map_runs_as_a_same_padded_convolution():
    rng = np.random.default_rng(2)
    kernel = rng.normal(size=(5, 5, 3, 2)).astype(np.float32)
    pairs = list(_maps(rng, kernel, np.ones(2, np.float32), noise=0.5))
    fitted = linear_map.fit(pairs, window=5)
    source, target = pairs[0]
    predicted = tf.nn.conv2d(source, fitted.kernel, 1, "SAME") + fitted.bias
    flat = linear_map.neighbourhoods(tf.constant(source), 5).numpy() @ \
        fitted.kernel.reshape(-1, 2) + fitted.bias
    np.testing.assert_allclose(predicted, flat, atol=1e-4)
    assert linear_map.r2_score(predicted, target) > 0.5


def test_fit_rejects_even_windows_and_empty_data():
    with pytest.raises(ValueError, match="positive odd"):
        linear_map.fit([], window=2)
    with pytest.raises(ValueError, match="data was empty"):
        linear_map.fit([], window=3)
