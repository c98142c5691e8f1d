"""Cluttered MNIST, faithful to Mnih et al. 2014 (deepmind/mnist-cluttered).

100x100 canvas in [0, 1]; 8 distractors, each an 8x8 crop at a uniform offset
in [0, 20]^2 of a random digit of the same pool, added at a uniform position
in [0, 92]^2 and clipped to 1; then the 28x28 digit added at a uniform
position in [0, 72]^2 and clipped to [0, 1].
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from dcn_keras import progress as progress_lines
from dcn_keras.data import manifest, mnist, tfrecords

CANVAS = 100
DIGIT = 28
NUM_DISTRACTORS = 8
DISTRACTOR = 8
SPLITS = ("train", "valid", "test")
# The training pool's digits, from which `fresh_canvases` draws new canvases every epoch.
TRAIN_DIGITS = "train_digits"


@dataclasses.dataclass(frozen=True)
class ClutteredExample:
    image: np.ndarray  # [100, 100] uint8
    label: int
    digit_box: tuple[int, int, int, int]  # top, left, bottom, right (half open)
    digit_index: int  # index of the digit in its pool


def example_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one example: independent of order, so any worker can make it."""
    return np.random.default_rng([seed, SPLITS.index(split), index])


def digit_order(pool_size: int, seed: int, split: str) -> np.ndarray:
    """Which pool digit each image shows: a seeded permutation, repeated as needed."""
    return np.random.default_rng([seed, SPLITS.index(split), 2**31]).permutation(pool_size)


def make_example(pool: mnist.Digits, digit_index: int,
                 rng: np.random.Generator) -> ClutteredExample:
    """One cluttered image of pool digit `digit_index`, distractors drawn with `rng`."""
    canvas = np.zeros((CANVAS, CANVAS), np.int32)
    span = DIGIT - DISTRACTOR
    for _ in range(NUM_DISTRACTORS):
        source = pool.images[rng.integers(len(pool))]
        oy, ox = rng.integers(0, span + 1, size=2)
        py, px = rng.integers(0, CANVAS - DISTRACTOR + 1, size=2)
        canvas[py:py + DISTRACTOR, px:px + DISTRACTOR] += source[oy:oy + DISTRACTOR,
                                                                 ox:ox + DISTRACTOR]
    np.minimum(canvas, 255, out=canvas)
    y, x = (int(v) for v in rng.integers(0, CANVAS - DIGIT + 1, size=2))
    canvas[y:y + DIGIT, x:x + DIGIT] += pool.images[digit_index]
    # Pixel values are integers over 255 throughout, so uint8 storage is exact.
    image = np.clip(canvas, 0, 255).astype(np.uint8)
    return ClutteredExample(image, int(pool.labels[digit_index]),
                            (y, x, y + DIGIT, x + DIGIT), int(digit_index))


def generate(pool: mnist.Digits, count: int, seed: int, split: str, progress: bool = False):
    """Yield `count` examples of `split`; the same seed gives the same images."""
    order = digit_order(len(pool), seed, split)
    for index in progress_lines.bar(range(count), count, f"cluttered mnist {split}", "images",
                                    disable=not progress):
        yield make_example(pool, order[index % len(order)], example_rng(seed, split, index))


