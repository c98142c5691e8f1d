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
from PIL import Image

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


def _plain_name(name: str, where: str) -> str:
    """`name` if it is a plain file name; names with folders (`../../x.png`, `/etc/x`) would
    read files outside the SVHN folder."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise SvhnSourceError(f"{where}: image name {name!r} is not a plain file name such "
                              "as 1.png; SVHN lists only files beside digitStruct.mat. The "
                              "digitStruct.mat is damaged or not SVHN's.")
    return name


def _digit(values: tuple[float, ...], where: str) -> Digit:
    """One digit from its (label, left, top, width, height) as stored: label 1-10 (10 is
    digit 0), a box of non-negative width and height."""
    label, left, top, width, height = values
    if not all(np.isfinite(values)):
        raise SvhnSourceError(f"{where}: digit {values} holds a NaN or infinite number.")
    if label != int(label) or not 1 <= label <= 10:
        raise SvhnSourceError(f"{where}: digit label {label:g} is outside 1-10 (SVHN stores "
                              "digits 1-9 as themselves and 0 as 10). The digitStruct.mat is "
                              "damaged or not SVHN's format 1.")
    if width < 0 or height < 0:
        raise SvhnSourceError(f"{where}: digit box with width {width:g} and height {height:g}; "
                              "both must be >= 0. The digitStruct.mat is damaged.")
    return Digit(int(label) % 10, *(int(round(v)) for v in (left, top, width, height)))


def _image(file: h5py.File, name_ref, box_ref, source: str, index: int) -> SvhnImage:
    """Entry `index` of a digitStruct: its name and digits, checked."""
    where = f"{source}, entry {index}"
    try:
        name = "".join(chr(int(c)) for c in np.ravel(file[name_ref][()]))
        where = f"{source}, image {name!r}"
        group = file[box_ref]
        missing = [key for key in FIELDS if key not in group]
        if missing:
            raise SvhnSourceError(f"{where}: bbox lacks {', '.join(missing)}; each bbox holds "
                                  f"{', '.join(FIELDS)}. The digitStruct.mat is damaged.")
        fields = [_values(file, group[key]) for key in FIELDS]
    except (KeyError, ValueError, TypeError, OSError) as error:
        raise SvhnSourceError(f"{where} cannot be read ({type(error).__name__}: {error}). The "
                              "digitStruct.mat is damaged; download it again.") from error
    if len({len(values) for values in fields}) != 1:
        raise SvhnSourceError(f"{where}: bbox fields hold different numbers of digits "
                              f"({dict(zip(FIELDS, map(len, fields)))}).")
    return SvhnImage(_plain_name(name, where),
                     tuple(_digit(values, where) for values in zip(*fields)))


def read_digit_struct(path) -> list[SvhnImage]:
    """Every image of a `digitStruct.mat` (a path or a binary file object with a `name`), in
    file order. Malformed entries raise `SvhnSourceError` naming the file and the image.

    Returns:
      One `SvhnImage` per image: its file name and its digits as
      (label, left, top, width, height), label 0-9.
    """
    source = str(path if isinstance(path, (str, os.PathLike)) else getattr(path, "name", path))
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise SvhnSourceError(f"{source} is not a MATLAB v7.3 (HDF5) digitStruct.mat "
                              f"({error}). Pass the digitStruct.mat of SVHN format 1 "
                              "(http://ufldl.stanford.edu/housenumbers/).") from error
    with file:
        missing = [key for key in ("digitStruct/name", "digitStruct/bbox") if key not in file]
        if missing:
            raise SvhnSourceError(f"{source} has no {' or '.join(missing)}; it is not SVHN's "
                                  "format-1 digitStruct.mat, which holds a name and a bbox "
                                  "per image.")
        names = np.ravel(file["digitStruct/name"][()])
        boxes = np.ravel(file["digitStruct/bbox"][()])
        if len(names) != len(boxes):
            raise SvhnSourceError(f"{source} lists {len(names)} names but {len(boxes)} bboxes; "
                                  "the digitStruct.mat is damaged.")
        return [_image(file, name_ref, box_ref, source, index)
                for index, (name_ref, box_ref) in enumerate(zip(names, boxes))]


def sequence_box(digits: tuple[Digit, ...], height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) around all digit boxes, clipped to the image."""
    top = max(0, min(d.top for d in digits))
    left = max(0, min(d.left for d in digits))
    bottom = min(height, max(d.top + d.height for d in digits))
    right = min(width, max(d.left + d.width for d in digits))
    return top, left, bottom, right


