"""Bad requests to the exported signatures, tried one by one: each gets an InvalidArgument
error that names what the model expects, never NaN, a confident answer to nonsense, or a
shape error from deep inside. The models have fresh weights: the checks do not depend on
training, and the answers to good requests are compared with the Keras model."""

import os
import stat

import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.data import tfrecords
from dcn_keras.serving import export
from dcn_keras.serving import requests as serving_requests
from tests.helpers import house_numbers_dcn

BAD = tf.errors.InvalidArgumentError


@pytest.fixture(scope="module")
def cluttered(tmp_path_factory):
    """(model, exported version directory, loaded signatures) of a fresh Cluttered MNIST DCN,
    exported under umask 022."""
    family = presets.family("cluttered_mnist")
    model = family.build("dcn")
    model(np.zeros((1, 100, 100, 1), np.float32))
    previous = os.umask(0o022)
    try:
        path = export.export_saved_model(model, tmp_path_factory.mktemp("serving") / "dcn",
                                         family)
    finally:
        os.umask(previous)
    return model, path, tf.saved_model.load(str(path)).signatures


@pytest.fixture(scope="module")
def multi_digit(tmp_path_factory):
    """(model, loaded signatures) of a fresh composed multi-digit DCN."""
    dcn = house_numbers_dcn()
    path = export.export_saved_model(dcn, tmp_path_factory.mktemp("serving") / "svhn",
                                     presets.family("house_numbers"))
    return dcn, tf.saved_model.load(str(path)).signatures


def _images(n=2, shape=(100, 100, 1)):
    return np.random.default_rng(0).random((n, *shape), dtype=np.float32)


def _with(value, index=(0, 50, 50, 0)):
    images = _images()
    images[index] = value
    return images


def test_exported_versions_are_readable_by_other_users_under_umask_022(cluttered):
    _, path, _ = cluttered
    modes = {str(p.relative_to(path.parent)): stat.S_IMODE(p.stat().st_mode)
             for p in [path, *path.rglob("*")]}
    assert modes["1"] == 0o755 and modes["1/variables"] == 0o755
    assert modes["1/saved_model.pb"] == 0o644
    assert all(mode == (0o755 if (path.parent / name).is_dir() else 0o644)
               for name, mode in modes.items()), modes


@pytest.mark.parametrize("images, message", [
    (_with(-np.inf), "got a NaN or infinite pixel.*Tensor had Inf values"),
    (_with(np.inf), "got a NaN or infinite pixel.*Tensor had Inf values"),
    (_with(np.nan), "got a NaN or infinite pixel.*Tensor had NaN values"),
    (_images() - 1000, r"pixel values in \[0, 1\].*Got values from\] \[-1000"),
    (_with(-0.01), r"pixel values in \[0, 1\].*without mean subtraction"),
    (_images() * 255, r"pixel values in \[0, 1\]; divide 8-bit images by 255"),
    (_images()[..., 0], r"\[batch, height, width, channels\]: add a batch axis.*Got shape\] "
                        r"\[2 100 100\]"),
    (_images()[None], r"\[batch, height, width, channels\].*Got shape\] \[1 2 100 100 1\]"),
    (_images()[0, :, :, 0], r"\[batch, height, width, channels\].*Got shape\] \[100 100\]"),
    (_images(shape=(100, 100, 3)), r"\[batch >= 1, 100, 100, 1\].*Got shape\] \[2 100 100 3\]"),
    (_images(shape=(64, 64, 1)), r"\[batch >= 1, 100, 100, 1\].*; resize or pad"),
    (_images(0), "got an empty batch; send at least one image"),
])
def test_bad_images_are_refused_with_what_the_model_expects(cluttered, images, message):
    with pytest.raises(BAD, match=message):
        cluttered[2]["serving_images"](images=tf.constant(images))


