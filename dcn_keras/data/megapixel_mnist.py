"""Megapixel MNIST, after the attention-sampling generator (Katharopoulos & Fleuret 2019).

A canvas is `side` x `side` (1500 in the paper), one channel, uint8 on black. Its label is
drawn uniformly from 0-9; it holds 3 digits of that class and 2 of other classes (each drawn
uniformly from the other 9, with replacement), 28x28 at top-left corners uniform over
[0, side - 28]^2, a corner redrawn while it lies within 28 pixels of an earlier one on both
axes. 50 patches of a fixed bank of line patterns (`noise_bank`) lie at corners uniform over
[28, side - 28). Noise is pasted first and digits last, both with max (as in the IPS
variant, Bergner et al. 2023, where noise never covers a digit).

Only the MNIST test split exists on some machines, so digits come from `mnist.digit_pools`:
with the test split alone, training canvases use test digits 0-6,999, validation canvases
7,000-7,999 and test canvases 8,000-9,999 (`describe` names them in every figure).

About 0.2% of a canvas's pixels are ink, so each is stored as one tf.Example of its non-zero
pixels (flat indices and uint8 values); `dataset` and `view_dataset` make them dense.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import pathlib
import re

import numpy as np
import tensorflow as tf

from dcn_keras import progress as progress_lines
from dcn_keras.data import manifest, mnist, tfrecords

SIDE = 1500
DIGIT = 28
NUM_DIGITS = 5
LABEL_DIGITS = 3  # of the label's class; the other NUM_DIGITS - LABEL_DIGITS are not
NUM_CLASSES = 10
NUM_NOISE = 50  # patches per canvas
NOISE_PATTERNS = 50  # patterns in the bank
NOISE_SEED = 1500  # the bank is one fixed set, the same for every split and data set seed
NOISE_INTENSITY = (0.8, 1.0)
VIEW_SCALE = 0.12  # the low-resolution view: 1500 -> 180
SPLITS = ("train", "valid", "test")  # the order fixes `example_rng`'s streams
DEFAULT_SIZES = {"train": 5000, "valid": 500, "test": 1000}
SPLIT_NAMES = {"train": "training", "valid": "validation", "test": "test"}
MNIST_INK = 151  # non-zero pixels of the mean MNIST digit, for the disk space estimate
SHUFFLE_BUFFER = 8192  # serialized (sparse) records, so a full buffer holds ~150 MB

FEATURES = {
    "indices": tf.io.VarLenFeature(tf.int64),
    "values": tf.io.FixedLenFeature([], tf.string),
    "side": tf.io.FixedLenFeature([], tf.int64),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "boxes": tf.io.FixedLenFeature([NUM_DIGITS * 4], tf.int64),
    "digits": tf.io.FixedLenFeature([NUM_DIGITS], tf.int64),
    "digit_indices": tf.io.FixedLenFeature([NUM_DIGITS], tf.int64),
}


@dataclasses.dataclass(frozen=True, eq=False)
class MegapixelExample:
    """One canvas and where its digits and noise patches lie."""

    image: np.ndarray  # [side, side] uint8
    label: int
    boxes: np.ndarray  # [5, 4] (top, left, bottom, right), half open; the label's digits first
    digits: np.ndarray  # [5] class of each digit of `boxes`
    digit_indices: np.ndarray  # [5] index of each digit in its pool
    noise_corners: np.ndarray  # [50, 2] (top, left) of each noise patch
    noise_patterns: np.ndarray  # [50] index of each patch's pattern in `noise_bank()`


def example_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one example: independent of order, so any worker can make it."""
    # The last word keeps these streams apart from the other data sets' for equal arguments.
    return np.random.default_rng([seed, SPLITS.index(split), index, 1500])


def min_side() -> int:
    """The smallest side on which `NUM_DIGITS` digits can always be placed at random.

    Each placed digit rules out at most (2 x 28 - 1)^2 corners of the (side - 27)^2, so the
    last digit always finds a corner once (side - 27)^2 exceeds 4 x 55^2 (side >= 138)."""
    blocked = (NUM_DIGITS - 1) * (2 * DIGIT - 1) ** 2
    return math.isqrt(blocked) + DIGIT


