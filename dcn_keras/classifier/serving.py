"""TF Serving signatures of a `DynamicCapacityNetwork`, from a `DCNConfig` or from networks
(see `dcn_keras.serving.export`).

Both signatures return `probabilities` `[batch, classes]`, `classes` `[batch]` int64,
`coarse_probabilities` `[batch, classes]`, `positions` `[batch, k, 2]`, `boxes`
`[batch, k, 4]` and `saliency` `[batch, s1, s2]`. The entropy gradient of the saliency
(`tf.GradientTape`) runs inside the exported graph.
"""

from __future__ import annotations

import tensorflow as tf

from dcn_keras.data import tfrecords
from dcn_keras.serving import export


def model_name(model) -> str:
    """How error messages name the model."""
    return f"DCN ({model.title})"


def checked_images(images: tf.Tensor, model) -> tf.Tensor:
    """In-graph checks of a request batch `[batch, H, W, C]` (rank, size, pixels), with
    errors saying what the model expects; returns the images with their static shape set.
    (A wrong dtype is rejected earlier, by the signature's input spec.)"""
    height, width, channels = model.image_shape
    expects = (f"{model_name(model)} expects images of shape [batch >= 1, {height}, {width}, "
               f"{channels}] float32 in [0, 1]")
    images = export.checked_rank(images, 4, (
        f"{expects}, [batch, height, width, channels]: add a batch axis to a single image "
        "(images[None]) and a channel axis to grayscale ones (images[..., None])."))
    images = export.require(
        images, tf.reduce_all(tf.equal(tf.shape(images)[1:], model.image_shape)),
        f"{expects}; resize or pad the request images. Got shape", tf.shape(images))
    images = export.checked_pixels(images, model_name(model))
    return tf.ensure_shape(images, [None, height, width, channels])


def serving_outputs(model, images: tf.Tensor) -> dict[str, tf.Tensor]:
    """The served outputs for checked images `[batch, H, W, C]`."""
    attention = model.attend(images)
    return {
        "probabilities": attention["probabilities"],
        "classes": tf.argmax(attention["probabilities"], axis=-1),
        "coarse_probabilities": attention["coarse_probabilities"],
        "positions": attention["positions"],
        "boxes": attention["boxes"],
        "saliency": attention["saliency"],
    }


def endpoints(model) -> dict:
    """`serving_default` (tf.Examples) and `serving_images` (`[batch, H, W, C]` float32)
    functions of a `DynamicCapacityNetwork`. `images` is declared without a rank, so that
    `checked_images` can name a wrong one (see `dcn_keras.serving.export`)."""
    spec = [tf.TensorSpec(None, tf.float32, name=export.INPUT_NAMES["serving_images"])]
    return export.signatures(
        lambda images: serving_outputs(model, checked_images(images, model)), spec,
        lambda features: (tfrecords.decode_images(features, model.image_shape),),
        model_name(model))
