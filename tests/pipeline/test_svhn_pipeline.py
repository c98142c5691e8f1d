"""The svhn pipeline (paper's transfer setting) on a tiny MNIST house numbers run."""

import json
import pathlib

import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2

from components import artifacts
from tests.conftest import recipe

COMPONENTS = {"HouseNumbersExampleGen", "CoarseTrainer", "FineTrainer", "DcnComposer",
              "MultiDigitEvaluator", "Pusher"}


@pytest.fixture(scope="module")
def run(dcn_pipeline, mnist_dir, tmp_path_factory):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    root = tmp_path_factory.mktemp("svhn_pipeline")
    LocalDagRunner().run(dcn_pipeline.create_pipeline(
        "dcn-svhn-smoke", str(root / "artifacts"), str(root / "metadata.sqlite"),
        str(root / "serving"), recipe("svhn", "smoke"), str(mnist_dir),
        preset="svhn"))
    return root, artifacts.metadata_store(str(root / "metadata.sqlite"))


def _live(store, type_name):
    return [a for a in store.get_artifacts_by_type(type_name)
            if a.state == metadata_store_pb2.Artifact.LIVE]


def test_every_component_ran_and_wrote_its_artifacts(run):
    root, store = run
    assert {e.last_known_state for e in store.get_executions()} == \
        {metadata_store_pb2.Execution.COMPLETE}
    assert {t.name for t in store.get_contexts_by_type("node")} >= \
        {f"dcn-svhn-smoke.{c}" for c in COMPONENTS}
    examples, = _live(store, "Examples")
    assert {s: examples.custom_properties[f"{s}_examples"].int_value
            for s in ("train", "eval", "test")} == {"train": 64, "eval": 32, "test": 6}
    assert "MNIST house numbers" in examples.custom_properties["description"].string_value
    kinds = {m.custom_properties["model_kind"].string_value: m for m in _live(store, "Model")}
    assert set(kinds) == {"coarse", "fine", "composed"}
    assert kinds["composed"].custom_properties["scales"].string_value == "1.0,0.75,0.5"
    for model in kinds.values():
        assert pathlib.Path(model.uri, "Format-Serving", "saved_model.pb").is_file()
    assert "val_sequence_error" in kinds["fine"].custom_properties
    evaluation, = _live(store, "ModelEvaluation")
    result = json.loads(pathlib.Path(evaluation.uri, "results.json").read_text())
    # Table 2 with the paper's DCN beside the preset's (confidence attention, vote).
    assert len(result["rows"]) == 18 and result["timing"]["images"] == 2
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


def test_svhn_pipeline_compiles_for_kubeflow_v2(tmp_path):
    from pipeline import dcn_pipeline as runner

    runner.main(["--preset", "svhn", "--orchestrator", "kubeflow_v2", "--profile", "paper",
                 "--pipeline-root", str(tmp_path), "--svhn-dir", str(tmp_path / "svhn"),
                 "--image", "example.com/dcn-keras:test"])
    spec = json.loads((tmp_path / "dcn-svhn-paper.json").read_text())
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    assert set(tasks) == COMPONENTS
    assert tasks["MultiDigitEvaluator"]["dependentTasks"] == ["DcnComposer",
                                                             "HouseNumbersExampleGen"]
    parameters = tasks["HouseNumbersExampleGen"]["inputs"]["parameters"]
    assert parameters["svhn_dir"]["runtimeValue"]["constantValue"]["stringValue"] == \
        str(tmp_path / "svhn")
