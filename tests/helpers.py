"""Checks that every model test shares (after keras-hub's `run_model_saving_test`)."""

import contextlib
import importlib.util
import json
import logging
import pathlib
import subprocess

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


@contextlib.contextmanager
def tensorflow_warnings():
    """Collects the messages TensorFlow's Python logger writes meanwhile: a list of str."""
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def load_script(path: pathlib.Path):
    """The module of a script that is not in a package (benchmarks/, reproduce/), so that a
    test can call its `main(argv)` in this process."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def finished(process: subprocess.Popen, timeout: float = 600) -> subprocess.CompletedProcess:
    """What `subprocess.run` returns, for a `process` started with its outputs piped: so
    that a test can start several and wait for each (killed past `timeout` seconds)."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _json(config) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def house_numbers_dcn(num_patches: int = 2):
    """A composed multi-digit DCN (house_numbers preset) with fresh weights."""
    from dcn_keras import MultiDigitDCN, MultiDigitModel, presets

    config = presets.house_numbers()
    return MultiDigitDCN(MultiDigitModel(config, "coarse"), MultiDigitModel(config, "fine"),
                         num_patches=num_patches)


# Put at the top of a training script run in a subprocess: with "die" as its last argument,
# the process kills itself (SIGKILL: nothing cleaned up) right after the first epoch's
# backup is written; with "die-inside", right after the first backup within the second
# epoch (`training.EpochBackup`); with "die-next-inside", right after the first backup
# this process writes within an epoch. Each is judged by the state written, as a rerun
# reads it.
KILL_AFTER_FIRST_BACKUP = r"""
import json, os, pathlib, signal, sys

import keras  # noqa: F401 (the scripts that start with this use it)

from dcn_keras import training

if sys.argv[-1] in ("die", "die-inside", "die-next-inside"):
    save = training.EpochBackup._save_model
    mode = sys.argv[-1]

    def save_then_die(self):
        save(self)
        state = json.loads(pathlib.Path(self._training_metadata_path).read_text())
        inside = state["batch"] > 0
        if mode == "die-next-inside":
            die = inside
        else:
            die = state["epoch"] == 1 and inside == (mode == "die-inside")
        if die:
            os.kill(os.getpid(), signal.SIGKILL)

    training.EpochBackup._save_model = save_then_die
"""
