import keras
import numpy as np
import pytest
import tensorflow as tf

from dcn_keras.core import distillation


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_distillation_loss_is_t_squared_kl_of_the_softened_distributions():
    rng = np.random.default_rng(0)
    teacher = _softmax(rng.normal(size=(5, 10)) * 3)
    logits = rng.normal(size=(5, 10)).astype(np.float32)
    t = distillation.TEMPERATURE
    q = _softmax(np.log(teacher) / t)
    p = _softmax(logits / t)
    expected = t ** 2 * np.mean(np.sum(q * (np.log(q) - np.log(p)), axis=-1))
    got = distillation.distillation_loss(teacher.astype(np.float32), logits)
    assert float(got) == pytest.approx(expected, rel=1e-4)
    # A student that predicts what the teacher predicts has nothing left to learn.
    assert float(distillation.distillation_loss(teacher, np.log(teacher))) == \
        pytest.approx(0.0, abs=1e-5)


def test_with_teacher_adds_the_teachers_probabilities_to_each_batch():
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3),
                                keras.layers.Softmax()])
    images = np.random.default_rng(1).random((6, 4), dtype=np.float32)
    data = tf.data.Dataset.from_tensor_slices((images, np.arange(6))).batch(4)
    batches = list(distillation.with_teacher(data, teacher))
    assert [len(batch) for batch in batches] == [3, 3]
    probabilities = np.concatenate([batch[2] for batch in batches])
    np.testing.assert_allclose(probabilities, teacher(images), atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([batch[1] for batch in batches]),
                                  np.arange(6))
