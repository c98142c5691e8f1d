"""Client-side requests for a DCN served by TensorFlow Serving (see `dcn_keras.serving.export`)."""

from __future__ import annotations

import base64
import json

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from dcn_keras.serving.export import INPUT_NAMES


def _examples(values) -> np.ndarray:
    """Serialized tf.Examples as a `[batch]` object array, checked."""
    values = list(values)
    if not values:
        raise ValueError("serving_default got an empty batch; send at least one tf.Example.")
    if not all(isinstance(v, bytes) for v in values):
        raise TypeError("serving_default takes serialized tf.Example bytes "
                        "(dcn_keras.data.tfrecords.serialize).")
    return np.array(values, dtype=object)


def _images(values) -> np.ndarray:
    """A float32 `[batch, H, W, C]` batch in [0, 1], checked as the signature checks it, so
    that a bad request fails before it is sent."""
    images = np.asarray(values)
    if images.dtype != np.float32:
        raise TypeError(f"serving_images takes float32 images in [0, 1], got {images.dtype}; "
                        "convert with images.astype('float32') / 255.")
    if images.ndim != 4:
        raise ValueError(f"serving_images takes a [batch, height, width, channels] batch, got "
                         f"shape {list(images.shape)}; add a batch axis to a single image "
                         "(images[None]) and a channel axis to grayscale ones "
                         "(images[..., None]).")
    if images.shape[0] == 0:
        raise ValueError("serving_images got an empty batch; send at least one image.")
    if not np.isfinite(images).all():
        raise ValueError("serving_images got a NaN or infinite pixel; send finite pixel "
                         "values in [0, 1].")
    if images.min() < 0 or images.max() > 1:
        raise ValueError(f"serving_images takes pixel values in [0, 1], got values from "
                         f"{images.min():g} to {images.max():g}; divide 8-bit images by 255.")
    return images


def _inputs(signature_name: str, values) -> np.ndarray:
    if signature_name not in INPUT_NAMES:
        raise ValueError(f"Unknown signature {signature_name!r}; the exported DCN has "
                         f"{sorted(INPUT_NAMES)}.")
    if signature_name == "serving_default":
        return _examples(values)
    return _images(values)


def rest_body(signature_name: str, values) -> str:
    """JSON body for `POST /v1/models/<name>[/versions/<v>]:predict` in the row format.

    Args:
      signature_name: `serving_default` (values: serialized tf.Examples, sent base64 encoded
        as TF Serving requires for binary strings) or `serving_images` (values: float32
        `[batch, H, W, C]`).
    """
    values = _inputs(signature_name, values)
    if signature_name == "serving_default":
        instances = [{"b64": base64.b64encode(v).decode("ascii")} for v in values]
    else:
        instances = values.tolist()
    return json.dumps({"signature_name": signature_name, "instances": instances})


def grpc_request(model_name: str, signature_name: str, values, version: int | None = None):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest` for the same inputs."""
    values = _inputs(signature_name, values)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    dtype = tf.string if signature_name == "serving_default" else tf.float32
    request.inputs[INPUT_NAMES[signature_name]].CopyFrom(
        tf.make_tensor_proto(values, dtype=dtype))
    return request
