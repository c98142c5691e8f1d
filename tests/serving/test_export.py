import base64
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets, training
from dcn_keras.data import tfrecords
from dcn_keras.serving import export
from dcn_keras.serving import requests as serving_requests
from dcn_keras_cli import cli

SAVED_MODEL_CLI = pathlib.Path(sys.executable).with_name("saved_model_cli")


@pytest.fixture(scope="module")
def trained(experiment):
    config = presets.cluttered_mnist()
    model = training.load_model(experiment / "models" / "dcn.keras",
                                presets.family("cluttered_mnist"))
    test = tfrecords.read_all(experiment / "data" / "test.tfrecord", config.image_shape)
    return model, test["image"][:4]


@pytest.fixture(scope="module")
def exported(experiment, tmp_path_factory):
    """Version 1 of the tiny experiment's DCN, exported with `dcn export`."""
    base = tmp_path_factory.mktemp("serving") / "dcn"
    code = cli.main(["export", "--model", str(experiment / "models" / "dcn.keras"),
                     "--out", str(base)])
    assert code == 0
    return base / "1"


def _signature(path, name):
    return tf.saved_model.load(str(path)).signatures[name]


def test_saved_model_cli_lists_both_signatures(exported):
    shown = subprocess.run([str(SAVED_MODEL_CLI), "show", "--dir", str(exported), "--all"],
                           capture_output=True, text=True, check=True).stdout
    for name in ("serving_default", "serving_images"):
        assert f"signature_def['{name}']" in shown
    for output in ("probabilities", "classes", "positions", "boxes", "saliency"):
        assert f"outputs['{output}']" in shown
    assert "inputs['examples']" in shown and "inputs['images']" in shown
    assert "shape: (-1, 8, 4)" in shown  # boxes [batch, k, 4]
    assert "shape: (-1, 23, 23)" in shown  # saliency [batch, s1, s2]


def test_saved_model_cli_run_matches_keras(exported, trained, tmp_path):
    model, images = trained
    np.save(tmp_path / "images.npy", images)
    subprocess.run([str(SAVED_MODEL_CLI), "run", "--dir", str(exported), "--tag_set", "serve",
                    "--signature_def", "serving_images", "--inputs",
                    f"images={tmp_path / 'images.npy'}", "--outdir", str(tmp_path / "out")],
                   capture_output=True, text=True, check=True)
    served = np.load(tmp_path / "out" / "probabilities.npy")
    np.testing.assert_allclose(served, model(images).numpy(), atol=1e-5)
    attention = model.attend(images)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "positions.npy"),
                                  attention["positions"].numpy())
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "boxes.npy"),
                                  attention["boxes"].numpy())


def test_tf_example_signature_matches_keras(exported, trained):
    model, images = trained
    examples = [tfrecords.serialize(np.round(image * 255).astype(np.uint8), 0, (0, 0, 0, 0))
                for image in images]
    out = _signature(exported, "serving_default")(examples=tf.constant(examples))
    np.testing.assert_allclose(out["probabilities"], model(images), atol=1e-5)
    np.testing.assert_array_equal(out["classes"], np.argmax(model(images), axis=-1))


def test_versions_are_numbered_and_never_overwritten(exported, trained):
    base = exported.parent
    assert export.next_version(base) == 2
    family = presets.family("cluttered_mnist")
    second = export.export_saved_model(trained[0], base, family)
    assert second.name == "2"
    with pytest.raises(FileExistsError, match="already exists"):
        export.export_saved_model(trained[0], base, family, version=1)
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]


def test_only_a_dcn_can_be_exported(tmp_path):
    family = presets.family("cluttered_mnist")
    with pytest.raises(TypeError, match="Only a DCN or a house-numbers model"):
        export.export_saved_model(family.build("fine"), tmp_path, family)


@pytest.mark.parametrize("images, message", [
    (np.zeros((0, 100, 100, 1), np.float32), "empty batch"),
    (np.zeros((2, 64, 64, 1), np.float32), r"expects images of shape \[batch >= 1, 100, 100, 1\]"),
    (np.full((1, 100, 100, 1), 255.0, np.float32), r"pixel values in \[0, 1\]"),
])
def test_bad_image_requests_say_what_the_model_expects(exported, images, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _signature(exported, "serving_images")(images=tf.constant(images))


def test_wrong_dtype_and_wrong_example_size_are_rejected(exported):
    images = _signature(exported, "serving_images")
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float tensor"):
        images(images=tf.zeros((1, 100, 100, 1), tf.uint8))
    small = tfrecords.serialize(np.zeros((64, 64), np.uint8), 0, (0, 0, 0, 0))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"preset shape \[100, 100, 1\]"):
        _signature(exported, "serving_default")(examples=tf.constant([small]))


def _decode_rest(body, signature):
    """What TF Serving's row-format parser hands the signature."""
    request = json.loads(body)
    (name, spec), = signature.structured_input_signature[1].items()
    rows = request["instances"]
    if spec.dtype == tf.string:
        return request["signature_name"], {name: tf.constant([base64.b64decode(r["b64"])
                                                               for r in rows])}
    return request["signature_name"], {name: tf.constant(rows, dtype=spec.dtype)}


