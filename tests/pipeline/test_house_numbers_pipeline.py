"""The house_numbers pipeline (paper's transfer setting) on a tiny MNIST house numbers run."""

import json
import pathlib

import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2

from components import artifacts
from tests.conftest import recipe

COMPONENTS = {"HouseNumbersExampleGen", "CoarseTrainer", "FineTrainer", "DcnComposer",
              "HouseNumbersEvaluator", "Pusher"}


@pytest.fixture(scope="module")
def run(dcn_pipeline, mnist_dir, tmp_path_factory):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    root = tmp_path_factory.mktemp("house_numbers_pipeline")
    LocalDagRunner().run(dcn_pipeline.create_pipeline(
        "dcn-house-numbers-smoke", str(root / "artifacts"), str(root / "metadata.sqlite"),
        str(root / "serving"), recipe("house_numbers", "smoke"), str(mnist_dir),
        preset="house_numbers"))
    return root, artifacts.metadata_store(str(root / "metadata.sqlite"))


def _live(store, type_name):
    return [a for a in store.get_artifacts_by_type(type_name)
            if a.state == metadata_store_pb2.Artifact.LIVE]


def _models(store):
    """The pipeline's live models by kind: coarse, fine, composed."""
    return {m.custom_properties["model_kind"].string_value: m for m in _live(store, "Model")}


def test_every_component_ran_and_wrote_its_artifacts(run):
    root, store = run
    assert {e.last_known_state for e in store.get_executions()} == \
        {metadata_store_pb2.Execution.COMPLETE}
    assert {t.name for t in store.get_contexts_by_type("node")} >= \
        {f"dcn-house-numbers-smoke.{c}" for c in COMPONENTS}
    examples, = _live(store, "Examples")
    assert {s: examples.custom_properties[f"{s}_examples"].int_value
            for s in ("train", "eval", "test")} == {"train": 64, "eval": 32, "test": 6}
    assert "MNIST house numbers" in examples.custom_properties["description"].string_value
    kinds = _models(store)
    assert set(kinds) == {"coarse", "fine", "composed"}
    assert kinds["composed"].custom_properties["scales"].string_value == "1.0,0.75,0.5"
    for model in kinds.values():
        assert pathlib.Path(model.uri, "Format-Serving", "saved_model.pb").is_file()
    assert "val_sequence_error" in kinds["fine"].custom_properties
    evaluation, = _live(store, "ModelEvaluation")
    result = json.loads(pathlib.Path(evaluation.uri, "results.json").read_text())
    # Table 2 with each attention under each combination, and every window under each.
    assert len(result["rows"]) == 25 and result["timing"]["images"] == 2
    assert pathlib.Path(evaluation.uri, "patches.png").stat().st_size > 1000
    blessing, = _live(store, "ModelBlessing")
    assert pathlib.Path(blessing.uri, "BLESSED").is_file()  # smoke: any gap passes


def test_the_pushed_dcn_reads_serialized_test_examples(run):
    root, store = run
    pushed, = _live(store, "PushedModel")
    destination = pushed.custom_properties["pushed_destination"].string_value
    assert pathlib.Path(destination).parent == root / "serving"
    examples, = _live(store, "Examples")
    records = [r.numpy() for r in tf.data.TFRecordDataset(
        sorted(str(p) for p in pathlib.Path(examples.uri, "Split-test").glob("*.tfrecord")))]
    served = tf.saved_model.load(destination).signatures["serving_default"](
        examples=tf.constant(records))
    assert served["digits"].shape == (6, 5) and served["boxes"].shape == (6, 2, 4)
    # The preset's reading, an extension, named in every reply and on the model artifact.
    assert set(served["attention"].numpy()) == {b"confidence"}
    assert set(served["combination"].numpy()) == {b"sequence_vote"}
    composed = _models(store)["composed"]
    assert composed.custom_properties["attention"].string_value == "confidence"


def test_house_numbers_pipeline_compiles_for_kubeflow_v2(tmp_path):
    from pipeline import dcn_pipeline as runner

    runner.main(["--preset", "house_numbers", "--orchestrator", "kubeflow_v2", "--profile", "paper",
                 "--pipeline-root", str(tmp_path), "--svhn-dir", str(tmp_path / "svhn"),
                 "--image", "example.com/dcn-keras:test", "--attention", "entropy_gradient",
                 "--combination", "inverse_entropy"])
    spec = json.loads((tmp_path / "dcn-house-numbers-paper.json").read_text())
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    assert set(tasks) == COMPONENTS
    assert tasks["HouseNumbersEvaluator"]["dependentTasks"] == ["DcnComposer",
                                                             "HouseNumbersExampleGen"]
    composer = tasks["DcnComposer"]["inputs"]["parameters"]
    assert {name: composer[name]["runtimeValue"]["constantValue"]["stringValue"]
            for name in ("attention", "combination")} == {
        "attention": "entropy_gradient", "combination": "inverse_entropy"}
    parameters = tasks["HouseNumbersExampleGen"]["inputs"]["parameters"]
    assert parameters["svhn_dir"]["runtimeValue"]["constantValue"]["stringValue"] == \
        str(tmp_path / "svhn")


def test_the_cli_report_on_the_pipelines_models_writes_the_pipelines_table(run, mnist_dir,
                                                                           tmp_path):
    """`dcn house-numbers`' report (`family.report`, with the CLI's own data build) on the
    pipeline's coarse and fine models: the same test images, the same composed DCN and
    the same Table 2 as the pipeline's evaluator, row by row."""
    import shutil

    import numpy as np

    from dcn_keras import experiments, presets, training
    from dcn_keras.data import tfrecords

    root, store = run
    family, smoke = presets.family("house_numbers"), recipe("house_numbers", "smoke")
    data, models = tmp_path / "data", tmp_path / "models"
    experiments.build_data(family, data, smoke, mnist_dir)
    models.mkdir()
    kinds = _models(store)
    for kind in ("coarse", "fine"):
        shutil.copy(artifacts.keras_path(kinds[kind]), models / f"{kind}.keras")
    family.report(data, models, tmp_path / "report", smoke)
    evaluation, = _live(store, "ModelEvaluation")
    cli_rows, pipeline_rows = (json.loads(pathlib.Path(folder, "results.json").read_text())["rows"]
                               for folder in (tmp_path / "report", evaluation.uri))
    assert len(cli_rows) == 25
    fields = ("model", "scales", "patches", "test_error", "images", "error_by_length",
              "images_by_length")
    assert [{f: row[f] for f in fields} for row in cli_rows] == \
        [{f: row[f] for f in fields} for row in pipeline_rows]
    # The DCN the CLI composed reads the test images as the pipeline's composed DCN does.
    examples = tfrecords.full_images(str(data / "test.tfrecord"))
    cli_dcn = training.load_model(models / "dcn.keras", family)
    pipeline_dcn = training.load_model(artifacts.keras_path(kinds["composed"]), family)
    assert (cli_dcn.num_patches, cli_dcn.scales) == (pipeline_dcn.num_patches,
                                                     pipeline_dcn.scales)
    for example in examples:
        ours, theirs = cli_dcn(example["image"][None]), pipeline_dcn(example["image"][None])
        assert set(ours) == set(theirs)
        for key in ours:
            np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5)


def test_the_old_preset_name_still_builds_the_house_numbers_pipeline():
    from pipeline import configs

    with pytest.warns(FutureWarning, match="'svhn' is deprecated"):
        config = configs.PipelineConfig(preset="svhn", profile="smoke")
    assert config.preset == "house_numbers" and config.name == "dcn-house-numbers-smoke"
