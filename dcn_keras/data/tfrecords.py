"""TFRecords of tf.Example: image bytes, label and digit box."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import tensorflow as tf

from dcn_keras.atomic import atomic_path
from dcn_keras.data import manifest
from dcn_keras.data.manifest import DataError  # noqa: F401 (raised here; part of this API)

# The image part of every schema: raw uint8 bytes and their shape.
IMAGE_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
    "channels": tf.io.FixedLenFeature([], tf.int64),
}
FEATURES = {
    **IMAGE_FEATURES,
    "label": tf.io.FixedLenFeature([], tf.int64),
    "digit_box": tf.io.FixedLenFeature([4], tf.int64),
    # Which digit of its pool the canvas shows: canvases of one digit are not independent
    # test cases (`digit_indices`). -1 where not recorded (serving requests).
    "digit_index": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
}


# Multi-digit sequences (SVHN, MNIST house numbers): images of any size.
SEQUENCE_FEATURES = {
    **IMAGE_FEATURES,
    "length": tf.io.FixedLenFeature([], tf.int64),
    "digits": tf.io.FixedLenFeature([5], tf.int64),
    "box": tf.io.FixedLenFeature([4], tf.int64),
}


def _int64(values) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(np.ravel(values))))


def _serialize(image: np.ndarray, **features) -> bytes:
    """A tf.Example of a `[H, W]` or `[H, W, C]` uint8 image and more int64 features."""
    image = np.asarray(image, np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    example = tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
        "height": _int64(image.shape[0]),
        "width": _int64(image.shape[1]),
        "channels": _int64(image.shape[2]),
        **{name: _int64(value) for name, value in features.items()},
    }))
    # Deterministic: the feature map is written in key order, so equal examples are equal bytes
    # whichever process (or Beam worker) wrote them.
    return example.SerializeToString(deterministic=True)


def serialize(image: np.ndarray, label: int, digit_box, digit_index: int | None = None) -> bytes:
    """`[H, W]` or `[H, W, C]` uint8 image, its label, (top, left, bottom, right) and, where
    given, the index of its digit in the digit pool it was drawn from."""
    extra = {} if digit_index is None else {"digit_index": digit_index}
    return _serialize(image, label=label, digit_box=digit_box, **extra)


def serialize_sequence(image: np.ndarray, digits, box) -> bytes:
    """`[H, W]` or `[H, W, C]` uint8 image of any size, its 1-5 digits (0-9) and the
    (top, left, bottom, right) box around them."""
    digits = list(digits)
    if not 1 <= len(digits) <= 5:
        raise ValueError(f"A sequence has 1 to 5 digits, got {len(digits)}.")
    return _serialize(image, length=len(digits),
                      digits=digits + [10] * (5 - len(digits)),  # 10: no digit
                      box=box)


def parse_sequence(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """One serialized sequence example -> `image` `[H, W, C]` float32 in [0, 1] (its own
    size), `length`, `digits` `[5]` (10 = no digit) and `box` `[4]`."""
    features = tf.io.parse_single_example(serialized, SEQUENCE_FEATURES)
    shape = tf.stack([features["height"], features["width"], features["channels"]])
    image = tf.reshape(tf.io.decode_raw(features["image"], tf.uint8), shape)
    return {"image": tf.image.convert_image_dtype(image, tf.float32),
            "length": tf.cast(features["length"], tf.int32),
            "digits": tf.cast(features["digits"], tf.int32), "box": features["box"]}


def parse(serialized: tf.Tensor, image_shape: tuple[int, int, int]) -> dict[str, tf.Tensor]:
    """One serialized example -> `image` `[H, W, C]` float32 in [0, 1], `label`, `digit_box`,
    `digit_index` (-1 where not recorded)."""
    features = tf.io.parse_single_example(serialized, FEATURES)
    return {"image": decode_images(features, image_shape),
            "label": tf.cast(features["label"], tf.int32),
            "digit_box": features["digit_box"], "digit_index": features["digit_index"]}


def decode_images(features: dict[str, tf.Tensor],
                  image_shape: tuple[int, int, int]) -> tf.Tensor:
    """Parsed `image`, `height`, `width`, `channels` features of shape `[...]` -> float32
    images `[..., H, W, C]` in [0, 1], after checking the stored size is `image_shape`."""
    stored = tf.stack([features["height"], features["width"], features["channels"]], axis=-1)
    expected = tf.broadcast_to(tf.constant(image_shape, tf.int64), tf.shape(stored))
    # The checks must run before decoding and reshaping, which would otherwise fail first with
    # a message that does not say what to do.
    check = tf.debugging.assert_equal(
        stored, expected,
        message=f"tf.Example image shape differs from the preset shape {list(image_shape)}: the "
                "data was made for another preset (rebuild it with `dcn data`) or the request "
                "carries an image of another size.")
    with tf.control_dependencies([check]):
        check = tf.debugging.assert_equal(
            tf.strings.length(features["image"]), tf.cast(np.prod(image_shape), tf.int32),
            message=f"tf.Example `image` must hold the height x width x channels = "
                    f"{int(np.prod(image_shape))} raw uint8 pixels of a {list(image_shape)} "
                    "image (dcn_keras.data.tfrecords.serialize), not encoded or cut bytes.")
    with tf.control_dependencies([check]):
        flat = tf.io.decode_raw(features["image"], tf.uint8)
        image = tf.reshape(flat, tf.concat([tf.shape(flat)[:-1], image_shape], axis=0))
    return tf.image.convert_image_dtype(image, tf.float32)


def write(path: str | os.PathLike, records) -> int:
    """Write serialized examples to `path` atomically; returns how many."""
    count = 0
    with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
        for record in records:
            writer.write(record)
            count += 1
    return count


def _hidden(match: str, pattern: str) -> bool:
    """Whether a wildcard of `pattern` matched a hidden name in `match` (a file, or a folder
    such as the `.data.tmp-*` of a data directory being written)."""
    return any(name.startswith(".") and not wild.startswith(".")
               for name, wild in zip(match.split("/"), pattern.split("/")))


def list_files(paths) -> list[str]:
    """A file, a glob pattern or a list of either -> sorted file names.

    Globs skip hidden files and folders: the `.<name>.tmp-*` files and folders of a writer
    killed before it finished (`atomic`) hold part of the data. Named directly, such a
    temporary file is refused.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for path in map(str, paths):
        if not any(c in path for c in "*?["):
            if any(part.startswith(".") and ".tmp-" in part for part in path.split("/")):
                raise DataError(f"{path} is the temporary file of a writer that did not "
                                "finish; it holds part of the data. Delete it and read the "
                                "finished file, or rebuild the data set with `dcn data`.")
            files.append(path)
            continue
        matches = sorted(m for m in tf.io.gfile.glob(path) if not _hidden(m, path))
        if not matches:
            raise DataError(f"No TFRecord files match {path} (hidden temporary files are "
                            "skipped). Build the data set first with `dcn data` or the "
                            "pipeline's example generator.")
        files += matches
    return files


