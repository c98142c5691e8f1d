"""MNIST digits from the original IDX files or from tfds."""

from __future__ import annotations

import dataclasses
import gzip
import os
import pathlib
import zlib

import numpy as np

ENV_VAR = "DCN_MNIST_DIR"
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class MnistSourceError(RuntimeError):
    """MNIST could not be read; the message says what to pass instead."""


@dataclasses.dataclass(frozen=True)
class Digits:
    """A split of MNIST: `images` `[n, 28, 28]` uint8, `labels` `[n]` uint8."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, start: int, stop: int, name: str) -> Digits:
        return Digits(self.images[start:stop], self.labels[start:stop],
                      f"{self.source}[{start}:{stop}] ({name})")


def _open(path: pathlib.Path):
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.exists():
            return candidate, (gzip.open if candidate.suffix == ".gz" else open)
    return None, None


def _read_idx(path: pathlib.Path, magic: int, item_shape: tuple[int, ...]) -> np.ndarray:
    found, opener = _open(path)
    if found is None:
        raise FileNotFoundError(path)
    try:
        with opener(found, "rb") as stream:
            data = stream.read()
    # gzip raises zlib.error for a damaged deflate stream after a valid header.
    except (OSError, EOFError, zlib.error) as error:
        raise MnistSourceError(f"{found} is not a readable IDX file ({error}). Replace it with "
                               "the original MNIST file.") from error
    header = 4 * (1 + 1 + len(item_shape))
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        raise MnistSourceError(f"{found} is not an MNIST IDX file (bad magic number). Replace "
                               "it with the original MNIST file.")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(1 + len(item_shape))]
    if tuple(dims[1:]) != item_shape or len(data) != header + int(np.prod(dims)):
        raise MnistSourceError(f"{found} is truncated or has dimensions {dims}; expected "
                               f"[n, {', '.join(map(str, item_shape))}] with all n items. "
                               "Replace it with the original MNIST file.")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def load_idx_dir(directory: str | os.PathLike) -> dict[str, Digits]:
    """Read every MNIST split present in a directory of original IDX files.

    Files may be gzipped (`t10k-images-idx3-ubyte.gz`) or not. Returns
    {split: Digits} for the splits found ("train", "test"); a split with only one of its
    two files is an error naming the other.
    """
    directory = pathlib.Path(directory)
    if directory.exists() and not directory.is_dir():
        raise MnistSourceError(
            f"MNIST directory {directory} is a file, not a directory. Pass --mnist-dir (or "
            f"set {ENV_VAR}) to the directory that holds the IDX files, e.g. "
            f"{directory.parent}.")
    if not directory.is_dir():
        raise MnistSourceError(
            f"MNIST directory {directory} does not exist. Pass --mnist-dir (or set {ENV_VAR}) "
            "to a directory holding the original IDX files, e.g. t10k-images-idx3-ubyte.gz "
            "and t10k-labels-idx1-ubyte.gz.")
    splits = {}
    for split, (image_name, label_name) in IDX_FILES.items():
        found = {name: _open(directory / name)[0] for name in (image_name, label_name)}
        if any(found.values()) and not all(found.values()):
            have = next(path for path in found.values() if path is not None)
            lack = next(name for name, path in found.items() if path is None)
            half = "labels" if lack == label_name else "images"
            raise MnistSourceError(
                f"{directory} holds {have.name} but not {lack}(.gz), the {split} {half}. Put "
                f"{lack}.gz from the MNIST download beside it, or pass --mnist-dir (or set "
                f"{ENV_VAR}) to a directory holding both files.")
        try:
            images = _read_idx(directory / image_name, 2051, (28, 28))
            labels = _read_idx(directory / label_name, 2049, ())
        except FileNotFoundError:
            continue
        if len(images) != len(labels):
            raise MnistSourceError(f"{directory}: {len(images)} {split} images but "
                                   f"{len(labels)} labels. Replace the files with the originals.")
        if labels.max(initial=0) > 9:
            raise MnistSourceError(f"{directory}: {split} labels outside 0-9.")
        splits[split] = Digits(images, labels, f"MNIST {split} IDX in {directory}")
    if not splits:
        raise MnistSourceError(
            f"No MNIST IDX files in {directory}. Expected {IDX_FILES['test'][0]}(.gz) and "
            f"{IDX_FILES['test'][1]}(.gz) and/or the train pair. Pass --mnist-dir (or set "
            f"{ENV_VAR}) to the directory that holds them.")
    return splits


def load_tfds(data_dir: str | None = None) -> dict[str, Digits]:
    """Read MNIST train and test through tensorflow-datasets (may download)."""
    import tensorflow_datasets as tfds

    try:
        splits = tfds.as_numpy(tfds.load("mnist", split=["train", "test"], batch_size=-1,
                                         as_supervised=True, data_dir=data_dir))
    except Exception as error:  # tfds raises many kinds for a missing or offline source
        raise MnistSourceError(
            f"MNIST could not be loaded through tensorflow-datasets ({type(error).__name__}: "
            f"{error}). Offline, pass --mnist-dir (or set {ENV_VAR}) to a directory holding "
            "the original IDX files.") from error
    return {name: Digits(images[..., 0], labels.astype(np.uint8), f"tfds mnist {name}")
            for name, (images, labels) in zip(["train", "test"], splits)}


def load(mnist_dir: str | os.PathLike | None = None) -> dict[str, Digits]:
    """MNIST from `mnist_dir`, else `$DCN_MNIST_DIR`, else tfds.

    With a directory nothing is downloaded, so an offline machine never waits
    on a network retry loop.
    """
    mnist_dir = mnist_dir or os.environ.get(ENV_VAR)
    return load_idx_dir(mnist_dir) if mnist_dir else load_tfds()


def digit_pools(splits: dict[str, Digits], valid_size: int = 1000,
                test_size: int = 2000) -> dict[str, Digits]:
    """Disjoint train / valid / test digit pools for Cluttered MNIST.

    With both MNIST splits: train = train[:-valid_size], valid = the last
    valid_size train digits, test = the test split. With the test split only
    (the offline set-up): train = test[:-(valid_size + test_size)], valid = the
    next valid_size, test = the last test_size digits.
    """
    if "train" in splits and "test" in splits:
        train = splits["train"]
        n = len(train)
        return {"train": train.take(0, n - valid_size, "train pool"),
                "valid": train.take(n - valid_size, n, "valid pool"),
                "test": splits["test"].take(0, len(splits["test"]), "test pool")}
    only = splits.get("test") or splits.get("train")
    n = len(only)
    if n <= valid_size + test_size:
        raise MnistSourceError(f"{only.source} holds {n} digits, too few for a valid pool of "
                               f"{valid_size} and a test pool of {test_size}.")
    cut = n - valid_size - test_size
    return {"train": only.take(0, cut, "train pool"),
            "valid": only.take(cut, cut + valid_size, "valid pool"),
            "test": only.take(cut + valid_size, n, "test pool")}

