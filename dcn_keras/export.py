"""Export a trained DCN as a versioned TensorFlow Serving SavedModel.

The SavedModel has two signatures:
  * `serving_default`: `examples`, a `[batch]` string tensor of serialized tf.Example in the
    schema of `dcn_keras.data.tfrecords` (`image` raw uint8 bytes, `height`, `width`,
    `channels`; labels are not needed).
  * `serving_images`: `images`, a `[batch, H, W, C]` float32 tensor in [0, 1].
Both return `probabilities` `[batch, classes]`, `classes` `[batch]` int64,
`coarse_probabilities` `[batch, classes]`, `positions` `[batch, k, 2]`, `boxes`
`[batch, k, 4]` and `saliency` `[batch, s1, s2]`. The entropy gradient of the saliency
(`tf.GradientTape`) runs inside the exported graph.

Multi-digit models (a composed `MultiDigitDCN`, or a coarse or fine `MultiDigitModel`) take
images of any size: `serving_default` takes sequence tf.Examples of different sizes, and
`serving_images` zero-padded `images` with their `sizes` `[batch, 2]` (see
`write_saved_model`).
"""

from __future__ import annotations

import os
import pathlib

import keras
import tensorflow as tf

from dcn_keras.atomic import atomic_directory
from dcn_keras.data import tfrecords
from dcn_keras.model import DynamicCapacityNetwork

# Signature name -> its one input.
INPUT_NAMES = {"serving_default": "examples", "serving_images": "images"}


def next_version(export_base: str | os.PathLike) -> int:
    """1 + the highest numeric version directory under `export_base` (1 if none)."""
    base = pathlib.Path(export_base)
    versions = [int(p.name) for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
    return max(versions, default=0) + 1


def checked_images(images: tf.Tensor, model: DynamicCapacityNetwork) -> tf.Tensor:
    """In-graph checks of a request batch `[batch, H, W, C]`, with errors saying what the model
    expects; returns the images with their static shape set. (A wrong rank or dtype is
    rejected earlier, by the signature's input spec.)"""
    config = model.config
    height, width, channels = config.image_shape
    expects = f"[batch >= 1, {height}, {width}, {channels}] float32 in [0, 1]"
    shape = tf.shape(images)
    checks = [
        tf.debugging.assert_equal(shape[1:], tf.constant(config.image_shape), message=(
            f"DCN ({config.name}) expects images of shape {expects}; resize or pad the request "
            "images.")),
        tf.debugging.assert_positive(shape[0], message=(
            f"DCN ({config.name}) got an empty batch; send at least one image of shape "
            f"{expects}")),
        tf.debugging.assert_less_equal(tf.reduce_max(images), 1.0, message=(
            f"DCN ({config.name}) expects pixel values in [0, 1]; divide 8-bit images by "
            "255.")),
    ]
    with tf.control_dependencies(checks):
        images = tf.identity(images)
    return tf.ensure_shape(images, [None, height, width, channels])


def serving_outputs(model: DynamicCapacityNetwork, images: tf.Tensor) -> dict[str, tf.Tensor]:
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
    from dcn_keras import multi_digit
    from dcn_keras.multi_digit_dcn import MultiDigitDCN

    checks = [
        tf.debugging.assert_positive(tf.shape(images)[0], message=(
            f"DCN ({model.config.name}) got an empty batch; send at least one image.")),
        tf.debugging.assert_less_equal(tf.reduce_max(images), 1.0, message=(
            f"DCN ({model.config.name}) expects pixel values in [0, 1]; divide 8-bit images "
            "by 255.")),
        tf.debugging.assert_equal(tf.shape(sizes)[0], tf.shape(images)[0], message=(
            "`sizes` needs one (height, width) row per image.")),
    ]
    with tf.control_dependencies(checks):
        images = tf.identity(images)
    if isinstance(model, MultiDigitDCN):
        outputs = model(images, sizes)
        attention = {key: outputs[key] for key in ("positions", "boxes", "valid", "saliency")}
    else:
        outputs = dict(zip(("length", "digits"),
                           model.predict_sequence_probabilities(images, sizes)))
        attention = {}
    length, digits = multi_digit.best_sequence(outputs["length"], outputs["digits"])
    return {"length_probabilities": outputs["length"], "digit_probabilities": outputs["digits"],
            "length": length, "digits": digits, **attention}


def _multi_digit_endpoints(model) -> dict:
    channels = model.config.channels

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, None, channels], tf.float32,
                      name=INPUT_NAMES["serving_images"]),
        tf.TensorSpec([None, 2], tf.int32, name="sizes")])
    def serve_images(images, sizes):
        return multi_digit_outputs(model, images, sizes)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string,
                                                name=INPUT_NAMES["serving_default"])])
    def serve_examples(examples):
        features = tf.io.parse_example(examples, tfrecords.IMAGE_FEATURES)
        return multi_digit_outputs(model, *padded_images(features, channels))

    return {"serving_default": serve_examples, "serving_images": serve_images}


def write_saved_model(model: keras.Model, directory: str | os.PathLike) -> pathlib.Path:
    """Write `model` as a TF Serving SavedModel into the new `directory`, atomically.

    Args:
      model: a trained `DynamicCapacityNetwork`; or a `MultiDigitDCN` or `MultiDigitModel`,
        whose signatures take images of any size (`serving_images` takes zero-padded
        `images` and their `sizes` `[batch, 2]`) and return sequence probabilities, the
        decoded `length` and `digits` (10 = none), and for the DCN the attention of its
        first scale.
      directory: where the SavedModel goes; it must not exist yet.
    """
    from dcn_keras.multi_digit_dcn import MultiDigitDCN, MultiDigitModel

    if isinstance(model, (MultiDigitDCN, MultiDigitModel)):
        return _write_archive(model, _multi_digit_endpoints(model), directory)
    if not isinstance(model, DynamicCapacityNetwork):
        raise TypeError(f"Only a DCN or a multi-digit model can be exported with these "
                        f"signatures, got {type(model).__name__}. Train one with "
                        "`dcn train --model dcn`.")
    channels = model.config.image_shape[2]

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, channels], tf.float32,
                                                name=INPUT_NAMES["serving_images"])])
    def serve_images(images):
        return serving_outputs(model, checked_images(images, model))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string,
                                                name=INPUT_NAMES["serving_default"])])
    def serve_examples(examples):
        features = tf.io.parse_example(examples, tfrecords.IMAGE_FEATURES)
        return serving_outputs(model, tfrecords.decode_images(features, model.config.image_shape))

    return _write_archive(model, {"serving_default": serve_examples,
                                  "serving_images": serve_images}, directory)


def _write_archive(model: keras.Model, endpoints: dict, directory) -> pathlib.Path:
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, function in endpoints.items():
        archive.add_endpoint(name, function)
    directory = pathlib.Path(directory)
    with atomic_directory(directory) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return directory


def export_saved_model(model: keras.Model, export_base: str | os.PathLike,
                       version: int | None = None) -> pathlib.Path:
    """Write `model` to `export_base/<version>` for TF Serving (see `write_saved_model`).

    Args:
      export_base: the model's base path, as given to `tensorflow_model_server
        --model_base_path`.
      version: the version number (default: one more than the highest there). An existing
        version is never overwritten.

    Returns:
      The version directory.
    """
    version = next_version(export_base) if version is None else int(version)
    if version < 1:
        raise ValueError(f"TF Serving versions are positive integers, got {version}.")
    return write_saved_model(model, pathlib.Path(export_base) / str(version))
