"""The refined representation f_r(x) (paper Eq. 7-8): fine vectors replace coarse ones."""

from __future__ import annotations

import tensorflow as tf


def scatter_indices(positions: tf.Tensor) -> tf.Tensor:
    """`[batch, k, 2]` positions -> `[batch, k, 3]` (example, row, col) indices."""
    shape = tf.shape(positions)
    example = tf.broadcast_to(tf.range(shape[0], dtype=positions.dtype)[:, None], shape[:2])
    return tf.concat([example[..., None], positions], axis=-1)


def refine(coarse_features: tf.Tensor, fine_vectors: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
    """Refined representation f_r(x) (Eq. 7-8).

    Args:
      coarse_features: `[batch, s1, s2, D]`.
      fine_vectors: `[batch, k, D]`, the fine layers' output on each patch.
      positions: `[batch, k, 2]` distinct positions per example.

    Returns:
      `[batch, s1, s2, D]`; gradients reach the fine vectors at the selected
      positions and the coarse features everywhere else.
    """
    return tf.tensor_scatter_nd_update(coarse_features, scatter_indices(positions), fine_vectors)


def gather_vectors(features: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
    """`[batch, s1, s2, D]` at `[batch, k, 2]` positions -> `[batch, k, D]`."""
    return tf.gather_nd(features, scatter_indices(positions))
