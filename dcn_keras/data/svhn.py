"""SVHN format 1 (full house-number photographs, Netzer et al. 2011).

Each split is `train.tar.gz` / `test.tar.gz` / `extra.tar.gz`, or the folder it extracts to: PNG
files and `digitStruct.mat`, a MATLAB v7.3 file (HDF5) with one `name` and one `bbox` per
image. A `bbox` holds `height`, `left`, `top`, `width` and `label` (10 means digit 0); an image
with one digit stores each as an inline scalar, one with several digits as references to
scalars.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pathlib
import tarfile

import h5py
import numpy as np

MAX_LENGTH = 5
FIELDS = ("label", "left", "top", "width", "height")


class SvhnSourceError(RuntimeError):
    """An SVHN archive or folder is missing or malformed; the message says what to pass."""


@dataclasses.dataclass(frozen=True)
class Digit:
    label: int  # 0-9 (the file's 10 is digit 0)
    left: int
    top: int
    width: int
    height: int


@dataclasses.dataclass(frozen=True)
class SvhnImage:
    name: str
    digits: tuple[Digit, ...]


@dataclasses.dataclass(frozen=True)
class SvhnExample:
    """A grayscale photograph `[H, W]` uint8 and its digit sequence."""

    name: str
    image: np.ndarray
    digits: tuple[int, ...]
    box: tuple[int, int, int, int]  # (top, left, bottom, right) around all digits, half open


def _values(file: h5py.File, dataset: h5py.Dataset) -> list[float]:
    """The numbers of one bbox field: inline scalars, or references to scalars."""
    data = dataset[()]
    if h5py.check_dtype(ref=dataset.dtype) is not None:
        return [float(np.asarray(file[ref][()]).ravel()[0]) for ref in np.ravel(data)]
    return [float(v) for v in np.ravel(data)]


def read_digit_struct(path) -> list[SvhnImage]:
    """Every image of a `digitStruct.mat` (a path or a binary file object), in file order.

    Returns:
      One `SvhnImage` per image: its file name and its digits as
      (label, left, top, width, height), label 0-9.
    """
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise SvhnSourceError(f"{path} is not a MATLAB v7.3 (HDF5) digitStruct.mat "
                              f"({error}). Pass the digitStruct.mat of SVHN format 1 "
                              "(http://ufldl.stanford.edu/housenumbers/).") from error
    with file:
        if "digitStruct" not in file:
            raise SvhnSourceError(f"{path} has no 'digitStruct' group; it is not SVHN's "
                                  "format-1 digitStruct.mat.")
        names, boxes = file["digitStruct/name"], file["digitStruct/bbox"]
        images = []
        for name_ref, box_ref in zip(np.ravel(names[()]), np.ravel(boxes[()])):
            name = "".join(chr(int(c)) for c in np.ravel(file[name_ref][()]))
            group = file[box_ref]
            fields = {key: _values(file, group[key]) for key in FIELDS}
            digits = tuple(Digit(int(label) % 10, *(int(round(v)) for v in rest))
                           for label, *rest in zip(*(fields[key] for key in FIELDS)))
            images.append(SvhnImage(name, digits))
    return images


def sequence_box(digits: tuple[Digit, ...], height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) around all digit boxes, clipped to the image."""
    top = max(0, min(d.top for d in digits))
    left = max(0, min(d.left for d in digits))
    bottom = min(height, max(d.top + d.height for d in digits))
    right = min(width, max(d.left + d.width for d in digits))
    return top, left, bottom, right


def _grayscale(data: bytes) -> np.ndarray:
    from PIL import Image

    # ITU-R 601 luma, the same weights as tf.image.rgb_to_grayscale.
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), np.uint8)


class _Folder:
    def __init__(self, path: pathlib.Path):
        self.path = path

    def digit_struct(self):
        return self.path / "digitStruct.mat"

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def close(self):
        pass


class _Archive:
    def __init__(self, path: pathlib.Path):
        self.tar = tarfile.open(path, "r:*")  # noqa: SIM115 (closed by close())
        self.members = {pathlib.PurePosixPath(m.name).name: m for m in self.tar.getmembers()
                        if m.isfile()}

    def digit_struct(self):
        if "digitStruct.mat" not in self.members:
            raise SvhnSourceError(f"{self.tar.name} holds no digitStruct.mat; pass an SVHN "
                                  "format-1 archive such as test.tar.gz.")
        return io.BytesIO(self.read("digitStruct.mat"))

    def read(self, name: str) -> bytes:
        return self.tar.extractfile(self.members[name]).read()

    def close(self):
        self.tar.close()


def open_source(source: str | os.PathLike):
    """An SVHN split (format-1 `.tar.gz` or its extracted folder) with `digit_struct()`,
    `read(name)` and `close()`."""
    source = pathlib.Path(source)
    if source.is_dir():
        if not (source / "digitStruct.mat").exists():
            raise SvhnSourceError(f"{source} holds no digitStruct.mat; pass an extracted SVHN "
                                  "format-1 folder (e.g. test/) or its .tar.gz.")
        return _Folder(source)
    if source.is_file() and tarfile.is_tarfile(source):
        return _Archive(source)
    raise SvhnSourceError(f"{source} is neither an SVHN format-1 .tar.gz nor its extracted "
                          "folder. Download train.tar.gz / test.tar.gz / extra.tar.gz from "
                          "http://ufldl.stanford.edu/housenumbers/.")


def load(source: str | os.PathLike, limit: int | None = None) -> tuple[list[SvhnExample], dict]:
    """Grayscale photographs and digit sequences of one split.

    Args:
      source: `test.tar.gz` (or train/extra) or the folder it extracts to.
      limit: read at most this many images (in file order).

    Returns:
      (examples, counts) where counts has `images`, `kept` and `dropped_too_long`
      (sequences longer than 5 digits, which the 5-digit model cannot express).
    """
    split = open_source(source)
    try:
        images = read_digit_struct(split.digit_struct())[:limit]
        examples = [example for image in images
                    if (example := to_example(split, image, source)) is not None]
    finally:
        split.close()
    return examples, {"images": len(images), "kept": len(examples),
                      "dropped_too_long": len(images) - len(examples)}


def to_example(split, image: SvhnImage, source="the SVHN source") -> SvhnExample | None:
    """The grayscale photograph of `image` read from an `open_source` split, or None when
    its sequence is longer than 5 digits (or empty)."""
    if len(image.digits) > MAX_LENGTH or not image.digits:
        return None
    try:
        pixels = _grayscale(split.read(image.name))
    except (KeyError, FileNotFoundError) as error:
        raise SvhnSourceError(f"{source} lists {image.name} in digitStruct.mat but "
                              "does not hold it; the archive is incomplete.") from error
    return SvhnExample(image.name, pixels, tuple(d.label for d in image.digits),
                       sequence_box(image.digits, *pixels.shape))
