"""A training killed after an epoch, or inside one, resumes where it was and ends where an
uninterrupted training ends."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from dcn_keras import training
from tests.helpers import KILL_AFTER_FIRST_BACKUP, finished

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


def _start(tmp_path, out, mode) -> subprocess.Popen:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen([sys.executable, str(script), str(out), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment)


def _train(tmp_path, out, mode) -> subprocess.CompletedProcess:
    return finished(_start(tmp_path, out, mode))


@pytest.fixture(scope="module")
def first_runs(tmp_path_factory):
    """{mode: (folder, finished process)}: the training without a kill ("live") and the
    first kills that several tests resume from ("die", "die-inside"), each run once for the
    module, all at once (most of each process is single-threaded import and tracing). Each
    folder holds coarse.keras, or the backup of the killed training."""
    root = tmp_path_factory.mktemp("first_runs")
    started = {}
    for mode in ("live", "die", "die-inside"):
        (root / mode).mkdir()
        started[mode] = _start(root / mode, root / mode / "coarse.keras", mode)
    return {mode: (root / mode, finished(process)) for mode, process in started.items()}


@pytest.fixture(scope="module")
def uninterrupted(first_runs):
    """The model and history rows of the training run without a kill."""
    folder, done = first_runs["live"]
    assert done.returncode == 0, done.stderr[-3000:]
    whole = folder / "coarse.keras"
    return whole, _history(whole)


def _killed(first_runs, mode, tmp_path):
    """A copy in `tmp_path` of the training killed by `mode` ("die" or "die-inside"): the
    path its model is written to, and the killed process."""
    folder, done = first_runs[mode]
    shutil.copytree(folder, tmp_path / "resumed")
    return tmp_path / "resumed" / "coarse.keras", done


def _history(model_path):
    return model_path.with_name("coarse_history.csv").read_text().splitlines()


def _assert_same_weights(path, other):
    for got, want in zip(keras.models.load_model(path).get_weights(),
                         keras.models.load_model(other).get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


def _assert_same_run(killed, uninterrupted, cut_epoch=None):
    """`killed` ended with the uninterrupted run's weights, to the bit, and its history; the
    training metrics of an epoch resumed inside it (`cut_epoch`) cover its remaining steps
    only, its validation scores are the same."""
    assert not training.backup_dir(killed).exists()
    whole, history = uninterrupted
    # CPU ops run deterministically here, and the weights, optimizer state and learning-rate
    # step are restored: the resumed run is the uninterrupted run.
    _assert_same_weights(killed, whole)
    resumed = [line.split(",") for line in _history(killed)]
    rows = [line.split(",") for line in history]
    assert [row[0] for row in resumed] == ["epoch", "0", "1", "2"]
    validation = [i for i, name in enumerate(rows[0]) if name.startswith("val_")]
    assert validation and resumed[0] == rows[0]
    for epoch, (got, want) in enumerate(zip(resumed[1:], rows[1:], strict=True)):
        if epoch == cut_epoch:
            assert [got[i] for i in validation] == [want[i] for i in validation]
            assert got != want
        else:
            assert got == want


@pytest.mark.slow
def test_a_killed_training_resumes_at_the_next_epoch(tmp_path, first_runs, uninterrupted):
    killed, done = _killed(first_runs, "die", tmp_path)
    assert done.returncode == -9, done.stderr[-3000:]
    assert not killed.exists() and training.backup_dir(killed).is_dir()
    assert "Epoch 1/3" in done.stdout and "Epoch 2/3" not in done.stdout

    done = _train(tmp_path, killed, "live")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Resuming" in done.stdout and "after epoch 1 of 3" in done.stdout
    assert "Epoch 1/3" not in done.stdout and "Epoch 2/3" in done.stdout
    _assert_same_run(killed, uninterrupted)


@pytest.mark.slow
def test_a_training_killed_inside_an_epoch_resumes_at_the_step_after_its_backup(
        tmp_path, first_runs, uninterrupted):
    # 4 steps an epoch: `EpochBackup` saves after steps 1, 2 and 3, and the kill comes
    # right after step 1 of the second epoch.
    killed, done = _killed(first_runs, "die-inside", tmp_path)
    assert done.returncode == -9, done.stderr[-3000:]
    assert "Epoch 2/3" in done.stdout and "Epoch 3/3" not in done.stdout

    done = _train(tmp_path, killed, "live")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "in epoch 2 after step 1 of 4 of 3" in done.stdout
    assert "Epoch 1/3" not in done.stdout and done.stdout.count("Epoch 2/3") == 1
    # Keras counts the cut epoch's progress bar from its remaining 3 steps.
    assert "3/3" in done.stdout.split("Epoch 3/3")[0]
    # The skipped step is the one the uninterrupted run took.
    _assert_same_run(killed, uninterrupted, cut_epoch=1)


@pytest.mark.slow
@pytest.mark.parametrize("first_kill, resumed_where", [
    ("die", "after epoch 1 of 3"), ("die-inside", "in epoch 2 after step 1 of 4 of 3")])
def test_a_resumed_training_killed_inside_an_epoch_resumes_there_again(
        tmp_path, first_runs, uninterrupted, first_kill, resumed_where):
    # Runs that outlive several sittings are cut again after a resume: the resumed process
    # saves its steps in the epoch it is in (here the second, after its first or second
    # step), not in the epoch its callbacks began with.
    killed, done = _killed(first_runs, first_kill, tmp_path)
    assert done.returncode == -9, done.stderr[-3000:]
    done = _train(tmp_path, killed, "die-next-inside")
    assert done.returncode == -9, done.stderr[-3000:]
    assert resumed_where in done.stdout and "Epoch 3/3" not in done.stdout
    step = 1 if first_kill == "die" else 2

    done = _train(tmp_path, killed, "live")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"in epoch 2 after step {step} of 4 of 3" in done.stdout
    _assert_same_run(killed, uninterrupted, cut_epoch=1)


@pytest.mark.slow
def test_a_backup_cut_short_is_never_resumed_from(tmp_path, first_runs, uninterrupted):
    # The disk filled while the newest weights were written (inside epoch 2): the complete
    # state before them is the end of epoch 1.
    killed, done = _killed(first_runs, "die-inside", tmp_path)
    assert done.returncode == -9, done.stderr[-3000:]
    state = training.backup_dir(killed) / "state"
    weights = (state / "latest.weights.h5").read_bytes()
    (state / "latest.weights.h5").write_bytes(weights[:len(weights) // 2])
    done = _train(tmp_path, killed, "live")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"The latest backup in {state} is incomplete" in done.stdout
    assert f"Resuming from {state.parent} after epoch 1 of 3" in done.stdout
    _assert_same_run(killed, uninterrupted)


def _state(folder, epoch: int, batch: int, suffix: str = "") -> None:
    """A saved state as `EpochBackup` writes it, with made-up weights."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"latest.weights.h5{suffix}").write_bytes(f"weights {epoch} {batch}".encode())
    (folder / f"training_metadata.json{suffix}").write_text(
        json.dumps({"epoch": epoch, "batch": batch}))
    record = {"epoch": epoch, "batch": batch,
              "bytes": (folder / f"latest.weights.h5{suffix}").stat().st_size,
              "sha256": hashlib.sha256(
                  (folder / f"latest.weights.h5{suffix}").read_bytes()).hexdigest()}
    (folder / f"record.json{suffix}").write_text(json.dumps(record))


def test_an_incomplete_state_falls_back_to_the_one_before_or_to_a_fresh_start(tmp_path,
                                                                              capsys):
    state = tmp_path / "state"
    _state(state, 1, 0, ".bkp")
    _state(state, 1, 3)
    assert training._saved_state(state) == (1, 3)
    # Cut while the metadata was written: the state after step 3 is incomplete.
    (state / "training_metadata.json").write_text('{"epoch": 1, "ba')
    training._settle(state)
    assert "The latest backup" in capsys.readouterr().out
    assert training._saved_state(state) == (1, 0)
    # Cut while the record of a new state was written, with the copy before it cut too.
    (state / "record.json").write_text("{")
    (state / "latest.weights.h5.bkp").write_bytes(b"weig")
    training._settle(state)
    assert "no complete one is left; training starts over" in capsys.readouterr().out
    assert not state.exists() and training._progress(tmp_path) == (0, 0)
