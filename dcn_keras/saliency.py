"""Entropy-gradient saliency (paper Eq. 2-3) and top-k position selection."""

from __future__ import annotations

import tensorflow as tf


def entropy_from_logits(logits: tf.Tensor) -> tf.Tensor:
    """Entropy of softmax(logits): `[batch, classes]` -> `[batch]` (Eq. 2)."""
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    return -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=-1)


def entropy_saliency(top, coarse_features: tf.Tensor, return_logits: bool = False):
    """Saliency M_ij = ||d H / d c_ij||_2 of every coarse vector (Eq. 3).

    Args:
      top: the top layers g, mapping `[batch, s1, s2, D]` to logits.
      coarse_features: `[batch, s1, s2, D]` coarse representation f_c(x).
      return_logits: also return the coarse model's logits g(f_c(x)).

    Returns:
      `[batch, s1, s2]` saliency (and `[batch, classes]` logits). The top
      layers run in inference mode, so batch normalisation uses its moving
      statistics and each example's map depends on that example alone; the
      gradient of the summed entropies is then the per-example gradient.
    """
    sal, logits, _ = saliency_and_outputs(
        lambda features: (top(features, training=False), None), coarse_features)
    return (sal, logits) if return_logits else sal


def saliency_and_outputs(top_fn, coarse_features: tf.Tensor):
    """`entropy_saliency` for a top function that also returns an intermediate.

    Args:
      top_fn: maps `[batch, s1, s2, D]` to (logits `[batch, classes]`, extra),
        in inference mode.
      coarse_features: `[batch, s1, s2, D]`.

    Returns:
      (saliency `[batch, s1, s2]`, logits, extra).
    """
    coarse_features = tf.stop_gradient(coarse_features)
    with tf.GradientTape() as tape:
        tape.watch(coarse_features)
        logits, extra = top_fn(coarse_features)
        entropy = tf.reduce_sum(entropy_from_logits(logits))
    gradient = tape.gradient(entropy, coarse_features)
    return tf.norm(gradient, axis=-1), logits, extra


def top_k_positions(saliency: tf.Tensor, k: int) -> tf.Tensor:
    """The k most salient positions: `[batch, s1, s2]` -> `[batch, k, 2]` (row, col).

    Positions come in decreasing order of saliency.
    """
    width = tf.shape(saliency)[2]
    flat = tf.reshape(saliency, [tf.shape(saliency)[0], -1])
    _, indices = tf.math.top_k(flat, k=k, sorted=True)
    return tf.stack([indices // width, indices % width], axis=-1)
