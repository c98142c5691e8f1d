"""TFX's standard Trainer with a module file of networks and `components.networks_run_fn`:
example generator -> Trainers -> NetworksEvaluator -> Pusher through LocalDagRunner, on tiny
Cluttered MNIST."""

import json
import pathlib
import sys
import types

import numpy as np
import pytest

TINY = pathlib.Path(__file__).parents[1] / "from_networks" / "tiny_networks.py"
IMPORT_LINE = "from components.networks_run_fn import run_fn_for\nrun_fn = run_fn_for(__name__)\n"
CONFIG = {"preset": "cluttered_mnist", "profile": "smoke", "epochs": 1, "batch_size": 32}


@pytest.fixture(scope="module")
def standard_trainer():
    """TFX's Trainer class. Its executor imports tensorflow_data_validation only to read a
    `statistics` input, which these pipelines do not give; where that package cannot load
    (it needs glibc 2.38), a stub answers the import and fails on any use."""
    import tfx.components  # noqa: F401 (first: its imports of the other executors skip them)

    stub = None
    try:
        import tensorflow_data_validation  # noqa: F401
    except ImportError:
        stub = types.ModuleType("tensorflow_data_validation")
        stub.DatasetListView = object  # an annotation read as the executor imports

        def missing(name):
            raise AttributeError(f"tensorflow_data_validation is a stub here, without {name}")

        stub.__getattr__ = missing
        sys.modules[stub.__name__] = stub
    from tfx.components.trainer.component import Trainer

    yield Trainer
    if stub is not None and sys.modules.get(stub.__name__) is stub:
        del sys.modules[stub.__name__]


