"""Patch extraction at selected positions and the refined representation (Eq. 7-8)."""

from __future__ import annotations

import tensorflow as tf

from dcn_keras.config import Geometry


def pad_images(images: tf.Tensor, geometry: Geometry) -> tf.Tensor:
    """Zero pad `[batch, H, W, C]` so every position's patch lies inside."""
    (top, left), (bottom, right) = geometry.pad_before, geometry.pad_after
    return tf.pad(images, [[0, 0], [top, bottom], [left, right], [0, 0]])


def extract_patches(images: tf.Tensor, positions: tf.Tensor, geometry: Geometry) -> tf.Tensor:
    """Cut the patch of each selected position.

    Args:
      images: `[batch, H, W, C]`.
      positions: `[batch, k, 2]` int32 (row, col) coarse map positions.
      geometry: patch placement, from `DCNConfig.geometry`.

    Returns:
      `[batch, k, P, P, C]` patches, P = geometry.patch_size. One gather of
      exactly the needed pixels: no per-patch Python loop and no dense patch
      extraction over all positions.
    """
    padded = pad_images(images, geometry)
    shape = tf.shape(padded)
    batch, padded_width, channels = shape[0], shape[2], shape[3]
    size = geometry.patch_size
    offsets = tf.range(size, dtype=positions.dtype)
    rows = positions[..., 0] * geometry.stride
    cols = positions[..., 1] * geometry.stride
    pixel_rows = rows[:, :, None, None] + offsets[None, None, :, None]
    pixel_cols = cols[:, :, None, None] + offsets[None, None, None, :]
    flat_index = pixel_rows * padded_width + pixel_cols
    flat = tf.reshape(padded, [batch, -1, channels])
    return tf.gather(flat, flat_index, batch_dims=1)


def patch_boxes(positions: tf.Tensor, geometry: Geometry) -> tf.Tensor:
    """Pixel boxes of the patches: `[batch, k, 2]` -> `[batch, k, 4]`.

    Each box is (top, left, bottom, right) in input image pixels, half open,
    before clipping: a border patch may reach into the zero padding.
    """
    start = positions * geometry.stride - geometry.offset
    end = start + geometry.patch_size
    return tf.concat([start, end], axis=-1)


def scatter_indices(positions: tf.Tensor) -> tf.Tensor:
    """`[batch, k, 2]` positions -> `[batch, k, 3]` (example, row, col) indices."""
    shape = tf.shape(positions)
    example = tf.broadcast_to(tf.range(shape[0], dtype=positions.dtype)[:, None], shape[:2])
    return tf.concat([example[..., None], positions], axis=-1)


def refine(coarse_features: tf.Tensor, fine_vectors: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
    """Refined representation f_r(x): fine vectors replace coarse ones (Eq. 7-8).

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
