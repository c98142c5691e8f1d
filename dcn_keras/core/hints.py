"""Hint loss (paper Eq. 6) and the gradient routing it needs."""

from __future__ import annotations

import tensorflow as tf

from dcn_keras.core import refine


def hint_distance(coarse_features: tf.Tensor, fine_vectors: tf.Tensor,
                  positions: tf.Tensor) -> tf.Tensor:
    """Sum over selected patches of ||f_c(x_ij) - f_f(x_ij)||^2, per example.

    Args:
      coarse_features: `[batch, s1, s2, D]`.
      fine_vectors: `[batch, k, D]`.
      positions: `[batch, k, 2]`.

    Returns:
      `[batch]`. The fine vectors are held constant: the hint trains only the
      coarse layers to mimic the fine ones (paper section 2.2).
    """
    coarse_vectors = refine.gather_vectors(coarse_features, positions)
    difference = coarse_vectors - tf.stop_gradient(fine_vectors)
    return tf.reduce_sum(tf.square(difference), axis=[1, 2])


@tf.custom_gradient
def scale_gradient(x: tf.Tensor, scale: tf.Tensor):
    """Identity forward; multiplies the incoming gradient by `scale`."""

    def grad(upstream):
        return upstream * scale, tf.zeros_like(scale)

    return tf.identity(x), grad
