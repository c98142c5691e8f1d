"""Average pooling over non-overlapping blocks, computed as two reshaped means.

On CPU, `keras.layers.AveragePooling2D` over a megapixel image is several times slower than
the same means over the reshaped image, and a strided convolution in its place holds
several copies of the image (docs/megapixel_mnist.md); these means let a coarse network
start from a downscaled view cheaply.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="dcn_keras")
class BlockAverage(keras.layers.Layer):
    """`[b, H, W, C]` -> `[b, H // size, W // size, C]`: the mean of each `size` x `size`
    block, the last H % size rows and W % size columns left out, as
    `AveragePooling2D(size)` with "valid" padding computes it."""

    def __init__(self, size: int, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, images):
        size = self.size
        shape = tf.shape(images)
        rows, cols, channels = shape[1] // size, shape[2] // size, shape[3]
        images = images[:, :rows * size, :cols * size]
        across = tf.reduce_mean(tf.reshape(images, [-1, rows * size, cols, size, channels]),
                                axis=3)
        return tf.reduce_mean(tf.reshape(across, [-1, rows, size, cols, channels]), axis=2)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, None if height is None else height // self.size,
                None if width is None else width // self.size, channels)

    def get_config(self):
        return {**super().get_config(), "size": self.size}