def check_side(side: int) -> None:
    """Raise `ValueError` unless `side` is an integer of at least `min_side()`: smaller
    canvases could leave no room for the last digit, and the corner draw would never end."""
    if isinstance(side, bool) or not isinstance(side, int) or side < min_side():
        raise ValueError(
            f"A canvas side of {side!r} pixels is too small to place {NUM_DIGITS} "
            f"non-overlapping {DIGIT}x{DIGIT} digits at random; Megapixel MNIST needs a side "
            f"of at least {min_side()} pixels (the paper's is {SIDE}).")


def _line(slope: float) -> np.ndarray:
    """`[28, 28]` bool: a line from the top-left corner, `slope` columns per row, to the
    bottom or right edge."""
    end = (DIGIT - 0.51) / max(slope, 1.0)
    rows = np.linspace(0.0, end, 2 * DIGIT)
    line = np.zeros((DIGIT, DIGIT), bool)
    line[np.round(rows).astype(int), np.round(slope * rows).astype(int)] = True
    return line


@functools.cache
def noise_bank() -> np.ndarray:
    """The fixed noise patterns `[50, 28, 28]` uint8: each a line of random slope joined with
    another pattern's line (a shuffled copy of the bank), that one mirrored left-right and
    up-down with probability 1/3 each, at intensities uniform in [0.8, 1.0) x 255."""
    rng = np.random.default_rng(NOISE_SEED)
    slopes = np.tan(rng.uniform(0.0, np.pi / 2.5, NOISE_PATTERNS))
    lines = np.stack([_line(slope) for slope in slopes])
    partners = lines[rng.permutation(NOISE_PATTERNS)]
    mirror = rng.random((2, NOISE_PATTERNS)) < 1 / 3
    partners[mirror[0]] = partners[mirror[0]][:, :, ::-1]
    partners[mirror[1]] = partners[mirror[1]][:, ::-1, :]
    intensity = rng.uniform(*NOISE_INTENSITY, size=lines.shape)
    bank = np.where(lines | partners, np.floor(255 * intensity), 0).astype(np.uint8)
    bank.flags.writeable = False  # shared by every example through the cache
    return bank


def _class_indices(pool: mnist.Digits) -> list[np.ndarray]:
    """For each class 0-9, the pool indices of its digits."""
    found = [np.flatnonzero(pool.labels == label) for label in range(NUM_CLASSES)]
    missing = [label for label, indices in enumerate(found) if not len(indices)]
    if missing:
        raise ValueError(f"{pool.source} holds no digit of class {missing}; Megapixel MNIST "
                         "draws every class.")
    return found


def _draw_digits(pool: mnist.Digits, rng: np.random.Generator
                 ) -> tuple[int, np.ndarray, np.ndarray]:
    """The label, the `[5]` classes (the label's 3 first) and their `[5]` pool indices."""
    label = int(rng.integers(NUM_CLASSES))
    others = (label + rng.integers(1, NUM_CLASSES, size=NUM_DIGITS - LABEL_DIGITS)) % NUM_CLASSES
    digits = np.concatenate([np.full(LABEL_DIGITS, label), others]).astype(np.int64)
    by_class = _class_indices(pool)
    indices = np.array([by_class[c][rng.integers(len(by_class[c]))] for c in digits], np.int64)
    return label, digits, indices


def _digit_corners(side: int, rng: np.random.Generator) -> np.ndarray:
    """`[5, 2]` (top, left) corners uniform over [0, side - 28]^2, each redrawn while it lies
    within 28 pixels of an earlier one on both axes."""
    corners = []
    while len(corners) < NUM_DIGITS:
        corner = rng.integers(0, side - DIGIT + 1, size=2)
        if all(np.any(np.abs(corner - other) >= DIGIT) for other in corners):
            corners.append(corner)
    return np.stack(corners).astype(np.int64)