def test_checks_hold_after_good_requests_and_leave_their_answers_alone(cluttered):
    """Answers equal the Keras model's; and a good request first does not let TensorFlow
    specialise a check away for later ones."""
    model, _, signatures = cluttered
    images = _images(3)
    for _ in range(2):
        out = signatures["serving_images"](images=tf.constant(images))
        np.testing.assert_allclose(out["probabilities"], model(images), atol=1e-5)
        for bad, message in [(images[..., 0], "add a batch axis"), (images - 5, r"\[0, 1\]"),
                             (_images(3, (64, 64, 1)), "resize or pad")]:
            with pytest.raises(BAD, match=message):
                signatures["serving_images"](images=tf.constant(bad))


@pytest.mark.parametrize("name, inputs, message", [
    ("serving_images", {"images": tf.zeros((1, 100, 100, 1), tf.uint8)},
     "expected to be a float tensor but is a uint8 tensor"),
    ("serving_images", {"images": tf.zeros((1, 100, 100, 1), tf.float64)},
     "expected to be a float tensor but is a double tensor"),
    ("serving_default", {"examples": tf.constant([1.0])},
     "expected to be a string tensor but is a float tensor"),
])
def test_wrong_dtypes_are_refused_by_the_signature(cluttered, name, inputs, message):
    with pytest.raises(BAD, match=message):
        cluttered[2][name](**inputs)


def _example(pixels=None, **changes) -> bytes:
    """A Cluttered MNIST tf.Example of `pixels` (default 100x100 zeros), with features
    replaced (bytes, int) or removed (None)."""
    pixels = np.zeros((100, 100), np.uint8) if pixels is None else pixels
    example = tf.train.Example.FromString(tfrecords.serialize(pixels, 0, (0, 0, 0, 0)))
    for key, value in changes.items():
        if value is None:
            del example.features.feature[key]
        elif isinstance(value, bytes):
            example.features.feature[key].bytes_list.value[0] = value
        else:
            example.features.feature[key].int64_list.value[0] = value
    return example.SerializeToString()


@pytest.mark.parametrize("examples, message", [
    (tf.constant([], tf.string), "got an empty batch; send at least one tf.Example"),
    (tf.constant(_example()), r"a \[batch\] vector of serialized tf.Examples; wrap a single"),
    (tf.constant([[_example()]]), r"a \[batch\] vector.*Got shape\] \[1 1\]"),
    (tf.constant([b"not a tf.Example"]), "Could not parse example input"),
    (tf.constant([_example(image=None)]),
     "Feature: image .* is required but could not be found"),
    (tf.constant([_example(image=b"\x00" * 10)]),
     r"must hold the height x width x channels = 10000 raw uint8 pixels"),
    (tf.constant([_example(np.zeros((64, 64), np.uint8))]), r"preset shape \[100, 100, 1\]"),
    (tf.constant([_example(np.zeros((100, 100, 3), np.uint8))]), r"preset shape \[100, 100, 1\]"),
])
def test_bad_tf_examples_are_refused_like_bad_images(cluttered, examples, message):
    with pytest.raises(BAD, match=message):
        cluttered[2]["serving_default"](examples=examples)


def _padded(sizes=((70, 150), (90, 200))):
    from dcn_keras.house_numbers.dcn import pad_batch

    rng = np.random.default_rng(0)
    return pad_batch([rng.random((h, w, 1), dtype=np.float32) for h, w in sizes])