def _grayscale(data: bytes, where: str) -> np.ndarray:
    """The `[H, W]` uint8 luma of an encoded image, or `SvhnSourceError` naming `where`."""
    try:
        # ITU-R 601 luma, the same weights as tf.image.rgb_to_grayscale.
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("L"), np.uint8)
    # PIL raises OSError (unknown format, truncated file), SyntaxError (broken PNG chunks),
    # ValueError and DecompressionBombError (absurd sizes).
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise SvhnSourceError(f"{where} does not decode as an image ({type(error).__name__}: "
                              f"{error}). The file is damaged; download the split "
                              "again.") from error


class _Folder:
    def __init__(self, path: pathlib.Path):
        self.path = path

    def digit_struct(self):
        return self.path / "digitStruct.mat"

    def read(self, name: str) -> bytes:
        return (self.path / _plain_name(name, str(self.path))).read_bytes()

    def close(self):
        pass


class _NamedBytes(io.BytesIO):
    """Bytes read from an archive, with the `name` that error messages give."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name


class _Archive:
    def __init__(self, path: pathlib.Path):
        try:
            self.tar = tarfile.open(path, "r:*")  # noqa: SIM115 (closed by close())
            files = [m for m in self.tar.getmembers() if m.isfile()]
        except (tarfile.TarError, OSError, EOFError) as error:
            raise SvhnSourceError(f"{path} is a damaged archive ({type(error).__name__}: "
                                  f"{error}); download it again.") from error
        # digitStruct.mat names images by file name alone: of two members with one name, the
        # reader could not tell which is meant.
        self.members = {}
        for member in files:
            name = pathlib.PurePosixPath(member.name).name
            if name in self.members:
                self.tar.close()
                raise SvhnSourceError(
                    f"{path} holds two files named {name}: {self.members[name].name} and "
                    f"{member.name}. An SVHN format-1 archive holds one folder (train/, test/ "
                    "or extra/); pass the archive as downloaded, or its extracted folder.")
            self.members[name] = member

    def digit_struct(self):
        if "digitStruct.mat" not in self.members:
            raise SvhnSourceError(f"{self.tar.name} holds no digitStruct.mat; pass an SVHN "
                                  "format-1 archive such as test.tar.gz.")
        return _NamedBytes(self.read("digitStruct.mat"), f"{self.tar.name}:digitStruct.mat")

    def read(self, name: str) -> bytes:
        try:
            return self.tar.extractfile(self.members[name]).read()
        except (tarfile.TarError, OSError, EOFError) as error:
            raise SvhnSourceError(f"{self.tar.name}: {name} cannot be read from the archive "
                                  f"({type(error).__name__}: {error}); download it "
                                  "again.") from error

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
      limit: read at most this many images (in file order), >= 1; None: all.

    Returns:
      (examples, counts) where counts has `images`, `kept` and `dropped_too_long`
      (sequences longer than 5 digits, which the 5-digit model cannot express).
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise ValueError(f"limit is the number of images to read, >= 1 (or None for all), "
                         f"got {limit!r}.")
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
    its sequence is longer than 5 digits (or empty). A photograph that does not decode, or
    whose digit boxes lie outside it, raises `SvhnSourceError` naming the file."""
    if len(image.digits) > MAX_LENGTH or not image.digits:
        return None
    try:
        pixels = _grayscale(split.read(image.name), f"{source}: {image.name}")
    except (KeyError, FileNotFoundError) as error:
        raise SvhnSourceError(f"{source} lists {image.name} in digitStruct.mat but "
                              "does not hold it; the archive is incomplete.") from error
    box = sequence_box(image.digits, *pixels.shape)
    if box[0] >= box[2] or box[1] >= box[3]:
        raise SvhnSourceError(f"{source}: the digit boxes of {image.name} lie outside its "
                              f"{pixels.shape[0]}x{pixels.shape[1]} pixels (sequence box "
                              f"{box}, top-left-bottom-right). The digitStruct.mat does not "
                              "belong to these images, or is damaged.")
    return SvhnExample(image.name, pixels, tuple(d.label for d in image.digits), box)
