"""Input checks with errors that name the problem and the fix."""

from __future__ import annotations

import tensorflow as tf

from dcn_keras.cluttered_mnist.config import DCNConfig


def check_images(images, config: DCNConfig) -> None:
    """Raise a clear error unless `images` is a float `[batch, H, W, C]` batch."""
    dtype = tf.as_dtype(images.dtype)
    if not dtype.is_floating:
        raise TypeError(
            f"DCN ({config.name}) expects float images in [0, 1], got dtype {dtype.name}. "
            "Convert first, e.g. tf.image.convert_image_dtype(images, tf.float32) "
            "or images.astype('float32') / 255.")
    shape = tuple(images.shape)
    expected = config.image_shape
    if len(shape) != 4 or tuple(shape[1:]) != expected:
        raise ValueError(
            f"DCN ({config.name}) expects images of shape [batch, {expected[0]}, "
            f"{expected[1]}, {expected[2]}], got {list(shape)}. Add a batch axis to a single "
            "image (images[None]) and a channel axis to grayscale ones (images[..., None]).")


def check_num_patches(k: int, config: DCNConfig) -> int:
    """Return k as an int after checking 1 <= k <= number of coarse positions."""
    positions = config.geometry().num_positions
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= positions:
        raise ValueError(
            f"num_patches must be an integer from 1 to {positions} (the "
            f"{config.geometry().map_height}x{config.geometry().map_width} coarse positions "
            f"of {config.name}), got {k!r}.")
    return k