@pytest.mark.parametrize("change, message", [
    (lambda i, s: (i[..., 0], s), r"`images` \[batch, height, width, 1\].*add a batch axis"),
    (lambda i, s: (tf.tile(i, [1, 1, 1, 3]), s), r"to 1 channel.*\[2 90 200 3\]"),
    (lambda i, s: (i, [[70, 150], [900, 2000]]), r"from 1 to the padded height and width"),
    (lambda i, s: (i, [[70, 150], [0, 0]]), r"from 1 to the padded height and width"),
    (lambda i, s: (i, [[70, 150], [-5, 10]]), r"from 1 to the padded height and width"),
    (lambda i, s: (i, [70, 150]), r"one \(height, width\) row per image.*Got shape\] \[2\]"),
    (lambda i, s: (i, [[70, 150]]), r"`sizes` needs one \(height, width\) row per image"),
    (lambda i, s: (i, [[70, 150, 1], [90, 200, 1]]), r"`sizes` needs one \(height, width\) row"),
    (lambda i, s: (i * 255, s), "divide 8-bit images by 255"),
    (lambda i, s: (i - 1, s), r"pixel values in \[0, 1\]"),
    (lambda i, s: (i + np.nan, s), "NaN or infinite pixel"),
    (lambda i, s: (i[:0], s[:0]), "got an empty batch"),
])
def test_bad_multi_digit_requests_are_refused(multi_digit, change, message):
    images, sizes = change(*_padded())
    with pytest.raises(BAD, match=message):
        multi_digit[1]["serving_images"](images=tf.constant(images, tf.float32),
                                         sizes=tf.constant(sizes, tf.int32))


def test_multi_digit_answers_are_left_alone(multi_digit):
    dcn, signatures = multi_digit
    images, sizes = _padded()
    served = signatures["serving_images"](images=images, sizes=sizes)
    np.testing.assert_allclose(served["digit_probabilities"], dcn(images, sizes)["digits"],
                               atol=1e-5)


def _sequence(pixels, **changes) -> bytes:
    """A sequence tf.Example of `pixels`, with features replaced."""
    example = tf.train.Example.FromString(tfrecords.serialize_sequence(pixels, [1], (0, 0, 1, 1)))
    for key, value in changes.items():
        if isinstance(value, bytes):
            example.features.feature[key].bytes_list.value[0] = value
        else:
            example.features.feature[key].int64_list.value[0] = value
    return example.SerializeToString()


@pytest.mark.parametrize("examples, message", [
    ([], "got an empty batch; send at least one tf.Example"),
    ([_sequence(np.zeros((20, 40, 3), np.uint8))], "expects 1-channel images.*Got channels"),
    ([_sequence(np.zeros((0, 40), np.uint8))], r"height and width >= 1. Got heights\] \[0\]"),
    ([_sequence(np.zeros((20, 40), np.uint8), height=-20)], r"Got heights\] \[-20\]"),
    ([_sequence(np.zeros((20, 40), np.uint8), image=b"\x00" * 10)],
     r"not encoded or cut bytes. Got byte counts\] \[10\]"),
])
def test_bad_sequence_examples_are_refused(multi_digit, examples, message):
    with pytest.raises(BAD, match=message):
        multi_digit[1]["serving_default"](examples=tf.constant(examples, tf.string))


@pytest.mark.parametrize("values, error, message", [
    (_images()[..., 0], ValueError, r"\[batch, height, width, channels\].*images\[None\]"),
    (_images(0), ValueError, "empty batch"),
    (_with(np.nan), ValueError, "NaN or infinite"),
    (_images() - 1000, ValueError, r"\[0, 1\], got values from -1000"),
    (_images().astype(np.float64), TypeError, "float32"),
])
def test_request_builders_refuse_what_the_signature_would(values, error, message):
    with pytest.raises(error, match=message):
        serving_requests.rest_body("serving_images", values)
    with pytest.raises(error, match=message):
        serving_requests.grpc_request("dcn", "serving_images", values)


def test_request_builders_refuse_an_empty_batch_of_examples():
    with pytest.raises(ValueError, match="empty batch"):
        serving_requests.rest_body("serving_default", [])


def test_version_numbers_are_positive(cluttered, tmp_path):
    with pytest.raises(ValueError, match="positive integers, got 0"):
        export.export_saved_model(cluttered[0], tmp_path, presets.family("cluttered_mnist"),
                                  version=0)
    assert list(tmp_path.iterdir()) == []
