import numpy as np
import pytest

from dcn_keras.core import distillation


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_distillation_loss_is_t_squared_kl_of_the_softened_distributions():
    rng = np.random.default_rng(0)
    teacher = _softmax(rng.normal(size=(5, 10)) * 3)
    logits = rng.normal(size=(5, 10)).astype(np.float32)
    t = 3.0
    q = _softmax(np.log(teacher) / t)
    p = _softmax(logits / t)
    expected = t ** 2 * np.mean(np.sum(q * (np.log(q) - np.log(p)), axis=-1))
    got = distillation.distillation_loss(teacher.astype(np.float32), logits, t)
    assert float(got) == pytest.approx(expected, rel=1e-4)
    # A student that predicts what the teacher predicts has nothing left to learn.
    assert float(distillation.distillation_loss(teacher, np.log(teacher))) == \
        pytest.approx(0.0, abs=1e-5)