def count_records(paths) -> int:
    """Number of records in TFRecord files (a path, glob or list), failing clearly if one is
    missing or corrupt, or differs from the manifest of its directory (`manifest.check`)."""
    total = 0
    for path in list_files(paths):
        if not tf.io.gfile.exists(path):
            raise DataError(f"{path} does not exist. Build the data set first with `dcn data`.")
        if tf.io.gfile.isdir(path):
            raise DataError(f"{path} is a directory; pass its TFRecord files (e.g. "
                            f"{os.path.join(path, '*.tfrecord')}).")
        try:
            records = sum(1 for _ in tf.data.TFRecordDataset(path))
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
            raise DataError(f"{path} is a corrupt TFRecord file "
                            f"({error.message.splitlines()[0]}). Delete it and rebuild the "
                            "data set with `dcn data`.") from error
        manifest.check(path, records)
        total += records
    return total


def checked_count(files: list[str]) -> int:
    """`count_records(files)`, refusing files without a record: an empty split trains zero
    steps (and saves an untrained model) or scores nothing."""
    count = count_records(files)
    if count == 0:
        raise DataError(f"{', '.join(files)} hold no records. Rebuild the data set with "
                        "`dcn data` and at least one image per split.")
    return count


def dataset(paths, image_shape: tuple[int, int, int], batch_size: int,
            shuffle: bool = False, seed: int = 0, cache: bool = True,
            count: int | None = None, digit_boxes: bool = False) -> tf.data.Dataset:
    """Batched `(images [b, H, W, C] float32, labels [b] int32)` from TFRecord files, with
    `digit_boxes` also each digit's box `[b, 4]` (top, left, bottom, right, half open).

    Args:
      paths: a file, a glob pattern (sharded output) or a list of either.
      count: the number of records when already known (e.g. recorded by the pipeline);
        otherwise the files are read once up front to count them, to find corruption and
        to check them against their manifest. Files holding another number of records
        than a given `count` fail at the end of the first pass (`assert_cardinality`).
    """
    serialized = records(paths, shuffle, seed, cache, count)
    if count is None:  # read up front anyway: say now, not at the first batch
        check_image_shape(list_files(paths)[0], image_shape)
    parsed = serialized.map(lambda s: parse(s, image_shape),
                            num_parallel_calls=tf.data.AUTOTUNE)
    fields = ("image", "label", "digit_box") if digit_boxes else ("image", "label")
    return (parsed.map(lambda e: tuple(e[field] for field in fields))
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))


