"""TF Serving signatures of the house-numbers models (see `dcn_keras.serving.export`).

They take images of any size: `serving_default` takes sequence tf.Examples of different
sizes, and `serving_images` zero-padded `images` with their `sizes` `[batch, 2]`. They return
sequence probabilities, the decoded `length` and `digits` (10 = none), and for the DCN the
attention of its first scale. Every request is checked in the graph first (rank, channels,
sizes within the padded images, pixels), with errors that say what to send.
"""

from __future__ import annotations

import tensorflow as tf

from dcn_keras.house_numbers import sequences
from dcn_keras.house_numbers.dcn import MultiDigitDCN
from dcn_keras.serving import export


def model_name(model) -> str:
    """How error messages name the model."""
    return f"{'DCN' if isinstance(model, MultiDigitDCN) else 'Model'} ({model.config.name})"


def checked_features(features: dict[str, tf.Tensor], channels: int,
                     name: str) -> dict[str, tf.Tensor]:
    """Parsed `IMAGE_FEATURES` of `[batch]` examples after checking that each holds a
    `[height >= 1, width >= 1, channels]` image of exactly that many raw uint8 bytes."""
    expects = (f"{name} expects tf.Examples whose `image` holds height x width x {channels} "
               "raw uint8 pixels (dcn_keras.data.tfrecords.serialize_sequence)")
    image = export.require(
        features["image"], tf.reduce_all(tf.equal(features["channels"], channels)),
        f"{name} expects {channels}-channel images; convert the request images (e.g. "
        "tf.image.rgb_to_grayscale). Got channels", features["channels"])
    image = export.require(
        image, tf.reduce_all((features["height"] >= 1) & (features["width"] >= 1)),
        f"{expects}, with height and width >= 1. Got heights", features["height"],
        "widths", features["width"])
    pixels = features["height"] * features["width"] * channels
    image = export.require(
        image, tf.reduce_all(tf.equal(tf.strings.length(image, unit="BYTE"),
                                      tf.cast(pixels, tf.int32))),
        f"{expects}, not encoded or cut bytes. Got byte counts", tf.strings.length(image),
        "for height x width x channels", pixels)
    return {**features, "image": image}


def padded_images(features: dict[str, tf.Tensor], channels: int,
                  name: str = "The model") -> tuple[tf.Tensor, tf.Tensor]:
    """Parsed `IMAGE_FEATURES` of `[batch]` examples of any sizes -> (`[batch, max H, max W,
    channels]` float32 in [0, 1], zero padded at the bottom and right; `[batch, 2]` int32
    sizes)."""
    features = checked_features(features, channels, name)
    sizes = tf.cast(tf.stack([features["height"], features["width"]], axis=-1), tf.int32)
    height, width = tf.reduce_max(sizes[:, 0]), tf.reduce_max(sizes[:, 1])

    def decode(args):
        raw, size = args
        image = tf.reshape(tf.io.decode_raw(raw, tf.uint8), [size[0], size[1], channels])
        return tf.pad(image, [[0, height - size[0]], [0, width - size[1]], [0, 0]])

    images = tf.map_fn(decode, (features["image"], sizes),
                       fn_output_signature=tf.TensorSpec([None, None, channels], tf.uint8))
    return tf.image.convert_image_dtype(images, tf.float32), sizes


def checked_inputs(model, images: tf.Tensor, sizes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """`images` `[batch, H, W, C]` and `sizes` `[batch, 2]` after in-graph checks, with their
    static shapes set: the ranks, the channels, one size row per image, every size within
    the padded images, and the pixels (`export.checked_pixels`)."""
    name, channels = model_name(model), model.config.channels
    expects = (f"{name} expects `images` [batch, height, width, {channels}] float32 in [0, 1], "
               "zero padded to the largest, and `sizes` [batch, 2] int32")
    images = export.checked_rank(images, 4, (
        f"{expects}: add a batch axis to a single image (images[None]) and a channel axis to "
        "grayscale ones (images[..., None])."))
    images = export.require(images, tf.equal(tf.shape(images)[3], channels), (
        f"{expects}: convert the images to {channels} channel(s) (e.g. "
        "tf.image.rgb_to_grayscale). Got shape"), tf.shape(images))
    sizes = export.checked_rank(sizes, 2, f"{expects}: one (height, width) row per image.")
    sizes = export.require(sizes, tf.reduce_all(tf.equal(tf.shape(sizes),
                                                         [tf.shape(images)[0], 2])),
                           f"{expects}: `sizes` needs one (height, width) row per image. Got "
                           "sizes shape", tf.shape(sizes), "for images shape", tf.shape(images))
    sizes = export.require(
        sizes, tf.reduce_all((sizes >= 1) & (sizes <= tf.shape(images)[1:3])),
        f"{expects}: each `sizes` row is its image's (height, width) before padding, from 1 "
        "to the padded height and width. Got sizes", sizes, "for padded (height, width)",
        tf.shape(images)[1:3])
    images = export.checked_pixels(images, name)
    return (tf.ensure_shape(images, [None, None, None, channels]),
            tf.ensure_shape(sizes, [None, 2]))


def house_numbers_outputs(model, images: tf.Tensor, sizes: tf.Tensor) -> dict[str, tf.Tensor]:
    """The served outputs of a `MultiDigitDCN` (with its attention) or a coarse or fine
    `MultiDigitModel` (average top) for padded images and their sizes."""
    images, sizes = checked_inputs(model, images, sizes)
    if isinstance(model, MultiDigitDCN):
        outputs = model(images, sizes)
        attention = {key: outputs[key] for key in ("positions", "boxes", "valid", "saliency")}
        # A client reads which method answered from the reply: the paper's or an extension.
        batch = tf.shape(images)[:1]
        attention["attention"] = tf.fill(batch, model.attention)
        attention["combination"] = tf.fill(batch, model.combination)
    else:
        outputs = dict(zip(("length", "digits"),
                           model.predict_sequence_probabilities(images, sizes)))
        attention = {}
    length, digits = sequences.best_sequence(outputs["length"], outputs["digits"])
    return {"length_probabilities": outputs["length"], "digit_probabilities": outputs["digits"],
            "length": length, "digits": digits, **attention}


def endpoints(model) -> dict:
    """`serving_default` (tf.Examples) and `serving_images` (padded images and sizes)
    functions of a `MultiDigitDCN` or a coarse or fine `MultiDigitModel`. The inputs are
    declared without a rank, so that `checked_inputs` can name a wrong one (see
    `dcn_keras.serving.export`)."""
    spec = [tf.TensorSpec(None, tf.float32, name=export.INPUT_NAMES["serving_images"]),
            tf.TensorSpec(None, tf.int32, name="sizes")]
    return export.signatures(
        lambda images, sizes: house_numbers_outputs(model, images, sizes), spec,
        lambda features: padded_images(features, model.config.channels, model_name(model)),
        model_name(model))
