"""TF Serving signatures of the Cluttered MNIST DCN (see `dcn_keras.serving.export`).

Both signatures return `probabilities` `[batch, classes]`, `classes` `[batch]` int64,
`coarse_probabilities` `[batch, classes]`, `positions` `[batch, k, 2]`, `boxes`
`[batch, k, 4]` and `saliency` `[batch, s1, s2]`. The entropy gradient of the saliency
(`tf.GradientTape`) runs inside the exported graph.
"""

from __future__ import annotations

import tensorflow as tf

from dcn_keras.data import tfrecords
from dcn_keras.serving import export


def checked_images(images: tf.Tensor, model) -> tf.Tensor:
    """In-graph checks of a request batch `[batch, H, W, C]`, with errors saying what the model
    expects; returns the images with their static shape set. (A wrong rank or dtype is
    rejected earlier, by the signature's input spec.)"""
    config = model.config
    height, width, channels = config.image_shape
    expects = f"[batch >= 1, {height}, {width}, {channels}] float32 in [0, 1]"
    shape = tf.shape(images)
    check = tf.debugging.assert_equal(shape[1:], tf.constant(config.image_shape), message=(
        f"DCN ({config.name}) expects images of shape {expects}; resize or pad the request "
        "images."))
    images = export.checked_batch(images, config.name, [check])
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
    functions of a `DynamicCapacityNetwork`."""
    spec = [tf.TensorSpec([None, None, None, model.config.image_shape[2]], tf.float32,
                          name=export.INPUT_NAMES["serving_images"])]
    return export.signatures(
        lambda images: serving_outputs(model, checked_images(images, model)), spec,
        lambda features: (tfrecords.decode_images(features, model.config.image_shape),))
