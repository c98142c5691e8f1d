import json
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2

from components import artifacts
from tests.conftest import REPO, recipe

COMPONENTS = {"ClutteredMnistExampleGen", "CoarseTrainer", "FineTrainer", "DcnTrainer",
              "DcnComposer", "DcnEvaluator", "Pusher"}
State = metadata_store_pb2.Execution.State


def _store(root):
    return artifacts.metadata_store(str(root / "metadata.sqlite"))


@pytest.fixture(scope="module")
def run(pipeline_run):
    return {**pipeline_run, "store": _store(pipeline_run["root"])}


def _artifacts(store, type_name):
    """Live artifacts of a type (a failed execution's outputs are never published)."""
    return sorted((a for a in store.get_artifacts_by_type(type_name)
                   if a.state == metadata_store_pb2.Artifact.LIVE), key=lambda a: a.id)


def test_bad_parameter_fails_with_a_clear_error(run):
    assert "num_patches must be an integer from 1 to 529" in str(run["failure"])


def test_failed_run_keeps_earlier_artifacts_and_rerun_resumes_from_cache(run):
    store = run["store"]
    states = [e.last_known_state for e in store.get_executions()]
    assert states.count(State.FAILED) == 1
    # Every component finished exactly once over both runs: what the failed run had
    # finished (at least the example generator and one baseline) came from the cache.
    assert states.count(State.COMPLETE) == len(COMPONENTS)
    assert states.count(State.CACHED) >= 2
    live = {a.uri for a in store.get_artifacts() if a.state == metadata_store_pb2.Artifact.LIVE}
    assert run["after_failure"] <= live
    examples, = _artifacts(store, "Examples")
    assert examples.uri in run["after_failure"] and os.path.isdir(examples.uri)


def test_every_artifact_is_there(run):
    store = run["store"]
    examples, = _artifacts(store, "Examples")
    assert json.loads(examples.properties["split_names"].string_value) == \
        ["train", "eval", "test"]
    counts = {s: examples.custom_properties[f"{s}_examples"].int_value
              for s in ("train", "eval", "test")}
    assert counts == {"train": 96, "eval": 32, "test": 64}
    for split in counts:
        shards = sorted(pathlib.Path(examples.uri, f"Split-{split}").glob("*.tfrecord"))
        assert len(shards) == 2
        assert sum(1 for _ in tf.data.TFRecordDataset([str(s) for s in shards])) == \
            counts[split]
    for model in _artifacts(store, "Model"):
        assert pathlib.Path(model.uri, "model.keras").is_file()
        assert pathlib.Path(model.uri, "Format-Serving", "saved_model.pb").is_file()
    kinds = sorted(m.custom_properties["model_kind"].string_value
                   for m in _artifacts(store, "Model"))
    assert kinds == ["coarse", "composed", "dcn", "fine"]
    for model_run in _artifacts(store, "ModelRun"):
        assert pathlib.Path(model_run.uri, "curves.png").stat().st_size > 1000
        # TensorBoard logs, as TFX's own Trainer writes them into its ModelRun.
        assert list(pathlib.Path(model_run.uri).rglob("events.out.tfevents.*"))
    models = {m.custom_properties["model_kind"].string_value: m
              for m in _artifacts(store, "Model")}
    composition = json.loads(pathlib.Path(models["composed"].uri, "composition",
                                          "results.json").read_text())
    assert composition["bridge_window"] == 3 and "bridge_r2_valid" in composition
    # The DCN is the paper's, started from the coarse and fine models' layers: no bridge.
    assert models["dcn"].uri != models["composed"].uri
    with zipfile.ZipFile(pathlib.Path(models["dcn"].uri, "model.keras")) as archive:
        config = json.loads(archive.read("config.json"))["config"]
    assert config["bridge"] == 0 and config["config"]["fine_view"] == "patch"
    evaluation, = _artifacts(store, "ModelEvaluation")
    result = json.loads(pathlib.Path(evaluation.uri, "results.json").read_text())
    assert [row["kind"] for row in result["rows"]] == ["coarse", "fine", "dcn", "composed"]
    assert set(result["error_versus_patches"]) == {"DCN with hints", "DCN composed at test time"}
    assert "test 64 images" in result["data"]
    assert [line["kind"] for line in result["where_it_looked"]] == ["dcn", "composed"]
    for name in ("results.md", "error_vs_patches.png", "patches.png", "hint_distance.png"):
        assert pathlib.Path(evaluation.uri, name).is_file()
    blessing, = _artifacts(store, "ModelBlessing")
    assert blessing.custom_properties["blessed"].int_value == 1  # smoke: any gap passes
    assert pathlib.Path(blessing.uri, "BLESSED").is_file()


def test_pusher_wrote_a_versioned_serving_model(run):
    pushed, = _artifacts(run["store"], "PushedModel")
    destination = pathlib.Path(pushed.custom_properties["pushed_destination"].string_value)
    assert str(destination.parent) == run["config"].serving_dir and destination.name.isdigit()
    signatures = tf.saved_model.load(str(destination)).signatures
    assert {"serving_default", "serving_images"} <= set(signatures)