def test_rest_body_runs_against_the_signature(exported, trained):
    model, images = trained
    for name, values in [("serving_images", images),
                         ("serving_default", [tfrecords.serialize(
                             np.round(i * 255).astype(np.uint8), 0, (0, 0, 0, 0))
                             for i in images])]:
        body = serving_requests.rest_body(name, values)
        signature = _signature(exported, name)
        signature_name, inputs = _decode_rest(body, signature)
        assert signature_name == name
        spec, = signature.structured_input_signature[1].values()
        assert all(spec.is_compatible_with(value) for value in inputs.values())
        out = signature(**inputs)
        np.testing.assert_allclose(out["probabilities"], model(images), atol=1e-5)


def test_grpc_request_runs_against_the_signature(exported, trained):
    model, images = trained
    request = serving_requests.grpc_request("dcn", "serving_images", images, version=1)
    assert request.model_spec.name == "dcn" and request.model_spec.version.value == 1
    signature = _signature(exported, request.model_spec.signature_name)
    spec = signature.structured_input_signature[1]
    assert set(request.inputs) == set(spec)
    inputs = {key: tf.constant(tf.make_ndarray(proto)) for key, proto in request.inputs.items()}
    assert all(spec[key].is_compatible_with(value) for key, value in inputs.items())
    np.testing.assert_allclose(signature(**inputs)["probabilities"], model(images), atol=1e-5)


def test_requests_reject_wrong_inputs_client_side():
    with pytest.raises(TypeError, match="float32"):
        serving_requests.rest_body("serving_images", np.zeros((1, 100, 100, 1), np.uint8))
    with pytest.raises(ValueError, match="Unknown signature"):
        serving_requests.grpc_request("dcn", "predict", np.zeros((1, 100, 100, 1), np.float32))


def test_multi_digit_dcn_serves_mixed_size_images_and_examples(tmp_path):
    from dcn_keras import MultiDigitDCN, MultiDigitModel
    from dcn_keras.house_numbers.dcn import pad_batch

    config = presets.house_numbers()
    dcn = MultiDigitDCN(MultiDigitModel(config, "coarse"), MultiDigitModel(config, "fine"),
                        num_patches=2, attention="entropy_gradient",
                        combination="inverse_entropy")
    dcn.save(tmp_path / "dcn.keras")
    assert cli.main(["export", "--preset", "house_numbers", "--model", str(tmp_path / "dcn.keras"),
                     "--out", str(tmp_path / "serving")]) == 0
    rng = np.random.default_rng(0)
    pixels = [rng.integers(0, 256, (h, w, 1), dtype=np.uint8) for h, w in [(70, 150), (90, 200)]]
    images, sizes = pad_batch([p.astype(np.float32) / 255 for p in pixels])
    expected = dcn(images, sizes)
    served = _signature(tmp_path / "serving" / "1", "serving_images")(images=images,
                                                                      sizes=sizes)
    np.testing.assert_allclose(served["length_probabilities"], expected["length"], atol=1e-5)
    np.testing.assert_allclose(served["digit_probabilities"], expected["digits"], atol=1e-5)
    assert served["digits"].shape == (2, 5) and served["boxes"].shape == (2, 2, 4)
    # The reply names the method: here the paper's attention and combination.
    assert served["attention"].numpy().tolist() == [b"entropy_gradient"] * 2
    assert served["combination"].numpy().tolist() == [b"inverse_entropy"] * 2
    examples = tf.constant([tfrecords.serialize_sequence(p, [1], (0, 0, 1, 1)) for p in pixels])
    from_examples = _signature(tmp_path / "serving" / "1", "serving_default")(examples=examples)
    np.testing.assert_allclose(from_examples["digit_probabilities"], expected["digits"],
                               atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="divide 8-bit images by 255"):
        _signature(tmp_path / "serving" / "1", "serving_images")(images=images * 255,
                                                                 sizes=sizes)


def _serving_snippets() -> list[str]:
    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "serving.md").read_text()
    section = page.split("## Sending a request")[1].split("\n## ")[0]
    return section.split("```python\n")[1].split("```")[0], \
        section.split("```python\n")[2].split("```")[0]


def test_the_serving_page_requests_run_against_the_signature(exported, tmp_path, monkeypatch):
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    rest, grpc_snippet = _serving_snippets()
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(rest, scope)
    signature = _signature(exported, "serving_images")
    name, inputs = _decode_rest((tmp_path / "body.json").read_text(), signature)
    assert name == "serving_images"
    assert signature(**inputs)["probabilities"].shape == (2, 10)

    class Stub:  # answers as TF Serving would, from the exported signature
        def __init__(self, channel):
            pass

        def Predict(self, request, timeout):
            assert isinstance(request, predict_pb2.PredictRequest) and timeout > 0
            function = _signature(exported, request.model_spec.signature_name)
            outputs = function(**{key: tf.constant(tf.make_ndarray(proto))
                                  for key, proto in request.inputs.items()})
            reply = predict_pb2.PredictResponse()
            for key, value in outputs.items():
                reply.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
            return reply

    monkeypatch.setattr(prediction_service_pb2_grpc, "PredictionServiceStub", Stub)
    exec(grpc_snippet, scope)
    assert scope["probabilities"].shape == (2, 10)
    np.testing.assert_allclose(scope["probabilities"].sum(-1), 1.0, atol=1e-5)
