"""Patches of the selected positions: where they lie in the image and how they are cut.

Two implementations cut the same patches:

* `"gather"` (the default): one gather of exactly the k patches' pixels. Its cost grows with
  k, not with the number of positions.
* `"extract_patches"`: `tf.image.extract_patches`, the op the design names, over every window
  of the padded image, then a gather of the k selected windows. Its cost grows with the number
  of positions, so it is kept as the reference that the gather is checked against
  (tests/core/test_patches.py) and timed beside (`dcn bench`).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

METHODS = ("gather", "extract_patches")


@dataclasses.dataclass(frozen=True)
class PatchGrid:
    """How coarse map positions map to image patches, as (height, width) pairs.

    Position (i, j) has the `size` patch whose top-left pixel is
    (i * stride[0] - offset[0], j * stride[1] - offset[1]); pixels outside the image are 0.
    """

    stride: tuple[int, int]
    offset: tuple[int, int]
    size: tuple[int, int]


def patch_boxes(positions: tf.Tensor, grid: PatchGrid) -> tf.Tensor:
    """`[batch, k, 2]` positions -> `[batch, k, 4]` pixel boxes (top, left, bottom, right),
    half open, before clipping: a border patch may reach into the zero padding."""
    stride = tf.constant(grid.stride, positions.dtype)
    start = positions * stride - tf.constant(grid.offset, positions.dtype)
    return tf.concat([start, start + tf.constant(grid.size, positions.dtype)], axis=-1)


def _pad(images: tf.Tensor, grid: PatchGrid) -> tf.Tensor:
    """Zero pad `[batch, H, W, C]` so that the patch of every position of the map lies
    inside and position (0, 0)'s patch starts at pixel (0, 0): `offset` before (cut off
    where negative, a patch smaller than its position's receptive field), a whole patch
    after."""
    (top, left), (bottom, right) = grid.offset, grid.size
    padded = tf.pad(images, [[0, 0], [max(top, 0), bottom], [max(left, 0), right], [0, 0]])
    return padded[:, max(-top, 0):, max(-left, 0):]


def cut_patches(images: tf.Tensor, positions: tf.Tensor, grid: PatchGrid,
                method: str = "gather") -> tf.Tensor:
    """The patch of each selected position.

    Args:
      images: `[batch, H, W, C]`.
      positions: `[batch, k, 2]` int32 (row, col) coarse map positions.
      grid: patch placement.
      method: "gather" or "extract_patches" (see the module docstring); equal results.

    Returns:
      `[batch, k, P_h, P_w, C]` patches, `(P_h, P_w) = grid.size`.
    """
    if method == "gather":
        return _gather(images, positions, grid)
    if method == "extract_patches":
        return _extract(images, positions, grid)
    raise ValueError(f"Unknown patch method {method!r}; choose one of {METHODS}.")


def _gather(images, positions, grid: PatchGrid) -> tf.Tensor:
    """One gather of exactly the needed pixels: no loop over patches, no windows of
    unselected positions and no padded copy of the image (pixels outside it are gathered
    from its edge and zeroed), which on a megapixel image is most of the memory the cut
    would take."""
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    rows = positions[..., 0] * grid.stride[0] - grid.offset[0]
    cols = positions[..., 1] * grid.stride[1] - grid.offset[1]
    pixel_rows = rows[:, :, None, None] + tf.range(grid.size[0], dtype=rows.dtype)[:, None]
    pixel_cols = cols[:, :, None, None] + tf.range(grid.size[1], dtype=cols.dtype)[None, :]
    inside = ((pixel_rows >= 0) & (pixel_rows < height)) & (
        (pixel_cols >= 0) & (pixel_cols < width))
    index = (tf.clip_by_value(pixel_rows, 0, height - 1) * width
             + tf.clip_by_value(pixel_cols, 0, width - 1))
    flat = tf.reshape(images, [batch, -1, channels])
    cut = tf.gather(flat, index, batch_dims=1)
    return cut * tf.cast(inside, cut.dtype)[..., None]


def _extract(images, positions, grid: PatchGrid) -> tf.Tensor:
    """`tf.image.extract_patches` at every position, then the selected windows."""
    windows = tf.image.extract_patches(
        _pad(images, grid), sizes=[1, *grid.size, 1], strides=[1, *grid.stride, 1],
        rates=[1, 1, 1, 1], padding="VALID")
    picked = tf.gather_nd(windows, positions, batch_dims=1)  # [batch, k, P_h * P_w * C]
    shape = tf.shape(positions)
    return tf.reshape(picked, tf.concat([shape[:2], grid.size, tf.shape(images)[3:]], 0))
