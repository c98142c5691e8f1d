"""Export a trained model as a versioned TensorFlow Serving SavedModel.

A family's models get two signatures (the family's `serving.py` says what they return):
  * `serving_default`: `examples`, a `[batch]` string tensor of serialized tf.Example in the
    schema of `dcn_keras.data.tfrecords` (`image` raw uint8 bytes, `height`, `width`,
    `channels`; labels are not needed).
  * `serving_images`: `images`, a `[batch, H, W, C]` float32 tensor in [0, 1] (house-numbers
    models: zero padded, with their `sizes` `[batch, 2]`).
Models without signatures (the Cluttered MNIST baselines) are exported plain.

Every request is checked inside the graph before the model runs, and a bad one fails with
an InvalidArgument error that says what was expected and how to fix it (docs/bad_requests.md):
an empty batch, a wrong rank or size, a NaN or infinite pixel, a pixel outside [0, 1].
Pixels are never clipped: a value outside [0, 1] means the client scaled its images
differently (0-255, or mean-centred), and an answer to such input is meaningless however
confident it looks. The signatures declare their inputs with an unknown rank so that a
wrong rank reaches these checks: TF Serving and loaded SavedModels do not check a declared
shape, and a declared rank lets TensorFlow drop a rank check as always true.
"""

from __future__ import annotations

import os
import pathlib

import keras
import numpy as np
import tensorflow as tf

from dcn_keras.atomic import atomic_directory
from dcn_keras.data import tfrecords

# Signature name -> its one (first) input.
INPUT_NAMES = {"serving_default": "examples", "serving_images": "images"}
MAX_VERSION = 2**63 - 1


def next_version(export_base: str | os.PathLike) -> int:
    """1 + the highest numeric version directory under `export_base` (1 if none)."""
    base = pathlib.Path(export_base)
    versions = [int(p.name) for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
    return max(versions, default=0) + 1


def require(tensor: tf.Tensor, condition: tf.Tensor, message: str, *data) -> tf.Tensor:
    """`tensor`, once the scalar bool `condition` holds; otherwise an InvalidArgumentError
    with `message` (what was expected, and the fix) followed by `data` (what was sent).

    Checks chained through the returned tensor run in order, so a later one (a size) can
    assume an earlier one (the rank) and never fails inside TensorFlow first: the tensor
    passes through a `tf.cond` on the condition, a data dependency.
    """
    def fail():
        with tf.control_dependencies([tf.debugging.Assert(condition, [message, *data],
                                                          summarize=8)]):
            return tf.identity(tensor)

    checked = tf.cond(condition, lambda: tf.identity(tensor), fail)
    # A reshape to its own dynamic shape keeps the shape that later ops imply (a convolution
    # implies rank 4, tf.ensure_shape a size) from flowing back to `tensor`: Grappler would
    # then fold the condition's tf.rank or tf.shape into a constant and skip the check.
    return tf.reshape(checked, tf.shape(checked))


def checked_rank(tensor: tf.Tensor, rank: int, message: str) -> tf.Tensor:
    """`tensor` after checking in the graph that it has `rank` dimensions."""
    return require(tensor, tf.equal(tf.rank(tensor), rank), message, "Got shape",
                   tf.shape(tensor))


def checked_pixels(images: tf.Tensor, name: str) -> tf.Tensor:
    """`images` `[batch, H, W, C]` after checking that the batch is not empty and that every
    pixel is a finite number in [0, 1] (`name`: the model, for the messages)."""
    images = require(images, tf.shape(images)[0] > 0,
                     f"{name} got an empty batch; send at least one image.")
    images = tf.debugging.assert_all_finite(images, (
        f"{name} got a NaN or infinite pixel; send finite pixel values in [0, 1]"))
    low, high = tf.reduce_min(images), tf.reduce_max(images)
    return require(images, tf.logical_and(low >= 0.0, high <= 1.0), (
        f"{name} expects pixel values in [0, 1]; divide 8-bit images by 255, and send "
        "images without mean subtraction. Got values from"), low, "to", high)


def checked_examples(examples: tf.Tensor, name: str) -> tf.Tensor:
    """`examples` after checking that they are a non-empty `[batch]` vector."""
    examples = checked_rank(examples, 1, (
        f"{name} expects `examples`, a [batch] vector of serialized tf.Examples; wrap a "
        "single example in a list."))
    examples = require(examples, tf.size(examples) > 0,
                       f"{name} got an empty batch; send at least one tf.Example.")
    return tf.ensure_shape(examples, [None])


def signatures(serve, image_spec: list, decode, name: str) -> dict:
    """The two signature functions of a model.

    Args:
      serve: maps the image inputs of `image_spec` to the dict of served outputs, after
        checking them.
      image_spec: `tf.TensorSpec`s of `serving_images`' inputs, named.
      decode: maps parsed `tfrecords.IMAGE_FEATURES` of a `[batch]` of tf.Examples to
        `serve`'s inputs, after checking them.
      name: the model, as error messages name it (e.g. "DCN (cluttered_mnist)").
    """
    @tf.function(input_signature=[tf.TensorSpec(None, tf.string,
                                                name=INPUT_NAMES["serving_default"])])
    def serve_examples(examples):
        examples = checked_examples(examples, name)
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
    broken = [weight.path for weight in model.weights
              if not bool(np.isfinite(keras.ops.convert_to_numpy(weight)).all())]
    if broken:
        # A model with NaN weights serves NaN probabilities and class 0 to valid requests.
        raise ValueError(f"{model.name} has weights that are NaN or infinite "
                         f"({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}); "
                         "its training diverged. Retrain it with a lower --learning-rate; "
                         "nothing was exported.")
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
        raise TypeError(f"Only a DCN or a house-numbers model can be exported with the serving "
                        f"signatures, got {type(model).__name__}. Train one with "
                        "`dcn train --model dcn`.")
    version = next_version(export_base) if version is None else int(version)
    if not 1 <= version <= MAX_VERSION:
        # TF Serving reads version folders as int64 and skips, with a log line only, any
        # other: a larger one would be written and never served.
        raise ValueError(f"TF Serving versions are positive integers, got {version}; the "
                         f"largest it reads is {MAX_VERSION} (int64). Pass another --version, "
                         "or export to a new base path.")
    return write_saved_model(model, pathlib.Path(export_base) / str(version), family)