def test_what_a_finished_run_prints_leads_to_its_outputs(run):
    from pipeline import dcn_pipeline as runner

    lines = runner.where_outputs_are(run["config"].metadata_path, run["config"].artifacts_root)
    table, logs, pushed = (line.split(": ", 1)[1] for line in lines)
    assert "| DCN" in pathlib.Path(table).read_text()
    logdir = logs.removeprefix("tensorboard --logdir ")
    trainers = {path.parts[len(pathlib.Path(logdir).parts)]
                for path in pathlib.Path(logdir).rglob("events.out.tfevents.*")}
    assert {"CoarseTrainer", "FineTrainer", "DcnTrainer"} <= trainers
    assert "serving_default" in tf.saved_model.load(pushed).signatures


def test_compiles_for_kubeflow_v2_and_to_tfx_ir(dcn_pipeline, tmp_path, capsys):
    from tfx.dsl.compiler import compiler

    from pipeline import dcn_pipeline as runner

    runner.main(["--orchestrator", "kubeflow_v2", "--profile", "smoke", "--pipeline-root",
                 str(tmp_path), "--image", "example.com/dcn-keras:test"])
    spec = json.loads((tmp_path / "dcn-cluttered-mnist-smoke.json").read_text())
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    assert set(tasks) == COMPONENTS
    executors = spec["pipelineSpec"]["deploymentSpec"]["executors"]
    assert all(e["container"]["image"] == "example.com/dcn-keras:test"
               for e in executors.values())
    # Each task runs our component's executor from the installed package in the image.
    assert "components.trainer.DcnTrainer_Executor" in \
        executors["CoarseTrainer_executor"]["container"]["args"]
    assert tasks["DcnTrainer"]["dependentTasks"] == sorted(
        ["ClutteredMnistExampleGen", "CoarseTrainer", "FineTrainer"])
    assert tasks["DcnEvaluator"]["dependentTasks"] == sorted(
        ["ClutteredMnistExampleGen", "CoarseTrainer", "FineTrainer", "DcnTrainer", "DcnComposer"])
    # The intermediate representation that LocalDagRunner and BeamDagRunner execute.
    dag = dcn_pipeline.create_pipeline("ir", str(tmp_path / "ir"), str(tmp_path / "m.sqlite"),
                                       str(tmp_path / "serving"),
                                       recipe("cluttered_mnist", "quick"))
    ir = compiler.Compiler().compile(dag)
    assert {node.pipeline_node.node_info.id for node in ir.nodes} == COMPONENTS
    # The extension: the DCN trainer starts from the composed DCN (its base model).
    runner.main(["--orchestrator", "kubeflow_v2", "--profile", "smoke", "--pipeline-root",
                 str(tmp_path / "composed"), "--dcn-start", "composed"])
    spec = json.loads((tmp_path / "composed" / "dcn-cluttered-mnist-smoke.json").read_text())
    assert "DcnComposer" in spec["pipelineSpec"]["root"]["dag"]["tasks"]["DcnTrainer"][
        "dependentTasks"]
    with pytest.raises(ValueError, match="dcn_start must be one of"):
        dcn_pipeline.create_pipeline("x", str(tmp_path), "m", "s",
                                     recipe("cluttered_mnist", "smoke"), dcn_start="bridge")


def test_tfx_cli_creates_and_runs_the_pipeline(run, tmp_path):
    """`tfx pipeline create` and `tfx run create` on the runner's file, over a copy of the
    smoke run's ML Metadata: the components the smoke run executed are taken from its cache
    (executing them is what the other tests check); the Pusher, whose destination is new,
    runs."""
    config = run["config"]
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(config.metadata_path, root / "metadata.sqlite")
    before = {e.id for e in _store(root).get_executions()}
    tfx = pathlib.Path(sys.executable).with_name("tfx")
    env = {**os.environ, "HOME": str(tmp_path), "LOCAL_HOME": str(tmp_path / "local"),
           "DCN_PROFILE": "smoke", "DCN_MNIST_DIR": config.mnist_dir,
           "DCN_PIPELINE_ROOT": str(root),
           "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    path = REPO / "pipeline" / "dcn_pipeline.py"
    for command in (["pipeline", "create", "--engine", "local", "--pipeline_path", str(path)],
                    ["run", "create", "--engine", "local", "--pipeline_name", config.name]):
        done = subprocess.run([str(tfx), *command], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "local" / config.name / "pipeline_args.json").is_file()
    store = _store(root)
    pushed = [a for a in store.get_artifacts_by_type("PushedModel")
              if str(root) in a.custom_properties["pushed_destination"].string_value]
    assert len(pushed) == 1
    versions = list((root / "serving" / config.name).iterdir())
    assert len(versions) == 1 and (versions[0] / "saved_model.pb").is_file()
    states = {store.get_execution_types_by_id([e.type_id])[0].name.split(".")[-1]:
              e.last_known_state for e in store.get_executions() if e.id not in before}
    assert states.pop("Pusher") == State.COMPLETE
    assert set(states.values()) == {State.CACHED}, states
