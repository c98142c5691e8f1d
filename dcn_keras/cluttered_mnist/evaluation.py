"""Test error and test error versus the number of patches."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from dcn_keras import measure
from dcn_keras.classifier import validation
from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.core import saliency

# A pixel of a digit's box brighter than this counts as the digit's ink (clutter that falls
# inside the box counts too).
INK = 0.3
# Canvases whose patches hold at least this share of the digit's ink: "nearly all" of it.
NEARLY_ALL = 0.95
# k = 12 is the most patches a composed DCN takes within 60% of the fine model's
# multiplications (each of its patches is the fine layers' 24 x 24 receptive field).
PATCH_COUNTS = (1, 2, 4, 8, 12, 16, 24, 32)


def inference_function(model, num_patches: int | None = None, jit_compile: bool = False):
    """One `tf.function` mapping `[batch, H, W, C]` to `[batch, classes]` probabilities.

    `jit_compile=True` compiles the whole path with XLA (see docs/benchmarks.md for
    when that pays on CPU).
    """
    # A `functools.partial` rather than a lambda: TensorFlow counts traces per code object, so
    # one function per (model, k) built from one lambda reads as needless retracing.
    if isinstance(model, DynamicCapacityNetwork):
        k = model.num_patches if num_patches is None else num_patches
        return tf.function(functools.partial(model.predict_with_patches, num_patches=k),
                           jit_compile=jit_compile)
    return tf.function(functools.partial(model, training=False), jit_compile=jit_compile)


def error_rate(predict, dataset: tf.data.Dataset) -> float:
    """Fraction of misclassified examples of `(images, labels)` batches."""
    marks = measure.wrong_marks(predict, dataset)
    return float(marks.mean()) if len(marks) else 0.0


def patch_count_function(model: DynamicCapacityNetwork, ks=PATCH_COUNTS):
    """One `tf.function` mapping `[batch, H, W, C]` images to {k: `[batch, classes]`
    probabilities} for every k of `ks`, each equal to `model.predict_with_patches(images, k)`.

    The coarse pass, the saliency and the fine layers run once, on the max(ks) most salient
    patches: the first k of them are the k most salient (`top_k` keeps them in order).
    """
    ks = tuple(sorted({int(k) for k in ks}))
    validation.check_num_patches(ks[-1], model.geometry, model.title)
    return tf.function(functools.partial(_probabilities_at_every_k, model, ks))


def _probabilities_at_every_k(model: DynamicCapacityNetwork, ks: tuple, images) -> dict:
    validation.check_images(images, model.image_shape, model.title)
    images = tf.cast(images, model.compute_dtype)
    coarse = model.coarse_features(images)
    sal, _, coarse_top = model.coarse_saliency(coarse)
    positions = saliency.top_k_positions(sal, ks[-1])
    fine = model.fine_vectors(model.cut_patches(images, positions))
    return {k: tf.nn.softmax(model.refined_logits(coarse, coarse_top, fine[:, :k],
                                                  positions[:, :k]))
            for k in ks}


def errors_at_every_k(predict, dataset: tf.data.Dataset) -> dict:
    """{k: fraction misclassified} of a `patch_count_function` over `(images, labels)`
    batches."""
    wrong, total = {}, 0
    for images, labels in dataset:
        for k, probabilities in predict(images).items():
            wrong[k] = wrong.get(k, 0) + int(measure.wrong(probabilities, labels).sum())
        total += int(tf.shape(labels)[0])
    return {k: count / max(total, 1) for k, count in wrong.items()}


def error_versus_patches(model: DynamicCapacityNetwork, dataset, ks=PATCH_COUNTS) -> dict:
    """{k: test error} for DCN inference with k patches."""
    return errors_at_every_k(patch_count_function(model, ks), dataset)


def first_batch(dataset: tf.data.Dataset, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `size` examples of a batched dataset as numpy arrays."""
    images, labels = next(iter(dataset.unbatch().batch(size)))
    return images.numpy(), labels.numpy()


def ink_inside(images: np.ndarray, digit_boxes: np.ndarray, patch_boxes: np.ndarray,
               ink: float = INK) -> np.ndarray:
    """The share of each digit's ink inside the union of its patches: `[n, H, W, C]` images,
    `[n, 4]` digit boxes and `[n, k, 4]` patch boxes, each (top, left, bottom, right), half
    open -> `[n]` in [0, 1] (1 where the box holds no ink)."""
    height, width = images.shape[1:3]
    rows = np.arange(height)[None, :, None, None]
    cols = np.arange(width)[None, None, :, None]
    top, left, bottom, right = (patch_boxes[:, None, None, :, i] for i in range(4))
    in_patches = ((rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)).any(-1)
    top, left, bottom, right = (digit_boxes[:, None, None, i] for i in range(4))
    rows, cols = rows[..., 0], cols[..., 0]
    lit = (images.max(-1) > ink) & (rows >= top) & (rows < bottom) & (cols >= left) & \
        (cols < right)
    held = (lit & in_patches).sum((1, 2))
    return np.where(lit.any((1, 2)), held / np.maximum(lit.sum((1, 2)), 1), 1.0)


def digit_ink_inside_patches(model: DynamicCapacityNetwork, dataset) -> np.ndarray:
    """`ink_inside` of the model's k patches on every canvas of `(images, labels, digit
    boxes)` batches -> `[images]`."""
    boxes_of = tf.function(lambda images: model.attend(images)["boxes"])
    shares = [ink_inside(images.numpy(), digit_boxes.numpy(), boxes_of(images).numpy())
              for images, _, digit_boxes in dataset]
    return np.concatenate(shares) if shares else np.zeros(0)
