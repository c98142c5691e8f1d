"""Which `tf.distribute` strategy training runs under, and which task writes the outputs.

A cluster is described as TensorFlow's own tools describe it, by `TF_CONFIG` (set by
Kubernetes operators such as Kubeflow's TFJob, by Vertex AI custom jobs, or by hand):
`{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}`.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib

import tensorflow as tf
from keras.src.backend.tensorflow import trainer as keras_tf_trainer


@functools.cache
def strategy() -> tf.distribute.Strategy:
    """The strategy of this process, made once: MultiWorkerMirroredStrategy when `TF_CONFIG`
    names two or more tasks, else MirroredStrategy over every GPU when there are several,
    else the default strategy.

    A multi-worker strategy must exist before TensorFlow runs its first op: call this at
    the start of a training program. Build, compile and fit the model in its `scope()`.
    """
    if cluster_size() > 1:
        _fix_keras_multi_worker_logs()
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])
    return tf.distribute.get_strategy()


def _tf_config() -> dict:
    try:
        return json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not JSON ({error}): {os.environ['TF_CONFIG']!r}. "
                         'Set it as {"cluster": {"worker": [...]}, "task": {...}}.') from None


def cluster_size() -> int:
    """The number of training tasks (chief and workers) that `TF_CONFIG` names; 1 when it
    names none."""
    cluster = _tf_config().get("cluster", {})
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))


def is_chief() -> bool:
    """Whether this task writes the shared outputs: the "chief" task, or worker 0 of a
    cluster without one (TensorFlow's convention); always true outside a cluster."""
    config = _tf_config()
    task = config.get("task", {})
    if cluster_size() == 1 or task.get("type") == "chief":
        return True
    return (task.get("type") == "worker" and int(task.get("index", 0)) == 0
            and not config.get("cluster", {}).get("chief"))


def worker_path(path: str | os.PathLike) -> pathlib.Path:
    """Where this task writes what the chief writes to `path`: `path` itself on the chief,
    `.worker-<index>/<name>` beside it on the other workers (every worker must save, since
    saving reads the replicated variables, but only one copy may land in `path`)."""
    path = pathlib.Path(path)
    if is_chief():
        return path
    return path.with_name(f".worker-{_tf_config()['task']['index']}") / path.name


def _fix_keras_multi_worker_logs() -> None:
    """Keras 3 reduces every scalar a train or test step returns with `strategy.reduce(
    "MEAN", value, axis=0)` under MultiWorkerMirroredStrategy, which fails ("Invalid
    reduction dimension 0 for input with 0 dimensions"; keras-team/keras#20585). Scalars
    are averaged over the workers with `axis=None` instead; everything else is Keras'."""
    original = keras_tf_trainer.reduce_per_replica
    if getattr(original, "fixed_for_multi_worker", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and \
                keras_tf_trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None)
                if value.shape.rank == 0 else
                original(value, strategy, reduction), values)
        return original(values, strategy, reduction)

    reduce_per_replica.fixed_for_multi_worker = True
    keras_tf_trainer.reduce_per_replica = reduce_per_replica