def _pipeline(root: pathlib.Path, module: pathlib.Path, mnist_dir, trainer_class,
              custom_config: dict):
    """ClutteredMnistExampleGen (64 / 32 / 8 canvases) -> a Trainer of the DCN and one of
    the module's baseline -> NetworksEvaluator -> Pusher, in `root`."""
    from tfx.components.pusher.component import Pusher
    from tfx.orchestration import metadata, pipeline
    from tfx.proto import pusher_pb2

    from components.cluttered_mnist_gen import ClutteredMnistExampleGen
    from components.evaluator import NetworksEvaluator
    from dcn_keras.from_networks import module_file

    examples = ClutteredMnistExampleGen(mnist_dir=str(mnist_dir), train_images=64,
                                        eval_images=32, test_images=8, seed=0, num_shards=1)
    trainers = {kind: trainer_class(module_file=str(module),
                                    examples=examples.outputs["examples"],
                                    custom_config={**custom_config, "model_kind": kind}
                                    ).with_id(f"Trainer_{kind}")
                for kind in ("dcn", "small_cnn")}
    evaluator = NetworksEvaluator(
        examples=examples.outputs["examples"], dcn_model=trainers["dcn"].outputs["model"],
        reference_model=trainers["small_cnn"].outputs["model"], preset="cluttered_mnist",
        batch_size=8, max_error_gap=1.0, module_file=str(module),
        module_sha256=module_file.digest(module))
    pusher = Pusher(model=trainers["dcn"].outputs["model"],
                    model_blessing=evaluator.outputs["blessing"],
                    push_destination=pusher_pb2.PushDestination(
                        filesystem=pusher_pb2.PushDestination.Filesystem(
                            base_directory=str(root / "serving"))))
    return pipeline.Pipeline(
        pipeline_name="dcn-run-fn-smoke", pipeline_root=str(root / "artifacts"),
        components=[examples, *trainers.values(), evaluator, pusher],
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite")))


def _module(folder: pathlib.Path, text: str, name: str = "networks") -> pathlib.Path:
    """A module file alone in its folder: TFX packages every .py file beside it."""
    folder.mkdir()
    path = folder / f"{name}.py"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def run(standard_trainer, mnist_dir, tmp_path_factory):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from components import artifacts

    root = tmp_path_factory.mktemp("networks_run_fn")
    module = _module(root / "module", TINY.read_text() + IMPORT_LINE)
    LocalDagRunner().run(_pipeline(root, module, mnist_dir, standard_trainer, CONFIG))
    return root, artifacts.metadata_store(str(root / "metadata.sqlite"))


@pytest.mark.slow
@pytest.mark.e2e
def test_the_standard_trainer_writes_a_dcn_that_serves_and_is_pushed(run):
    import tensorflow as tf
    from ml_metadata.proto import metadata_store_pb2

    from components import artifacts
    from dcn_keras.data import tfrecords

    root, store = run
    # TFX's Trainer sets no properties: the kind is in the file beside the model.
    models = {(pathlib.Path(a.uri) / artifacts.KIND_FILE).read_text().strip(): a
              for a in store.get_artifacts_by_type("Model")
              if a.state == metadata_store_pb2.Artifact.LIVE}
    assert set(models) == {"dcn", "small_cnn"}
    uri = pathlib.Path(models["dcn"].uri)
    assert (uri / artifacts.KERAS_FILE).is_file() and (uri / artifacts.HISTORY_FILE).is_file()
    served = tf.saved_model.load(str(uri / "Format-Serving"))
    image = np.random.default_rng(0).integers(0, 256, (100, 100, 1), dtype=np.uint8)
    answer = served.signatures["serving_default"](
        examples=tf.constant([tfrecords.serialize(image, 3, (0, 0, 28, 28))]))
    probabilities = answer["probabilities"].numpy()
    assert probabilities.shape == (1, 10) and np.isclose(probabilities.sum(), 1.0, atol=1e-5)
    pixels = tf.constant(image[None] / 255, tf.float32)
    assert served.signatures["serving_images"](images=pixels)["classes"].shape == (1,)
    # NetworksEvaluator reads the standard Trainer's models and blesses the DCN.
    evaluation, = [a for a in store.get_artifacts_by_type("ModelEvaluation")
                   if a.state == metadata_store_pb2.Artifact.LIVE]
    result = json.loads((pathlib.Path(evaluation.uri) / "results.json").read_text())
    assert sorted(row["kind"] for row in result["rows"]) == ["dcn", "small_cnn"]
    assert all(row["test_images"] == 8 for row in result["rows"])
    pushed, = (root / "serving").iterdir()
    assert (pushed / "saved_model.pb").is_file()


@pytest.mark.slow
@pytest.mark.e2e
def test_a_module_without_the_networks_fails_with_what_to_define(run, standard_trainer,
                                                                  mnist_dir, tmp_path):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    root, _ = run
    # Another name: TFX reloads a module it imported before, which keeps its old globals.
    module = _module(tmp_path / "module", "import keras\n" + IMPORT_LINE, "no_networks")
    # The same pipeline root and metadata: the examples come from the cache.
    with pytest.raises(ValueError, match=r"module_file \(imported as no_networks\) does not "
                                         r"define coarse_network, fine_network, top_network"):
        LocalDagRunner().run(_pipeline(root, module, mnist_dir, standard_trainer, CONFIG))


@pytest.mark.parametrize("config, error", [
    ({}, "names no 'preset'"),
    ({"preset": "cluttered_mnist", "epoch": 1}, r"unknown settings \['epoch'\]"),
])
def test_missing_or_unknown_settings_are_named(config, error):
    from components import networks_run_fn

    with pytest.raises(ValueError, match=error):
        networks_run_fn.settings(config)


def test_run_fn_for_trains_the_module_of_its_name_and_run_fn_by_name_refuses(monkeypatch):
    from components import networks_run_fn

    module = types.ModuleType("named_networks")
    trained = []
    monkeypatch.setattr(networks_run_fn, "train", lambda *args: trained.append(args))
    run_fn = networks_run_fn.run_fn_for(module.__name__)
    with pytest.raises(ValueError, match="No module 'named_networks' is imported"):
        run_fn("fn_args")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    run_fn("fn_args")
    assert trained == [(module, "fn_args")]
    # Asked for by name (Trainer(run_fn="components.networks_run_fn.run_fn")): no networks.
    with pytest.raises(ValueError, match=r"run_fn = run_fn_for\(__name__\)"):
        networks_run_fn.run_fn(None)
