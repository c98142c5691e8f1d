import gzip
import hashlib

import numpy as np
import pytest

from dcn_keras.data import mnist


def _write_idx(directory, prefix, images, labels, compress=True):
    opener = gzip.open if compress else open
    suffix = ".gz" if compress else ""
    header = (2051).to_bytes(4, "big") + b"".join(
        d.to_bytes(4, "big") for d in images.shape)
    with opener(directory / f"{prefix}-images-idx3-ubyte{suffix}", "wb") as stream:
        stream.write(header + images.tobytes())
    with opener(directory / f"{prefix}-labels-idx1-ubyte{suffix}", "wb") as stream:
        stream.write((2049).to_bytes(4, "big") + len(labels).to_bytes(4, "big")
                     + labels.tobytes())


def test_reads_the_real_test_split(mnist_dir):
    images_md5 = hashlib.md5((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes()).hexdigest()
    assert images_md5 == "9fb629c4189551a2d022fa330f9573f3"
    splits = mnist.load_idx_dir(mnist_dir)
    test = splits["test"]
    assert test.images.shape == (10000, 28, 28) and test.images.dtype == np.uint8
    assert np.bincount(test.labels).tolist()[:3] == [980, 1135, 1032]


@pytest.mark.parametrize("compress", [True, False])
def test_reads_both_splits_gzipped_or_not(tmp_path, compress):
    rng = np.random.default_rng(0)
    _write_idx(tmp_path, "train", rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
               rng.integers(0, 10, 30, dtype=np.uint8), compress)
    _write_idx(tmp_path, "t10k", rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
               rng.integers(0, 10, 5, dtype=np.uint8), compress)
    splits = mnist.load_idx_dir(tmp_path)
    assert (len(splits["train"]), len(splits["test"])) == (30, 5)
    pools = mnist.digit_pools(splits, valid_size=10, test_size=3)
    assert [len(pools[s]) for s in ("train", "valid", "test")] == [20, 10, 5]


def test_test_only_pools_are_disjoint(mnist_dir):
    pools = mnist.digit_pools(mnist.load_idx_dir(mnist_dir), 1000, 2000)
    assert [len(pools[s]) for s in ("train", "valid", "test")] == [7000, 1000, 2000]
    assert "[0:7000]" in pools["train"].source and "[8000:10000]" in pools["test"].source
    everything = mnist.load_idx_dir(mnist_dir)["test"].images
    np.testing.assert_array_equal(pools["test"].images, everything[8000:])


def test_missing_directory_says_what_to_pass(tmp_path):
    with pytest.raises(mnist.MnistSourceError, match="--mnist-dir"):
        mnist.load(tmp_path / "nowhere")
    with pytest.raises(mnist.MnistSourceError, match="No MNIST IDX files"):
        mnist.load(tmp_path)


def test_a_file_given_as_the_directory_names_its_folder(tmp_path):
    """--mnist-dir set to the IDX file itself: not "does not exist", which it does."""
    idx = tmp_path / "t10k-images-idx3-ubyte.gz"
    idx.write_bytes(b"idx")
    with pytest.raises(mnist.MnistSourceError,
                       match=f"{idx} is a file, not a directory.*e.g. {tmp_path}"):
        mnist.load(idx)


def test_corrupt_files_are_named(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"nor this")
    with pytest.raises(mnist.MnistSourceError, match="t10k-images"):
        mnist.load(tmp_path)


def test_truncated_file_is_rejected(tmp_path):
    rng = np.random.default_rng(0)
    _write_idx(tmp_path, "t10k", rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
               rng.integers(0, 10, 5, dtype=np.uint8), compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(mnist.MnistSourceError, match="truncated"):
        mnist.load(tmp_path)


def test_directory_from_environment_never_touches_tfds(monkeypatch, mnist_dir):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(tfds, "load", lambda *a, **k: pytest.fail("tfds was called"))
    monkeypatch.setenv(mnist.ENV_VAR, str(mnist_dir))
    assert len(mnist.load()["test"]) == 10000


def test_tfds_failure_names_the_offline_option(monkeypatch):
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(tfds, "load", offline)
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    with pytest.raises(mnist.MnistSourceError, match="--mnist-dir"):
        mnist.load()


def test_a_damaged_deflate_stream_names_the_file(tmp_path):
    """A valid gzip header followed by a damaged deflate block: zlib's own error becomes
    one naming the file and the fix."""
    rng = np.random.default_rng(0)
    _write_idx(tmp_path, "t10k", rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
               rng.integers(0, 10, 5, dtype=np.uint8))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    # gzip.compress writes the bare 10-byte header (no file name); 0xff then starts a
    # deflate block of the reserved type.
    data = bytearray(gzip.compress(gzip.decompress(path.read_bytes())))
    data[10:20] = b"\xff" * 10
    path.write_bytes(bytes(data))
    with pytest.raises(mnist.MnistSourceError,
                       match=r"t10k-images-idx3-ubyte.gz is not a readable IDX file.*Replace it"):
        mnist.load(tmp_path)


@pytest.mark.parametrize("kept", ["images", "labels"])
def test_half_a_pair_names_the_missing_file(tmp_path, kept):
    rng = np.random.default_rng(0)
    _write_idx(tmp_path, "t10k", rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
               rng.integers(0, 10, 5, dtype=np.uint8))
    lost = "labels" if kept == "images" else "images"
    (tmp_path / f"t10k-{lost}-idx{1 if lost == 'labels' else 3}-ubyte.gz").unlink()
    with pytest.raises(mnist.MnistSourceError,
                       match=rf"holds t10k-{kept}-idx\d-ubyte.gz but not t10k-{lost}-idx\d-ubyte"
                             rf"\(.gz\), the test {lost}.*--mnist-dir"):
        mnist.load(tmp_path)
