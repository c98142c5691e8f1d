"""Export a trained model as a versioned TensorFlow Serving SavedModel.

A family's models get two signatures (the family's `serving.py` says what they return):
  * `serving_default`: `examples`, a `[batch]` string tensor of serialized tf.Example in the
    schema of `dcn_keras.data.tfrecords` (`image` raw uint8 bytes, `height`, `width`,
    `channels`; labels are not needed).
  * `serving_images`: `images`, a `[batch, H, W, C]` float32 tensor in [0, 1] (multi-digit
    models: zero padded, with their `sizes` `[batch, 2]`).
Models without signatures (the Cluttered MNIST baselines) are exported plain.
"""

from __future__ import annotations

import os
import pathlib

import keras
import tensorflow as tf

from dcn_keras.atomic import atomic_directory
from dcn_keras.data import tfrecords

# Signature name -> its one (first) input.
INPUT_NAMES = {"serving_default": "examples", "serving_images": "images"}


def next_version(export_base: str | os.PathLike) -> int:
    """1 + the highest numeric version directory under `export_base` (1 if none)."""
    base = pathlib.Path(export_base)
    versions = [int(p.name) for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
    return max(versions, default=0) + 1


def checked_batch(images: tf.Tensor, model_name: str, checks=()) -> tf.Tensor:
    """`images` `[batch, H, W, C]` after in-graph checks that the batch is not empty and
    the pixels are at most 1, and after `checks`, with errors that say what to send."""
    checks = [
        *checks,
        tf.debugging.assert_positive(tf.shape(images)[0], message=(
            f"DCN ({model_name}) got an empty batch; send at least one image.")),
        tf.debugging.assert_less_equal(tf.reduce_max(images), 1.0, message=(
            f"DCN ({model_name}) expects pixel values in [0, 1]; divide 8-bit images by "
            "255.")),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(images)


def signatures(serve, image_spec: list, decode) -> dict:
    """The two signature functions of a model.

    Args:
      serve: maps the image inputs of `image_spec` to the dict of served outputs.
      image_spec: `tf.TensorSpec`s of `serving_images`' inputs, named.
      decode: maps parsed `tfrecords.IMAGE_FEATURES` of a `[batch]` of tf.Examples to
        `serve`'s inputs.
    """
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string,
                                                name=INPUT_NAMES["serving_default"])])
    def serve_examples(examples):
        return serve(*decode(tf.io.parse_example(examples, tfrecords.IMAGE_FEATURES)))

    return {"serving_default": serve_examples,
            "serving_images": tf.function(serve, input_signature=image_spec)}


def write_saved_model(model: keras.Model, directory: str | os.PathLike,
                      family) -> pathlib.Path:
    """Write `model` as a TF Serving SavedModel into the new `directory`, atomically, with
    the signatures `family.serving_endpoints(model)` gives (plain Keras export if none).

    `directory` must not exist yet.
    """
    directory = pathlib.Path(directory)
    endpoints = family.serving_endpoints(model)
    if endpoints is None:
        with atomic_directory(directory) as tmp:
            model.export(str(tmp), format="tf_saved_model", verbose=False)
        return directory
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, function in endpoints.items():
        archive.add_endpoint(name, function)
    with atomic_directory(directory) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return directory


def export_saved_model(model: keras.Model, export_base: str | os.PathLike, family,
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
    if family.serving_endpoints(model) is None:
        raise TypeError(f"Only a DCN or a multi-digit model can be exported with the serving "
                        f"signatures, got {type(model).__name__}. Train one with "
                        "`dcn train --model dcn`.")
    version = next_version(export_base) if version is None else int(version)
    if version < 1:
        raise ValueError(f"TF Serving versions are positive integers, got {version}.")
    return write_saved_model(model, pathlib.Path(export_base) / str(version), family)
