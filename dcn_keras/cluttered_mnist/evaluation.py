"""Test error and test error versus the number of patches."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dcn_keras.cluttered_mnist.model import DynamicCapacityNetwork

# k = 12 is the most patches a composed DCN takes within 60% of the fine model's
# multiplications (each of its patches is the fine layers' 24 x 24 receptive field).
PATCH_COUNTS = (1, 2, 4, 8, 12, 16, 24, 32)


def inference_function(model, num_patches: int | None = None, jit_compile: bool = False):
    """One `tf.function` mapping `[batch, H, W, C]` to `[batch, classes]` probabilities.

    `jit_compile=True` compiles the whole path with XLA (see docs/benchmarks.md for
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


def patch_functions(model: DynamicCapacityNetwork, ks=PATCH_COUNTS) -> dict:
    """{k: `inference_function` of `model` with k patches}, to trace once and call often."""
    return {int(k): inference_function(model, k) for k in ks}


def errors_of(functions: dict, dataset) -> dict:
    """{key: `error_rate` of each function of `functions` on `dataset`}."""
    return {key: error_rate(predict, dataset) for key, predict in functions.items()}


def error_versus_patches(model: DynamicCapacityNetwork, dataset, ks=PATCH_COUNTS) -> dict:
    """{k: test error} for DCN inference with k patches."""
    return errors_of(patch_functions(model, ks), dataset)


def first_batch(dataset: tf.data.Dataset, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `size` examples of a batched dataset as numpy arrays."""
    images, labels = next(iter(dataset.unbatch().batch(size)))
    return images.numpy(), labels.numpy()
