"""A convolution of a map that is zero except at k positions, without the zeros.

The refined map differs from the coarse one at k of s1 * s2 positions, and the
top layers' first convolution is linear, so conv(refined) = conv(coarse) +
conv(delta) with delta non-zero at k positions. conv(coarse) is already known
from the saliency pass; conv(delta) costs k * kernel_h * kernel_w * D * F
multiplications instead of a full convolution.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def supports(conv) -> bool:
    """Whether `conv` is a bias-free, valid-padded, undilated 2-D convolution."""
    return (isinstance(conv, keras.layers.Conv2D) and not conv.use_bias
            and conv.padding == "valid" and tuple(conv.dilation_rate) == (1, 1)
            and conv.groups == 1)


def conv_of_sparse(conv, values: tf.Tensor, positions: tf.Tensor, output_shape) -> tf.Tensor:
    """conv(x) for an input x that is `values` at `positions` and zero elsewhere.

    Args:
      conv: a layer for which `supports(conv)` holds.
      values: `[batch, k, D]` input vectors.
      positions: `[batch, k, 2]` distinct (row, col) input positions.
      output_shape: (out_h, out_w) of conv on the full input.

    Returns:
      `[batch, out_h, out_w, filters]`, equal to conv applied to the dense map.
    """
    kernel = conv.kernel  # [kh, kw, D, F]
    kernel_h, kernel_w = conv.kernel_size
    stride_h, stride_w = conv.strides
    out_h, out_w = output_shape
    # Every (position, tap) pair: the output it lands on, if any.
    taps_y = tf.range(kernel_h)[:, None]
    taps_x = tf.range(kernel_w)[None, :]
    rows = positions[..., 0][:, :, None, None] - taps_y  # [b, k, kh, 1]
    cols = positions[..., 1][:, :, None, None] - taps_x  # [b, k, 1, kw]
    out_rows, out_cols = rows // stride_h, cols // stride_w
    valid = ((rows % stride_h == 0) & (rows >= 0) & (out_rows < out_h)
             & (cols % stride_w == 0) & (cols >= 0) & (out_cols < out_w))
    # Contributions that land nowhere go to a spare row and column, cut off below.
    out_rows = tf.where(valid, out_rows, out_h)
    out_cols = tf.where(valid, out_cols, out_w)
    shape = tf.shape(valid)
    example = tf.broadcast_to(tf.range(shape[0])[:, None, None, None], shape)
    indices = tf.stack([example, tf.broadcast_to(out_rows, shape),
                        tf.broadcast_to(out_cols, shape)], axis=-1)
    contributions = tf.einsum("bkd,yxdf->bkyxf", values, tf.cast(kernel, values.dtype))
    batch = tf.shape(values)[0]
    dense = tf.scatter_nd(indices, contributions,
                          tf.stack([batch, out_h + 1, out_w + 1, conv.filters]))
    return dense[:, :out_h, :out_w, :]
