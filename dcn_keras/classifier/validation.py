"""Input checks with errors that name the problem and the fix."""

from __future__ import annotations

import tensorflow as tf

from dcn_keras.core.geometry import Geometry


def check_images(images, image_shape: tuple[int, int, int], title: str) -> None:
    """Raise a clear error unless `images` is a float `[batch, H, W, C]` batch of
    `image_shape` (H, W, C) images, for the DCN that `title` names."""
    dtype = tf.as_dtype(images.dtype)
    if not dtype.is_floating:
        raise TypeError(
            f"DCN ({title}) expects float images in [0, 1], got dtype {dtype.name}. "
            "Convert first, e.g. tf.image.convert_image_dtype(images, tf.float32) "
            "or images.astype('float32') / 255.")
    shape = tuple(images.shape)
    expected = tuple(image_shape)
    if len(shape) != 4 or tuple(shape[1:]) != expected:
        raise ValueError(
            f"DCN ({title}) expects images of shape [batch, {expected[0]}, "
            f"{expected[1]}, {expected[2]}], got {list(shape)}. Add a batch axis to a single "
            "image (images[None]) and a channel axis to grayscale ones (images[..., None]).")


def check_num_patches(k: int, geometry: Geometry, title: str) -> int:
    """Return k as an int after checking 1 <= k <= number of coarse positions."""
    positions = geometry.num_positions
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= positions:
        raise ValueError(
            f"num_patches must be an integer from 1 to {positions} (the "
            f"{geometry.map_height}x{geometry.map_width} coarse positions of {title}), "
            f"got {k!r}.")
    return k