def _paste(canvas: np.ndarray, patches: np.ndarray, corners: np.ndarray) -> None:
    """Combine `patches` `[n, 28, 28]` into `canvas` `[side, side]` at `corners` `[n, 2]`
    with max, so that a later patch never darkens an earlier one's ink."""
    for patch, (top, left) in zip(patches, corners):
        window = canvas[top:top + DIGIT, left:left + DIGIT]
        np.maximum(window, patch, out=window)


def make_example(pool: mnist.Digits, split: str, seed: int, index: int,
                 side: int = SIDE) -> MegapixelExample:
    """Canvas `index` of `split` (`SPLITS`) with digits of `pool` (that split's pool); a
    function of (seed, split, index, side) alone, so any Beam worker can make any one."""
    check_side(side)
    rng = example_rng(seed, split, index)
    label, digits, digit_indices = _draw_digits(pool, rng)
    corners = _digit_corners(side, rng)
    noise_corners = rng.integers(DIGIT, side - DIGIT, size=(NUM_NOISE, 2))
    noise_patterns = rng.integers(NOISE_PATTERNS, size=NUM_NOISE)
    canvas = np.zeros((side, side), np.uint8)
    _paste(canvas, noise_bank()[noise_patterns], noise_corners)
    _paste(canvas, pool.images[digit_indices], corners)
    return MegapixelExample(canvas, label, np.concatenate([corners, corners + DIGIT], axis=1),
                            digits, digit_indices, noise_corners, noise_patterns)


def serialize(example: MegapixelExample) -> bytes:
    """A tf.Example of the canvas's non-zero pixels (`indices` into the flat canvas, int64;
    `values`, uint8 bytes), `side`, `label`, `boxes` `[5 x 4]`, `digits` and
    `digit_indices` `[5]`."""
    flat = example.image.ravel()
    indices = np.flatnonzero(flat)
    int64 = tfrecords._int64
    record = tf.train.Example(features=tf.train.Features(feature={
        "indices": int64(indices),
        "values": tf.train.Feature(bytes_list=tf.train.BytesList(value=[flat[indices].tobytes()])),
        "side": int64(example.image.shape[0]),
        "label": int64(example.label),
        "boxes": int64(example.boxes),
        "digits": int64(example.digits),
        "digit_indices": int64(example.digit_indices),
    }))
    # Equal examples are equal bytes whichever process (or Beam worker) wrote them.
    return record.SerializeToString(deterministic=True)


def _dense(features: dict[str, tf.Tensor], side: int) -> tf.Tensor:
    """Parsed sparse pixels -> `[side, side, 1]` float32 in [0, 1], after checking the stored
    side is `side`."""
    indices = features["indices"].values
    values = tf.io.decode_raw(features["values"], tf.uint8)
    checks = [
        tf.debugging.assert_equal(
            features["side"], tf.constant(side, tf.int64),
            message=f"Megapixel MNIST canvas side differs from the expected {side}: the data "
                    "was built with another side (pass the side recorded in its "
                    "metadata.json, or rebuild it)."),
        tf.debugging.assert_equal(
            tf.size(indices), tf.size(values),
            message="Megapixel MNIST record holds unequal numbers of pixel indices and values "
                    "(megapixel_mnist.serialize); rebuild the data set."),
    ]
    with tf.control_dependencies(checks):
        flat = tf.scatter_nd(indices[:, None], values, tf.constant([side * side], tf.int64))
    return tf.image.convert_image_dtype(tf.reshape(flat, (side, side, 1)), tf.float32)


def parse(serialized: tf.Tensor, side: int) -> dict[str, tf.Tensor]:
    """One serialized example -> `image` `[side, side, 1]` float32 in [0, 1], `label`,
    `boxes` `[5, 4]`, `digits` `[5]`, `digit_indices` `[5]`."""
    features = tf.io.parse_single_example(serialized, FEATURES)
    return {"image": _dense(features, side),
            "label": tf.cast(features["label"], tf.int32),
            "boxes": tf.reshape(features["boxes"], (NUM_DIGITS, 4)),
            "digits": tf.cast(features["digits"], tf.int32),
            "digit_indices": features["digit_indices"]}


