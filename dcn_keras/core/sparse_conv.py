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


def add_conv_of_sparse(conv, base: tf.Tensor, values: tf.Tensor,
                       positions: tf.Tensor) -> tf.Tensor:
    """base + conv(x) for an input x that is `values` at `positions` and zero elsewhere.

    Args:
      conv: a layer for which `supports(conv)` holds.
      base: `[batch, out_h, out_w, filters]`, the shape of conv on the full input.
      values: `[batch, k, D]` input vectors.
      positions: `[batch, k, 2]` distinct (row, col) input positions.

    Returns:
      `[batch, out_h, out_w, filters]`, equal to base + conv applied to the dense map.
    """
    (kernel_h, kernel_w), (stride_h, stride_w) = conv.kernel_size, conv.strides
    taps_h, taps_w = -(-kernel_h // stride_h), -(-kernel_w // stride_w)
    depth, filters = conv.kernel.shape[2], conv.kernel.shape[3]
    # With a stride, an input row reaches only the kernel rows of its phase (row % stride):
    # ceil(kernel / stride) of them. Padding the kernel to a multiple of the stride with
    # zeros gives every phase the same number of taps, so the scatter below writes only
    # the outputs a position can reach (a quarter of the taps for a 4x4 kernel at stride 2).
    kernel = tf.pad(tf.cast(conv.kernel, values.dtype),
                    [[0, taps_h * stride_h - kernel_h], [0, taps_w * stride_w - kernel_w],
                     [0, 0], [0, 0]])
    # [taps_h, stride_h, taps_w, stride_w, D, F] -> [phases, D, taps_h, taps_w, F].
    kernel = tf.reshape(tf.transpose(
        tf.reshape(kernel, [taps_h, stride_h, taps_w, stride_w, depth, filters]),
        [1, 3, 4, 0, 2, 5]), [stride_h * stride_w, depth, taps_h, taps_w, filters])
    rows, cols = positions[..., 0], positions[..., 1]
    contributions = tf.gather(tf.einsum("bkd,pdyxf->bkpyxf", values, kernel),
                              (rows % stride_h) * stride_w + cols % stride_w,
                              batch_dims=2)  # [b, k, taps_h, taps_w, F]
    # Tap (j, i) of the phase sends input (row, col) to output (row // s - j, col // s - i).
    out_h, out_w = base.shape[1], base.shape[2]
    out_rows = (rows // stride_h)[:, :, None, None] - tf.range(taps_h)[:, None]
    out_cols = (cols // stride_w)[:, :, None, None] - tf.range(taps_w)[None, :]
    valid = ((out_rows >= 0) & (out_rows < out_h)) & ((out_cols >= 0) & (out_cols < out_w))
    # Taps that land outside the output add zero at (0, 0).
    shape = tf.shape(valid)
    example = tf.broadcast_to(tf.range(shape[0])[:, None, None, None], shape)
    indices = tf.stack([example, tf.broadcast_to(tf.where(valid, out_rows, 0), shape),
                        tf.broadcast_to(tf.where(valid, out_cols, 0), shape)], axis=-1)
    return tf.tensor_scatter_nd_add(
        base, indices, contributions * tf.cast(valid, contributions.dtype)[..., None])
