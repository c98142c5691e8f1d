import os
import pathlib
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

# Where the environment forbids bytecode files (PYTHONDONTWRITEBYTECODE, or -B), every
# process that imports TensorFlow compiles it from source again: half a minute and more on
# 2 cores, and the suite starts dozens (killed trainings, workers, notebook kernels, Beam
# workers, the tfx CLI). The suite keeps the bytecode in its own cache instead, outside the
# sources and the environment, for itself and every process it starts.
if sys.flags.dont_write_bytecode:
    PYCACHE = REPO / ".pytest_cache" / "pycache"
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(PYCACHE)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Session fixtures that run a whole command on tiny data; every test using one is end to end.
E2E_FIXTURES = {"experiment", "pipeline_run", "house_numbers"}


def pytest_collection_modifyitems(items):
    """`e2e`: a test of a whole command or pipeline (the fixtures above, tests/pipeline);
    every e2e test is also `slow`, so `pytest -m "not slow"` is the fast loop."""
    for item in items:
        if E2E_FIXTURES & set(item.fixturenames) or item.path.parent.name == "pipeline":
            item.add_marker(pytest.mark.e2e)
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def config():
    from dcn_keras import presets

    return presets.cluttered_mnist()


@pytest.fixture(scope="session")
def mnist_dir():
    """The real MNIST test split in IDX format (../shared/data/mnist beside the repo)."""
    path = pathlib.Path(os.environ.get("DCN_MNIST_DIR", REPO.parent / "shared/data/mnist"))
    if not (path / "t10k-images-idx3-ubyte.gz").exists():
        pytest.fail(f"MNIST IDX files not found in {path}; set DCN_MNIST_DIR.")
    return path


@pytest.fixture
def images():
    return np.random.default_rng(0).random((3, 100, 100, 1), dtype=np.float32)


@pytest.fixture(scope="session")
def experiment(tmp_path_factory, mnist_dir):
    """A tiny `dcn experiment` run: data, four trained models and the report."""
    from dcn_keras_cli import cli

    out = tmp_path_factory.mktemp("experiment")
    code = cli.main(["experiment", "--out", str(out), "--mnist-dir", str(mnist_dir),
                     "--train", "96", "--valid", "32", "--test", "48", "--epochs", "1",
                     "--batch-size", "32", "--seeds", "0", "--verbose", "0"])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def dcn_pipeline():
    """The pipeline graph (pipeline/graph.py)."""
    from pipeline import graph

    return graph


def recipe(preset: str, profile: str):
    """The recipe of a preset's profile."""
    from dcn_keras import presets

    return presets.family(preset).recipe(profile)


@pytest.fixture(scope="session")
def pipeline_run(dcn_pipeline, mnist_dir, tmp_path_factory):
    """The smoke pipeline through LocalDagRunner: first with a bad k, so that a component
    fails, then rerun fixed. Returns the root, the failure and the live artifact URIs after
    the failure."""
    import dataclasses

    from ml_metadata.proto import metadata_store_pb2
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from components import artifacts
    from pipeline import configs

    root = tmp_path_factory.mktemp("pipeline")
    # The runner's layout under `root` (`PipelineConfig`), so that the runner's own entry
    # points find this run's cache.
    config = configs.PipelineConfig(profile="smoke", pipeline_root=str(root),
                                    mnist_dir=str(mnist_dir))
    smoke = config.recipe()

    def build(profile):
        return dcn_pipeline.create_pipeline(
            config.name, config.artifacts_root, config.metadata_path, config.serving_dir,
            profile, config.mnist_dir)

    with pytest.raises(Exception) as failure:
        LocalDagRunner().run(build(dataclasses.replace(smoke, num_patches=10_000)))
    store = artifacts.metadata_store(str(root / "metadata.sqlite"))
    after_failure = {a.uri for a in store.get_artifacts()
                     if a.state == metadata_store_pb2.Artifact.LIVE}
    LocalDagRunner().run(build(smoke))
    return {"root": root, "config": config, "failure": failure.value,
            "after_failure": after_failure}


@pytest.fixture(scope="session")
def house_numbers(tmp_path_factory, mnist_dir):
    """A tiny `dcn house-numbers` run (k = 2). Mixed precision, twice as slow where the CPU
    has no native bfloat16, is tested on its own (tests/test_training.py). The smoke
    recipe reads every window (the slowest rows of the report, seconds an image) of the
    first test image only, and times the 2 largest."""
    from dcn_keras_cli import cli
    from tests.helpers import tensorflow_warnings

    out = tmp_path_factory.mktemp("house_numbers")
    with tensorflow_warnings() as warnings:
        assert cli.main(["house-numbers", "--profile", "smoke", "--out", str(out),
                         "--mnist-dir", str(mnist_dir), "--train", "16", "--valid", "8",
                         "--test", "3", "--epochs", "1", "--batch-size", "8",
                         "--num-patches", "2", "--precision", "float32", "--verbose", "0"]) == 0
    # Every graph function of the report is traced once: TensorFlow has nothing to warn of.
    assert not [message for message in warnings if "retracing" in message]
    return out
