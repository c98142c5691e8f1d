"""A training killed after an epoch resumes at the next one and ends where an uninterrupted
training ends."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from dcn_keras import training
from tests.helpers import KILL_AFTER_FIRST_BACKUP

# Trains the Cluttered MNIST coarse model for 3 epochs on fixed, reshuffled data; with
# "die", the process kills itself (SIGKILL, nothing cleaned up) right after the first
# epoch's backup.
SCRIPT = KILL_AFTER_FIRST_BACKUP + r"""
import dcn_keras
import numpy as np
import tensorflow as tf

from dcn_keras import presets, training

tf.config.experimental.enable_op_determinism()
out = sys.argv[1]
rng = np.random.default_rng(0)
images = rng.random((64, 100, 100, 1), np.float32)
labels = rng.integers(0, 10, 64)
# As the families' readers do: reshuffled every epoch, and batch-norm statistics
# re-estimated on training batches, so the resumed run must replay both random streams.
data = tf.data.Dataset.from_tensor_slices((images, labels))
train = data.shuffle(64, seed=0, reshuffle_each_iteration=True).batch(16)
keras.utils.set_random_seed(0)
training.train(presets.family("cluttered_mnist"), "coarse", train, data.batch(16).take(2),
               epochs=3, out_path=out, verbose=2, batch_norm_images=32)
"""


def _train(tmp_path, out, mode):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, str(script), str(out), mode], capture_output=True,
                          text=True, env=environment, timeout=600)


@pytest.mark.slow
def test_a_killed_training_resumes_at_the_next_epoch(tmp_path):
    killed = tmp_path / "resumed" / "coarse.keras"
    done = _train(tmp_path, killed, "die")
    assert done.returncode == -9, done.stderr[-3000:]
    assert not killed.exists() and training.backup_dir(killed).is_dir()
    assert "Epoch 1/3" in done.stdout and "Epoch 2/3" not in done.stdout

    done = _train(tmp_path, killed, "live")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Resuming" in done.stdout and "after epoch 1 of 3" in done.stdout
    assert "Epoch 1/3" not in done.stdout and "Epoch 2/3" in done.stdout
    assert not training.backup_dir(killed).exists()

    whole = tmp_path / "whole" / "coarse.keras"
    assert _train(tmp_path, whole, "live").returncode == 0
    histories = [(path.with_name("coarse_history.csv")).read_text().splitlines()
                 for path in (killed, whole)]
    assert [line.split(",")[0] for line in histories[0]] == ["epoch", "0", "1", "2"]
    # CPU ops run deterministically here, and the weights, optimizer state and learning-rate
    # step are restored: the resumed run is the uninterrupted run, to the bit.
    assert histories[0] == histories[1]
    for got, want in zip(keras.models.load_model(killed).get_weights(),
                         keras.models.load_model(whole).get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
