"""A pipeline trainer killed after an epoch resumes there when the pipeline is rerun, and
its model equals the model of a run that was never interrupted."""

import csv
import os
import pathlib
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
from ml_metadata.proto import metadata_store_pb2

from components import artifacts
from tests.conftest import REPO
from tests.helpers import KILL_AFTER_FIRST_BACKUP, finished

# The example generator and the coarse trainer of the Cluttered MNIST pipeline, run by
# LocalDagRunner in this process. With "die", the process kills itself (SIGKILL: no
# cleanup, no MLMD update) right after the trainer's first epoch is backed up.
SCRIPT = KILL_AFTER_FIRST_BACKUP + r"""
import tensorflow as tf
from tfx.orchestration import metadata, pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.cluttered_mnist_gen import ClutteredMnistExampleGen
from components.trainer import DcnTrainer

tf.config.experimental.enable_op_determinism()
root, mnist_dir = sys.argv[1:3]
examples = ClutteredMnistExampleGen(train_images=96, eval_images=32, test_images=32, seed=0,
                                    num_shards=2, mnist_dir=mnist_dir)
trainer = DcnTrainer(examples=examples.outputs["examples"], model_kind="coarse",
                     preset="cluttered_mnist", epochs=3, batch_size=32, learning_rate=1e-3,
                     seed=0, precision="float32", batch_norm_images=32
                     ).with_id("CoarseTrainer")
LocalDagRunner().run(pipeline.Pipeline(
    pipeline_name="resume", pipeline_root=os.path.join(root, "artifacts"),
    components=[examples, trainer], enable_cache=True,
    metadata_connection_config=metadata.sqlite_metadata_connection_config(
        os.path.join(root, "metadata.sqlite"))))
"""

State = metadata_store_pb2.Execution.State


def _start(tmp_path, root, mnist_dir, mode) -> subprocess.Popen:
    script = tmp_path / "pipeline.py"
    if not script.exists():  # written once: a process may be reading it
        script.write_text(SCRIPT)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                               os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, str(script), str(root), str(mnist_dir), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment)


def _run(tmp_path, root, mnist_dir, mode) -> subprocess.CompletedProcess:
    return finished(_start(tmp_path, root, mnist_dir, mode), timeout=900)


def _trained(root):
    """(the live Model artifact's .keras path, its history rows) of a root's trainer."""
    store = artifacts.metadata_store(str(root / "metadata.sqlite"))
    model, = [a for a in store.get_artifacts_by_type("Model") if a.state == a.LIVE]
    run, = [a for a in store.get_artifacts_by_type("ModelRun") if a.state == a.LIVE]
    with open(os.path.join(run.uri, "history.csv"), newline="") as stream:
        return artifacts.keras_path(model), list(csv.reader(stream))


def _epoch_weights(root):
    """{file name: {dataset path: array}} of the live ModelRun's kept epochs."""
    store = artifacts.metadata_store(str(root / "metadata.sqlite"))
    run, = [a for a in store.get_artifacts_by_type("ModelRun") if a.state == a.LIVE]
    kept = {}
    for path in sorted(pathlib.Path(run.uri, artifacts.EPOCHS_DIR).iterdir()):
        with h5py.File(path, "r") as stream:
            arrays = {}
            stream.visititems(lambda name, item: arrays.update(
                {name: item[()]} if isinstance(item, h5py.Dataset) else {}))
        kept[path.name] = arrays
    return kept


def _trainer_states(root):
    store = artifacts.metadata_store(str(root / "metadata.sqlite"))
    trainer, = [t for t in store.get_execution_types() if t.name.endswith("DcnTrainer")]
    return sorted(e.last_known_state for e in store.get_executions_by_type(trainer.name))


@pytest.mark.slow
def test_a_killed_pipeline_trainer_resumes_at_the_next_epoch(tmp_path, mnist_dir):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    # The uninterrupted run goes alongside: most of each process is single-threaded import
    # and tracing.
    uninterrupted = _start(tmp_path, whole, mnist_dir, "live")
    done = _run(tmp_path, killed, mnist_dir, "die")
    assert done.returncode == -9, done.stdout[-2000:] + done.stderr[-3000:]
    backups = sorted((killed / "artifacts" / "CoarseTrainer" / ".resume").iterdir())
    assert [p.name for p in backups] == [backups[0].name, backups[0].name + ".epochs"]
    assert (backups[0] / "history.csv").is_file()
    assert [p.name for p in backups[1].iterdir()] == ["epoch_01.weights.h5"]
    # The killed execution never published: its model is not in ML Metadata.
    assert _trainer_states(killed) == [State.RUNNING]

    done = _run(tmp_path, killed, mnist_dir, "live")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert f"Resuming from {backups[0]} after epoch 1 of 3" in log
    assert "Epoch 1/3" not in log and "Epoch 2/3" in log
    assert not backups[0].exists()
    # The example generator came from the cache; the trainer ran again and completed.
    assert _trainer_states(killed) == sorted([State.RUNNING, State.COMPLETE])

    done = finished(uninterrupted, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (resumed_path, resumed_rows), (whole_path, whole_rows) = _trained(killed), _trained(whole)
    assert [row[0] for row in resumed_rows] == ["epoch", "0", "1", "2"]
    # Same data (a seeded generator), deterministic CPU ops, the state restored and the
    # shuffling replayed: the resumed model is the uninterrupted one, to the bit.
    assert resumed_rows == whole_rows
    for got, want in zip(keras.models.load_model(resumed_path).get_weights(),
                         keras.models.load_model(whole_path).get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    # Every epoch's weights reach the ModelRun, the one kept before the kill among them.
    resumed_epochs, whole_epochs = _epoch_weights(killed), _epoch_weights(whole)
    assert list(resumed_epochs) == [f"epoch_{n:02d}.weights.h5" for n in (1, 2, 3)]
    assert list(whole_epochs) == list(resumed_epochs)
    for name, arrays in resumed_epochs.items():
        assert arrays and arrays.keys() == whole_epochs[name].keys()
        for key, array in arrays.items():
            np.testing.assert_array_equal(array, whole_epochs[name][key], err_msg=name + key)
    assert not list((killed / "artifacts" / "CoarseTrainer" / ".resume").iterdir())