def view_size(side: int = SIDE, view_scale: float = VIEW_SCALE) -> int:
    """Rows (and columns) of the low-resolution view of a `side` canvas."""
    return max(1, round(side * view_scale))


def _batched(paths, batch_size: int, shuffle: bool, seed: int, cache: bool,
             count: int | None, make) -> tf.data.Dataset:
    """Serialized records of `paths`, counted as `tfrecords.dataset` counts them, shuffled
    while still sparse, mapped by `make` and batched."""
    records = tfrecords.records(paths, shuffle, seed, cache, count, SHUFFLE_BUFFER)
    return (records.map(make, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))


def dataset(paths, side: int, batch_size: int, shuffle: bool = False, seed: int = 0,
            cache: bool = True, count: int | None = None) -> tf.data.Dataset:
    """Batched `(images [b, side, side, 1] float32 in [0, 1], labels [b] int32)`.

    Args:
      paths: a file, a glob pattern (sharded output) or a list of either.
      side: the canvas side the records hold (checked per record).
      cache: keep the serialized (sparse) records in memory after the first pass.
      count: the number of records when known; otherwise the files are counted and checked
        against their manifest first (`tfrecords.checked_count`).
    """
    def make(serialized):
        example = parse(serialized, side)
        return example["image"], example["label"]

    return _batched(paths, batch_size, shuffle, seed, cache, count, make)


def view_dataset(paths, side: int, batch_size: int, view_scale: float = VIEW_SCALE,
                 shuffle: bool = False, seed: int = 0, cache: bool = True,
                 count: int | None = None) -> tf.data.Dataset:
    """Batched `(views [b, v, v, 1] float32, labels [b] int32)`: each canvas resized
    bilinearly with antialiasing to v = `view_size(side, view_scale)` (180 for 1500 at
    0.12), the low-resolution input. Other arguments as in `dataset`."""
    size = view_size(side, view_scale)

    def make(serialized):
        example = parse(serialized, side)
        view = tf.image.resize(example["image"], (size, size), method="bilinear",
                               antialias=True)
        return view, example["label"]

    return _batched(paths, batch_size, shuffle, seed, cache, count, make)


def splits(data_dir: str | os.PathLike, batch_size: int, seed: int = 0,
           view_scale: float | None = None
           ) -> tuple[tf.data.Dataset, tf.data.Dataset, tf.data.Dataset]:
    """(train shuffled, valid, test) batched datasets of a directory made by `build`, at full
    resolution, or as views when `view_scale` is given."""
    data_dir = pathlib.Path(data_dir)
    side = int(manifest.load(data_dir)["side"])
    if view_scale is None:
        read = functools.partial(dataset, side=side, batch_size=batch_size)
    else:
        read = functools.partial(view_dataset, side=side, batch_size=batch_size,
                                 view_scale=view_scale)
    return (read(data_dir / "train.tfrecord", shuffle=True, seed=seed),
            read(data_dir / "valid.tfrecord"), read(data_dir / "test.tfrecord"))


def pool_digits(pool: mnist.Digits) -> str:
    """The MNIST digits of a pool of `mnist.digit_pools`, e.g. "MNIST test digits 0-6,999";
    its `source` where that names no range."""
    found = re.search(r"\bmnist (train|test)\b.*\[(\d+):(\d+)\]", pool.source, re.IGNORECASE)
    if not found:
        return pool.source
    split, start, stop = found.group(1), int(found.group(2)), int(found.group(3))
    return f"MNIST {split} digits {start:,}-{stop - 1:,}"


