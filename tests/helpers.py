"""Checks that every model test shares (after keras-hub's `run_model_saving_test`)."""

import json

import keras
import numpy as np
import tensorflow as tf


def run_model_saving_test(model, args, tmp_path, atol: float = 0.0, call=None):
    """Save `model` as one `.keras` file, load it with plain `keras.models.load_model`, and
    check that the copy has the same class and config and gives the same outputs on `args`
    (a tuple of call arguments). `call(model, *args)` defaults to `model(*args)`.

    Returns the loaded model.
    """
    call = call or (lambda m, *a: m(*a))
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    # As JSON: configs may hold objects (dtype policies) that compare by identity.
    assert _json(loaded.get_config()) == _json(model.get_config())
    expected, got = call(model, *args), call(loaded, *args)
    for want, have in zip(tf.nest.flatten(expected), tf.nest.flatten(got), strict=True):
        np.testing.assert_allclose(np.asarray(have), np.asarray(want), atol=atol, rtol=0)
    return loaded


def _json(config) -> str:
    return json.dumps(config, sort_keys=True, default=str)