def check_image_shape(path, image_shape: tuple[int, int, int]) -> None:
    """Raise `DataError` unless the first image of TFRecord `path` has `image_shape`."""
    for serialized in tf.data.TFRecordDataset(str(path)).take(1):
        features = tf.io.parse_single_example(
            serialized, {key: FEATURES[key] for key in ("height", "width", "channels")})
        stored = [int(features[key]) for key in ("height", "width", "channels")]
        if stored != list(image_shape):
            raise DataError(f"{path} holds {stored} images, but the preset reads "
                            f"{list(image_shape)}: the data was made for another preset. "
                            "Pass that --preset, or rebuild the data with `dcn data`.")


def records(paths, shuffle: bool = False, seed: int = 0, cache: bool = True,
            count: int | None = None, buffer: int = 8192) -> tf.data.Dataset:
    """The serialized records of TFRecord `paths` (a file, a glob pattern or a list of
    either), counted (`count` when known, else read once and checked against the manifest:
    `checked_count`), cached and shuffled in a `buffer` of records as `dataset` asks."""
    files = list_files(paths)
    if count is None:
        count = checked_count(files)
    elif count < 1:
        raise DataError(f"{', '.join(files)}: the recorded count of records is {count}. "
                        "Regenerate the examples with at least one image per split.")
    # A known cardinality lets Keras size progress bars and learning-rate schedules.
    serialized = tf.data.TFRecordDataset(files).apply(
        tf.data.experimental.assert_cardinality(count))
    if cache:
        serialized = serialized.cache()
    if shuffle:
        serialized = serialized.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    return serialized


def splits(data_dir: str | os.PathLike, image_shape: tuple[int, int, int], batch_size: int,
           seed: int = 0) -> tuple[tf.data.Dataset, tf.data.Dataset, tf.data.Dataset]:
    """(train shuffled, valid, test) batched datasets of a directory made by `dcn data`."""
    data_dir = pathlib.Path(data_dir)
    return (dataset(data_dir / "train.tfrecord", image_shape, batch_size, shuffle=True,
                    seed=seed),
            dataset(data_dir / "valid.tfrecord", image_shape, batch_size),
            dataset(data_dir / "test.tfrecord", image_shape, batch_size))


def read_all(paths, image_shape: tuple[int, int, int]) -> dict[str, np.ndarray]:
    """Every example of (small) TFRecord files as numpy arrays."""
    files = list_files(paths)
    checked_count(files)
    records = tf.data.TFRecordDataset(files).map(lambda s: parse(s, image_shape))
    rows = list(records.as_numpy_iterator())
    return {key: np.stack([row[key] for row in rows])
            for key in ("image", "label", "digit_box", "digit_index")}


def digit_indices(paths) -> np.ndarray | None:
    """`[records]` int64: the pool index of each record's digit, in the order `dataset` reads
    unshuffled files; None where a record does not carry it (data built without it)."""
    indices = tf.data.TFRecordDataset(list_files(paths)).map(
        lambda s: tf.io.parse_single_example(s, {"digit_index": FEATURES["digit_index"]})[
            "digit_index"])
    found = np.fromiter(indices.as_numpy_iterator(), np.int64)
    return found if len(found) and found.min() >= 0 else None


def full_images(paths, limit: int | None = None) -> list[dict[str, np.ndarray]]:
    """Sequence examples at their original sizes: `image` `[H, W, C]` float32, `length`,
    `digits` `[5]` and `box`, in file order. The files are checked first (corruption, their
    manifest, at least one record)."""
    files = list_files(paths)
    checked_count(files)
    records = tf.data.TFRecordDataset(files).map(parse_sequence)
    if limit:
        records = records.take(limit)
    return list(records.as_numpy_iterator())