def build_metadata(pools: dict[str, mnist.Digits], sizes: dict[str, int], seed: int,
                   side: int = SIDE) -> dict:
    """The metadata of a data set of `sizes` canvases per split (for `build` and an example
    generator alike): the recipe and the digit pool of every split."""
    return {"dataset": "megapixel_mnist", "seed": seed, "side": side,
            "digits_per_canvas": NUM_DIGITS, "label_digits": LABEL_DIGITS,
            "noise_patches": NUM_NOISE, "noise_patterns": NOISE_PATTERNS,
            "noise_seed": NOISE_SEED, "view_scale": VIEW_SCALE,
            "splits": {split: {"images": sizes[split], "digit_pool": pools[split].source,
                               "pool_digits": len(pools[split]),
                               "mnist_digits": pool_digits(pools[split])}
                       for split in SPLITS}}


def _mean_varint_bytes(count: int) -> float:
    """Mean bytes of the varints of 0..count-1 (7 bits a byte), as a packed Int64List
    stores them."""
    total, low, length = 0, 0, 1
    while low < count:
        high = min(count, 1 << (7 * length))
        total += (high - low) * length
        low, length = high, length + 1
    return total / count


def record_bytes(side: int = SIDE) -> float:
    """About how many bytes one serialized canvas takes: each ink pixel costs its index as a
    varint and one value byte; overlaps, which make it smaller, are ignored."""
    noise_ink = np.count_nonzero(noise_bank()) / NOISE_PATTERNS
    ink = NUM_DIGITS * MNIST_INK + NUM_NOISE * noise_ink
    return ink * (_mean_varint_bytes(side * side) + 1)


def build(out_dir: str | os.PathLike, mnist_dir=None, sizes: dict[str, int] | None = None,
          seed: int = 0, side: int = SIDE, progress: bool = True) -> dict:
    """Write `{split}.tfrecord` (sparse canvases, `serialize`) for train / valid / test and
    `metadata.json`, written aside and replacing `out_dir` as a whole (`manifest.building`).

    Args:
      mnist_dir: directory of MNIST IDX files (default: $DCN_MNIST_DIR, else tfds).
      sizes: canvases per split, each >= 1 (default `DEFAULT_SIZES`: the paper's 5,000
        training and 1,000 test canvases, and 500 for validation).
      side: the canvas side, at least `min_side()`.

    Returns:
      The metadata written, which names the digit pool of every split and each file's
      record count, size and sha256.
    """
    sizes = dict(sizes or DEFAULT_SIZES)
    manifest.check_sizes(sizes, SPLITS)
    check_side(side)
    manifest.check_space(out_dir, sizes, dict.fromkeys(sizes, record_bytes(side)))
    with manifest.building(out_dir, tuple(f"{split}.tfrecord" for split in SPLITS)) as tmp:
        pools = mnist.digit_pools(mnist.load(mnist_dir))
        metadata = build_metadata(pools, sizes, seed, side)
        for split in SPLITS:
            examples = (make_example(pools[split], split, seed, index, side)
                        for index in progress_lines.bar(
                            range(sizes[split]), sizes[split], f"megapixel mnist {split}",
                            "images", disable=not progress))
            info = metadata["splits"][split]
            info["file"] = f"{split}.tfrecord"
            info["images"] = tfrecords.write(tmp / info["file"], map(serialize, examples))
        return manifest.write(tmp, metadata)


def describe(metadata: dict) -> str:
    """One line naming the data, for every reported figure."""
    side = metadata["side"]
    parts = "; ".join(
        f"{info['images']:,} {SPLIT_NAMES.get(name, name)} "
        f"{'canvas' if info['images'] == 1 else 'canvases'} from "
        f"{info.get('mnist_digits', info['digit_pool'])}"
        for name, info in metadata["splits"].items())
    return (f"Megapixel MNIST {side}x{side} (seed {metadata['seed']}; "
            f"{metadata['digits_per_canvas']} digits, {metadata['label_digits']} of the "
            f"label's class, and {metadata['noise_patches']} noise patches per canvas): "
            f"{parts}")
