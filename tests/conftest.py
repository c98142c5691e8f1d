import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]


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
    from dcn_keras import cli

    out = tmp_path_factory.mktemp("experiment")
    code = cli.main(["experiment", "--out", str(out), "--mnist-dir", str(mnist_dir),
                     "--train", "96", "--valid", "32", "--test", "48", "--epochs", "1",
                     "--batch-size", "32", "--verbose", "0"])
    assert code == 0
    return out
