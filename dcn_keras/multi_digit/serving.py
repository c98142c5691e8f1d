"""TF Serving signatures of the multi-digit models (see `dcn_keras.serving.export`).

They take images of any size: `serving_default` takes sequence tf.Examples of different
sizes, and `serving_images` zero-padded `images` with their `sizes` `[batch, 2]`. They return
sequence probabilities, the decoded `length` and `digits` (10 = none), and for the DCN the
attention of its first scale.
"""

from __future__ import annotations

import tensorflow as tf

from dcn_keras.multi_digit import sequences
from dcn_keras.multi_digit.dcn import MultiDigitDCN
from dcn_keras.serving import export


def padded_images(features: dict[str, tf.Tensor], channels: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Parsed `IMAGE_FEATURES` of `[batch]` examples of any sizes -> (`[batch, max H, max W,
    channels]` float32 in [0, 1], zero padded at the bottom and right; `[batch, 2]` int32
    sizes)."""
    sizes = tf.cast(tf.stack([features["height"], features["width"]], axis=-1), tf.int32)
    checks = [tf.debugging.assert_equal(features["channels"], tf.cast(channels, tf.int64),
                                        message=f"The model expects {channels}-channel images; "
                                                "convert the request images.")]
    height, width = tf.reduce_max(sizes[:, 0]), tf.reduce_max(sizes[:, 1])

    def decode(args):
        raw, size = args
        image = tf.reshape(tf.io.decode_raw(raw, tf.uint8), [size[0], size[1], channels])
        return tf.pad(image, [[0, height - size[0]], [0, width - size[1]], [0, 0]])

    with tf.control_dependencies(checks):
        images = tf.map_fn(decode, (features["image"], sizes),
                           fn_output_signature=tf.TensorSpec([None, None, channels], tf.uint8))
    return tf.image.convert_image_dtype(images, tf.float32), sizes


def multi_digit_outputs(model, images: tf.Tensor, sizes: tf.Tensor) -> dict[str, tf.Tensor]:
    """The served outputs of a `MultiDigitDCN` (with its attention) or a coarse or fine
    `MultiDigitModel` (average top) for padded images and their sizes."""
    check = tf.debugging.assert_equal(tf.shape(sizes)[0], tf.shape(images)[0], message=(
        "`sizes` needs one (height, width) row per image."))
    images = export.checked_batch(images, model.config.name, [check])
    if isinstance(model, MultiDigitDCN):
        outputs = model(images, sizes)
        attention = {key: outputs[key] for key in ("positions", "boxes", "valid", "saliency")}
    else:
        outputs = dict(zip(("length", "digits"),
                           model.predict_sequence_probabilities(images, sizes)))
        attention = {}
    length, digits = sequences.best_sequence(outputs["length"], outputs["digits"])
    return {"length_probabilities": outputs["length"], "digit_probabilities": outputs["digits"],
            "length": length, "digits": digits, **attention}


def endpoints(model) -> dict:
    """`serving_default` (tf.Examples) and `serving_images` (padded images and sizes)
    functions of a `MultiDigitDCN` or a coarse or fine `MultiDigitModel`."""
    spec = [tf.TensorSpec([None, None, None, model.config.channels], tf.float32,
                          name=export.INPUT_NAMES["serving_images"]),
            tf.TensorSpec([None, 2], tf.int32, name="sizes")]
    return export.signatures(
        lambda images, sizes: multi_digit_outputs(model, images, sizes), spec,
        lambda features: padded_images(features, model.config.channels))
