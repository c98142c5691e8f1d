"""Test error, error versus number of patches, and measured throughput."""

from __future__ import annotations

import statistics
import time

import numpy as np
import tensorflow as tf

from dcn_keras.model import DynamicCapacityNetwork

PATCH_COUNTS = (1, 2, 4, 8, 16)


def inference_function(model, num_patches: int | None = None, jit_compile: bool = False):
    """One `tf.function` mapping `[batch, H, W, C]` to `[batch, classes]` probabilities.

    `jit_compile=True` compiles the whole path with XLA (see docs/BENCHMARKS.md for
    when that pays on CPU).
    """
    if isinstance(model, DynamicCapacityNetwork):
        k = model.num_patches if num_patches is None else num_patches
        return tf.function(lambda images: model.predict_with_patches(images, k),
                           jit_compile=jit_compile)
    return tf.function(lambda images: model(images, training=False), jit_compile=jit_compile)


def error_rate(predict, dataset: tf.data.Dataset) -> float:
    """Fraction of misclassified examples of `(images, labels)` batches."""
    wrong = total = 0
    for images, labels in dataset:
        predicted = tf.argmax(predict(images), axis=-1, output_type=tf.int32)
        wrong += int(tf.reduce_sum(tf.cast(predicted != labels, tf.int32)))
        total += int(tf.shape(labels)[0])
    return wrong / max(total, 1)


def error_versus_patches(model: DynamicCapacityNetwork, dataset, ks=PATCH_COUNTS) -> dict:
    """{k: test error} for DCN inference with k patches."""
    return {int(k): error_rate(inference_function(model, k), dataset) for k in ks}


def time_side_by_side(functions: dict, *args, repeats: int = 10,
                      warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call of each function on the same arguments, `repeats` times.

    Calls are interleaved within every repeat so that drifts in machine load
    affect all functions alike; outputs are fetched (`.numpy()`) so that
    asynchronous devices finish the work inside the timed region.
    """
    for function in functions.values():
        for _ in range(warmup):
            _fetch(function(*args))
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            _fetch(function(*args))
            times[name].append(time.perf_counter() - start)
    return times


def _fetch(outputs) -> None:
    for output in tf.nest.flatten(outputs):
        if hasattr(output, "numpy"):
            output.numpy()


def images_per_second(functions: dict, images, repeats: int = 10, warmup: int = 2) -> dict:
    """Median images/s of each inference function on one batch, timed side by side."""
    images = tf.convert_to_tensor(images)
    times = time_side_by_side(functions, images, repeats=repeats, warmup=warmup)
    return {name: int(images.shape[0]) / statistics.median(values)
            for name, values in times.items()}


def first_batch(dataset: tf.data.Dataset, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `size` examples of a batched dataset as numpy arrays."""
    images, labels = next(iter(dataset.unbatch().batch(size)))
    return images.numpy(), labels.numpy()
