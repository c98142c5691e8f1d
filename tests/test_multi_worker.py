"""Two worker processes on localhost, configured by TF_CONFIG as a cluster would configure
them, train the DCN as one process trains it on the same global batches."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from dcn_keras import distribute

# Trains the Cluttered MNIST DCN for 2 epochs of 4 batches of 16 and saves the weights the
# seed gives before training. "two-replicas" runs one process with two replicas on two
# logical CPUs, split as the two workers split each batch. The strategy comes first:
# MultiWorkerMirroredStrategy must exist before TensorFlow runs an op. Only the workers
# write TensorBoard logs (which of them writes is checked); the pictures of where the DCN
# looks take a third of a reference's training.
SCRIPT = r"""
import os
import sys

import tensorflow as tf

from dcn_keras import distribute

out, mode = sys.argv[1:]
if mode == "two-replicas":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    distribute.strategy = lambda: mirrored
distribute.strategy()

import keras
import numpy as np

from dcn_keras import presets, training

tf.config.experimental.enable_op_determinism()
rng = np.random.default_rng(0)
images = rng.random((64, 100, 100, 1), np.float32)
labels = rng.integers(0, 10, 64)
data = tf.data.Dataset.from_tensor_slices((images, labels))
train = data.shuffle(64, seed=0, reshuffle_each_iteration=True).batch(16)
family = presets.family("cluttered_mnist")
if mode == "one":
    keras.utils.set_random_seed(0)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    np.savez(out + ".initial.npz", *training.build(family, "dcn").get_weights())
keras.utils.set_random_seed(0)
logs = out + "_logs" if mode == "worker" else None
training.train(family, "dcn", train, data.batch(16).take(2), epochs=2, out_path=out,
               verbose=2, batch_norm_images=32, log_dir=logs)
"""

def _ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(tmp_path, out, mode, tf_config=None):
    script = tmp_path / "train.py"
    if not script.exists():  # written once: the processes start while others read it
        script.write_text(SCRIPT)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment.pop("TF_CONFIG", None)
    if tf_config:
        environment["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen([sys.executable, str(script), str(out), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=environment)


def _finish(process):
    try:
        log, _ = process.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, log[-4000:]
    return log


def _weights(path):
    return np.concatenate([w.ravel() for w in
                           keras.models.load_model(path, compile=False).get_weights()])


@pytest.mark.slow
def test_two_workers_train_like_one(tmp_path):
    cluster = {"worker": [f"localhost:{port}" for port in _ports(2)]}
    two = tmp_path / "two" / "dcn.keras"
    replicas, one = tmp_path / "replicas" / "dcn.keras", tmp_path / "one" / "dcn.keras"
    # All four processes at once: most of each is single-threaded import and tracing.
    workers = [_start(tmp_path, two, "worker", {"cluster": cluster,
                                                "task": {"type": "worker", "index": index}})
               for index in range(2)]
    references = [_start(tmp_path, replicas, "two-replicas"), _start(tmp_path, one, "one")]
    logs = [_finish(worker) for worker in workers]
    for reference in references:
        _finish(reference)

    # Both workers ran every step of both epochs (8 of each batch's 16 images each)...
    assert all("Epoch 2/2" in log and "4/4" in log for log in logs)
    # ...and only the chief wrote: no second model, backup or log folder, and the other
    # worker's scratch folder is gone.
    assert sorted(p.name for p in two.parent.iterdir()) == \
        ["dcn.keras", "dcn.keras_logs", "dcn_history.csv"]
    # The cluster computes what one process computes with the batch split the same way:
    # gradients averaged over the global batch, batch-norm statistics synchronised.
    np.testing.assert_allclose(_weights(two), _weights(replicas), rtol=1e-5, atol=1e-6)
    # Against one replica, the halves' sums are added in another order; the DCN's top-k
    # and Adam's sign-like first steps turn that rounding into a visible but small
    # difference (2% of the update here). A batch split wrongly moves it by tens of %.
    initial = np.load(f"{one}.initial.npz")
    start = np.concatenate([initial[f"arr_{i}"].ravel() for i in range(len(initial.files))])
    update = _weights(one) - start
    assert np.linalg.norm(_weights(two) - _weights(one)) < 0.1 * np.linalg.norm(update)
    rows = [path.with_name("dcn_history.csv").read_text().splitlines() for path in (two, one)]
    assert rows[0][0] == rows[1][0] and len(rows[0]) == len(rows[1]) == 3


def test_tf_config_names_the_cluster_and_the_chief(monkeypatch):
    def task(kind, index, chief=False):
        cluster = {"worker": ["a:1", "b:1"], **({"chief": ["c:1"]} if chief else {})}
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            {"cluster": cluster, "task": {"type": kind, "index": index}}))

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.cluster_size() == 1 and distribute.is_chief()
    task("worker", 0)
    assert distribute.cluster_size() == 2 and distribute.is_chief()
    assert distribute.worker_path("/m/dcn.keras").as_posix() == "/m/dcn.keras"
    task("worker", 1)
    assert not distribute.is_chief()
    assert distribute.worker_path("/m/dcn.keras").as_posix() == "/m/.worker-1/dcn.keras"
    task("worker", 0, chief=True)
    assert distribute.cluster_size() == 3 and not distribute.is_chief()
    task("chief", 0, chief=True)
    assert distribute.is_chief()
    monkeypatch.setenv("TF_CONFIG", "{cluster")
    with pytest.raises(ValueError, match="TF_CONFIG is not JSON"):
        distribute.cluster_size()