def build(out_dir: str | os.PathLike, mnist_dir=None, sizes: dict[str, int] | None = None,
          seed: int = 0, valid_pool: int = 1000, test_pool: int = 2000,
          progress: bool = True) -> dict:
    """Write `{split}.tfrecord` for train/valid/test, the training pool's digits
    (`train_digits.tfrecord`, for `fresh_canvases`) and `metadata.json`, the manifest.

    Args:
      out_dir: output directory, written aside and then replaced as a whole
        (`manifest.building`): a reader never sees some new splits beside old ones.
      mnist_dir: directory of MNIST IDX files (default: $DCN_MNIST_DIR, else tfds).
      sizes: images per split (each >= 1), e.g. {"train": 28000, "valid": 1000,
        "test": 2000}.
      seed: generator seed.
      valid_pool, test_pool: digits held out for validation and test.

    Returns:
      The metadata written, which names the digit pools every split came from and each
      file's record count, size and sha256.
    """
    sizes = sizes or {"train": 28000, "valid": 1000, "test": 2000}
    manifest.check_sizes(sizes, SPLITS)
    manifest.check_space(out_dir, sizes, dict.fromkeys(sizes, CANVAS * CANVAS))
    metadata = {"dataset": "cluttered_mnist", "seed": seed, "canvas": CANVAS,
                "num_distractors": NUM_DISTRACTORS, "distractor_size": DISTRACTOR, "splits": {}}
    files = tuple(f"{split}.tfrecord" for split in (*SPLITS, TRAIN_DIGITS))
    with manifest.building(out_dir, files) as tmp:
        pools = mnist.digit_pools(mnist.load(mnist_dir), valid_pool, test_pool)
        train = pools["train"]
        count = tfrecords.write(tmp / f"{TRAIN_DIGITS}.tfrecord", (
            tfrecords.serialize(image, label, (0, 0, DIGIT, DIGIT))
            for image, label in zip(train.images, train.labels)))
        metadata["splits"][TRAIN_DIGITS] = {"file": f"{TRAIN_DIGITS}.tfrecord",
                                            "images": count, "digit_pool": train.source,
                                            "pool_digits": len(train)}
        for split in SPLITS:
            pool = pools[split]
            records = (tfrecords.serialize(e.image, e.label, e.digit_box, e.digit_index)
                       for e in generate(pool, sizes[split], seed, split, progress))
            count = tfrecords.write(tmp / f"{split}.tfrecord", records)
            metadata["splits"][split] = {"file": f"{split}.tfrecord", "images": count,
                                         "digit_pool": pool.source, "pool_digits": len(pool)}
        return manifest.write(tmp, metadata)


def fresh_canvases(data_dir: str | os.PathLike, batch_size: int,
                   seed: int = 0) -> tf.data.Dataset:
    """Batched `(images [b, 100, 100, 1] float32, labels [b] int32)`: as many canvases per
    pass as the directory's fixed training split holds, made anew on every pass (epoch)
    from its training digits (`train_digits.tfrecord`), each digit equally often per pass
    in a new order, with new clutter and positions.

    A pass is a function of `seed` and how many passes came before it: the digit order is
    a shuffle and the canvas seeds a `Dataset.random`, both redrawn per iterator, so a
    resumed run (`training.fit`) sees the canvases the uninterrupted one saw.
    """
    path = os.path.join(str(data_dir), f"{TRAIN_DIGITS}.tfrecord")
    if not tf.io.gfile.exists(path):
        raise manifest.DataError(
            f"{data_dir} has no {TRAIN_DIGITS}.tfrecord, the training digits that fresh "
            "canvases are drawn from: it was built by an earlier release. Rebuild it with "
            "`dcn data --out DIR`, or train on its fixed canvases with --no-fresh-canvases.")
    count = manifest.load(data_dir)["splits"]["train"]["images"]
    stored = tfrecords.read_all(path, (DIGIT, DIGIT, 1))
    pool = mnist.Digits(np.rint(stored["image"][..., 0] * 255).astype(np.uint8),
                        stored["label"].astype(np.uint8), f"{path}")

    def canvas(index, canvas_seed):
        example = make_example(pool, int(index), np.random.default_rng(int(canvas_seed)))
        return example.image[..., None], np.int32(example.label)

    def make(index, canvas_seed):
        image, label = tf.numpy_function(canvas, [index, canvas_seed], (tf.uint8, tf.int32),
                                         stateful=False)
        image = tf.image.convert_image_dtype(tf.ensure_shape(image, (CANVAS, CANVAS, 1)),
                                             tf.float32)
        return image, tf.ensure_shape(label, ())

    digits = tf.data.Dataset.range(count).map(lambda i: i % len(pool)).shuffle(
        count, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).map(
        lambda value: value % (2**62))
    return (tf.data.Dataset.zip(digits, seeds)
            .map(make, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))


def describe(metadata: dict) -> str:
    """One line naming the data, for every reported figure."""
    splits = metadata["splits"]
    return "Cluttered MNIST 100x100 (seed {}): {}".format(metadata["seed"], "; ".join(
        f"{name} {info['images']} images from {info['digit_pool']}"
        for name, info in splits.items()))
