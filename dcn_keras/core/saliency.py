"""Entropy-gradient saliency (paper Eq. 2-3 and 10) and top-k position selection."""

from __future__ import annotations

import tensorflow as tf


def entropy(probs: tf.Tensor) -> tf.Tensor:
    """Entropy over the last axis, in nats: `[..., classes]` -> `[...]`."""
    return -tf.reduce_sum(probs * tf.math.log(tf.maximum(probs, 1e-12)), axis=-1)


def entropy_from_logits(logits: tf.Tensor) -> tf.Tensor:
    """Entropy of softmax(logits): `[batch, classes]` -> `[batch]` (Eq. 2)."""
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    return -tf.reduce_sum(tf.exp(log_probs) * log_probs, axis=-1)


def entropy_gradient(entropy_fn, features: tf.Tensor):
    """Saliency M_ij = ||d H / d c_ij||_2 of every vector of a feature map (Eq. 3, Eq. 10).

    Args:
      entropy_fn: maps `[batch, s1, s2, D]` features to (`[batch]` output entropies H,
        extra outputs to pass through), in inference mode, so that each example's entropy
        depends on that example alone: the gradient of the summed entropies is then the
        per-example gradient.
      features: `[batch, s1, s2, D]`, the coarse representation f_c(x).

    Returns:
      (saliency `[batch, s1, s2]`, extra).
    """
    features = tf.stop_gradient(features)
    with tf.GradientTape() as tape:
        tape.watch(features)
        entropies, extra = entropy_fn(features)
        total = tf.reduce_sum(entropies)
    return tf.norm(tape.gradient(total, features), axis=-1), extra


def entropy_saliency(top, coarse_features: tf.Tensor) -> tf.Tensor:
    """`[batch, s1, s2]` saliency of `[batch, s1, s2, D]` coarse features under top layers
    `top` that map them to `[batch, classes]` logits (the single-label case of Eq. 3)."""
    saliency, _ = entropy_gradient(
        lambda features: (entropy_from_logits(top(features, training=False)), None),
        coarse_features)
    return saliency


def top_k_positions(saliency: tf.Tensor, k, mask: tf.Tensor | None = None):
    """The k most salient positions: `[batch, s1, s2]` -> `[batch, k, 2]` int32 (row, col),
    in decreasing order of saliency.

    With `mask` (`[batch, s1, s2]`, 1 = a position inside the image) the positions outside
    rank last, and the result is (positions, `[batch, k]` float validity of each pick).
    """
    width = tf.shape(saliency)[2]
    if mask is not None:
        # Saliency is >= 0, so -1 ranks the masked positions last.
        saliency = tf.where(mask > 0, saliency, -tf.ones_like(saliency))
    flat = tf.reshape(saliency, [tf.shape(saliency)[0], -1])
    _, indices = tf.math.top_k(flat, k=k, sorted=True)
    positions = tf.stack([indices // width, indices % width], axis=-1)
    if mask is None:
        return positions
    valid = tf.gather(tf.reshape(mask, tf.shape(flat)), indices, batch_dims=1)
    return positions, valid
