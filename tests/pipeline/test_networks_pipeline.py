"""The pipeline with a module file of the user's networks, on tiny Cluttered MNIST data;
and the megapixel_mnist graph."""

import json
import pathlib

import pytest
from ml_metadata.proto import metadata_store_pb2

from components import artifacts
from tests.conftest import recipe

TINY = pathlib.Path(__file__).parents[1] / "from_networks" / "tiny_networks.py"
# Two baselines beside the reference (small_cnn): each is trained and evaluated.
EXTRA_BASELINES = """

def linear(image_shape):
    return keras.Sequential([keras.Input(image_shape), keras.layers.AveragePooling2D(10),
                             keras.layers.Flatten(), keras.layers.Dense(10)], name="linear")


BASELINES["linear"] = linear
BASELINES["wide_cnn"] = lambda image_shape: keras.Sequential(
    [keras.Input(image_shape), keras.layers.Conv2D(16, 5, strides=4), keras.layers.ReLU(),
     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)], name="wide_cnn")
"""


@pytest.fixture(scope="module")
def run(dcn_pipeline, mnist_dir, tmp_path_factory):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    root = tmp_path_factory.mktemp("networks_pipeline")
    module = root / "networks.py"
    module.write_text(TINY.read_text() + EXTRA_BASELINES)
    LocalDagRunner().run(dcn_pipeline.create_pipeline(
        "dcn-module-smoke", str(root / "artifacts"), str(root / "metadata.sqlite"),
        str(root / "serving"), recipe("cluttered_mnist", "smoke"), str(mnist_dir),
        module_file=str(module)))
    return root, artifacts.metadata_store(str(root / "metadata.sqlite")), module


def _live(store, type_name):
    return [a for a in store.get_artifacts_by_type(type_name)
            if a.state == metadata_store_pb2.Artifact.LIVE]


def test_a_module_files_dcn_is_trained_evaluated_and_pushed(run):
    root, store, _ = run
    kinds = {m.custom_properties["model_kind"].string_value for m in _live(store, "Model")}
    assert kinds == {"small_cnn", "linear", "wide_cnn", "dcn"}
    evaluation, = _live(store, "ModelEvaluation")
    result = json.loads((pathlib.Path(evaluation.uri) / "results.json").read_text())
    assert sorted(row["kind"] for row in result["rows"]) == sorted(kinds)
    assert result["reference"] == "small_cnn"
    blessing, = _live(store, "ModelBlessing")
    decision = json.loads((pathlib.Path(blessing.uri) / "BLESSED").read_text())
    assert decision["reference"] == "small_cnn" and "small_cnn_error" in decision
    pushed, = (root / "serving").iterdir()
    assert (pushed / "saved_model.pb").exists()


def test_an_edited_module_file_is_refused_rather_than_mixed(run, dcn_pipeline):
    _, _, module = run
    from components import artifacts as artifacts_lib

    digest = artifacts_lib.module_file_lib.digest(module)
    module.write_text(module.read_text() + "\n# edited\n")
    with pytest.raises(ValueError, match="changed after the pipeline was built"):
        artifacts_lib.family("cluttered_mnist", str(module), digest)


def test_the_megapixel_graph_trains_each_model_and_blesses_against_the_full_resolution_cnn(
        dcn_pipeline, tmp_path):
    dag = dcn_pipeline.create_pipeline(
        "dcn-megapixel-smoke", str(tmp_path / "artifacts"), str(tmp_path / "m.sqlite"),
        str(tmp_path / "serving"), recipe("megapixel_mnist", "smoke"), "",
        preset="megapixel_mnist")
    components = {component.id: component for component in dag.components}
    assert set(components) == {"MegapixelMnistExampleGen", "LowResolutionTrainer",
                               "FullResolutionTrainer", "DcnTrainer", "NetworksEvaluator",
                               "Pusher"}
    evaluator = components["NetworksEvaluator"]
    assert evaluator.inputs["reference_model"] is \
        components["FullResolutionTrainer"].outputs["model"]
    assert evaluator.inputs["baseline_models"] is \
        components["LowResolutionTrainer"].outputs["model"]


def test_a_module_without_baselines_is_refused_before_the_pipeline_runs(dcn_pipeline,
                                                                       tmp_path):
    module = tmp_path / "networks.py"
    module.write_text(TINY.read_text().replace('BASELINES["small_cnn"] = small_cnn', "")
                      .replace('REFERENCE = "small_cnn"', ""))
    with pytest.raises(ValueError, match="defines no BASELINES"):
        dcn_pipeline.create_pipeline(
            "dcn-module", str(tmp_path / "a"), str(tmp_path / "m.sqlite"),
            str(tmp_path / "s"), recipe("cluttered_mnist", "smoke"), "",
            module_file=str(module))


def test_several_baselines_are_refused_for_kubeflow_v2_with_the_fix(run, tmp_path):
    from pipeline import dcn_pipeline as runner

    _, _, module = run
    with pytest.raises(ValueError, match=r"NetworksEvaluator reads 2 models as "
                       r"baseline_models, which Kubeflow V2 .* at most two BASELINES"):
        runner.main(["--orchestrator", "kubeflow_v2", "--profile", "smoke",
                     "--module-file", str(module), "--pipeline-root", str(tmp_path)])
    assert not list(tmp_path.glob("*.json"))
