"""MNIST house numbers: a transfer benchmark with the structure of SVHN, made from MNIST.

Real SVHN cannot be downloaded on this project's machines, so this benchmark reproduces the
property the paper's SVHN experiment is about: training images are tight crops of 1-5 digit
sequences (like SVHN `extra`), while test images are large, cluttered canvases (like SVHN
`test`, up to about 450x1100 pixels) with the sequence at a random position and scale.
Everything reported on it says "MNIST house numbers", never SVHN.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from dcn_keras.data import mnist

MAX_LENGTH = 5
DIGIT = 28
TEST_HEIGHT = (100, 450)  # canvas heights of test images
TEST_ASPECT = (1.3, 2.6)  # width / height
TEST_MAX_WIDTH = 1100
TEST_DIGIT_HEIGHT = (28, 112)  # digit height on a test canvas, pixels
FRAGMENT = 8
TRAIN_ASPECT = 2  # width / height of the 64x128 training size
# Cluttered MNIST's clutter covers 8 x 8x8 of 100x100 pixels; fragments here are scaled with
# the digits, and their number chosen to keep that coverage.
CLUTTER_COVERAGE = 8 * FRAGMENT**2 / (100 * 100)
SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class SequenceExample:
    image: np.ndarray  # [H, W] uint8
    digits: tuple[int, ...]  # 1-5 digits, 0-9
    box: tuple[int, int, int, int]  # (top, left, bottom, right) around the digits, half open


def example_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one example: independent of order, so any worker can make it."""
    return np.random.default_rng([seed, SPLITS.index(split), index, 7])


def _strip(image: np.ndarray) -> np.ndarray:
    """The columns of a 28x28 digit that hold ink."""
    columns = np.flatnonzero(image.max(axis=0) > 0)
    return image[:, columns[0]:columns[-1] + 1] if len(columns) else image


def render_sequence(pool: mnist.Digits, rng: np.random.Generator,
                    length: int | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    """Digits of `pool` side by side with random gaps and vertical jitter, cropped tightly.

    Returns the `[28 + 4, W]` uint8 strip and its digits.
    """
    length = int(rng.integers(1, MAX_LENGTH + 1)) if length is None else length
    indices = rng.integers(len(pool), size=length)
    parts = [_strip(pool.images[i]) for i in indices]
    gaps = rng.integers(-2, 5, size=length - 1)
    width = sum(p.shape[1] for p in parts) + int(gaps.sum())
    strip = np.zeros((DIGIT + 4, width), np.int32)
    x = 0
    for part, gap in zip(parts, [*gaps, 0]):
        y = int(rng.integers(0, 5))
        strip[y:y + DIGIT, x:x + part.shape[1]] += part
        x += part.shape[1] + int(gap)
    return np.clip(strip, 0, 255).astype(np.uint8), tuple(int(pool.labels[i]) for i in indices)


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


def make_train_example(pool: mnist.Digits, rng: np.random.Generator) -> SequenceExample:
    """A tight crop around a sequence, with a margin of 10-25% of its height (SVHN extra),
    widened when needed to the 1:2 aspect of the training size (64x128), so that resizing
    for training does not stretch short sequences into shapes no test image holds."""
    strip, digits = render_sequence(pool, rng)
    margin = int(round(strip.shape[0] * rng.uniform(0.1, 0.25)))
    height, width = strip.shape
    extra = max(0, TRAIN_ASPECT * (height + 2 * margin) - (width + 2 * margin))
    left = margin + int(rng.integers(0, extra + 1))
    image = np.pad(strip, ((margin, margin), (left, margin + extra - (left - margin))))
    return SequenceExample(image, digits, (margin, left, margin + height, left + width))


def make_test_example(pool: mnist.Digits, rng: np.random.Generator) -> SequenceExample:
    """A large cluttered canvas with the sequence at a random position and scale."""
    height = int(rng.integers(TEST_HEIGHT[0], TEST_HEIGHT[1] + 1))
    width = min(TEST_MAX_WIDTH, int(height * rng.uniform(*TEST_ASPECT)))
    strip, digits = render_sequence(pool, rng)
    digit_height = rng.uniform(TEST_DIGIT_HEIGHT[0], min(TEST_DIGIT_HEIGHT[1], height * 0.6))
    scale = min(digit_height / DIGIT, (width - 2) / strip.shape[1])
    sequence = _resize(strip, max(1, round(strip.shape[0] * scale)),
                       max(1, round(strip.shape[1] * scale)))
    canvas = np.zeros((height, width), np.int32)
    size = max(2, round(FRAGMENT * scale))
    for _ in range(int(round(CLUTTER_COVERAGE * height * width / size**2))):
        source = pool.images[rng.integers(len(pool))]
        oy, ox = rng.integers(0, DIGIT - FRAGMENT + 1, size=2)
        fragment = _resize(source[oy:oy + FRAGMENT, ox:ox + FRAGMENT], size, size)
        py = int(rng.integers(0, height - size + 1))
        px = int(rng.integers(0, width - size + 1))
        canvas[py:py + size, px:px + size] += fragment
    top = int(rng.integers(0, height - sequence.shape[0] + 1))
    left = int(rng.integers(0, width - sequence.shape[1] + 1))
    canvas[top:top + sequence.shape[0], left:left + sequence.shape[1]] += sequence
    image = np.clip(canvas, 0, 255).astype(np.uint8)
    return SequenceExample(image, digits, (top, left, top + sequence.shape[0],
                                           left + sequence.shape[1]))


def make_example(pool: mnist.Digits, split: str, seed: int, index: int) -> SequenceExample:
    """Example `index` of `split`: tight crops for train/valid, large canvases for test."""
    rng = example_rng(seed, split, index)
    if split == "test":
        return make_test_example(pool, rng)
    return make_train_example(pool, rng)


def build(out_dir, mnist_dir=None, sizes: dict[str, int] | None = None, seed: int = 0,
          progress: bool = True) -> dict:
    """Write `{split}.tfrecord` (sequence schema of `tfrecords.serialize_sequence`) for
    train / valid / test and `metadata.json`, digits from disjoint MNIST pools. The
    directory is written aside and replaced as a whole (`manifest.building`); every split
    needs at least one image.

    Returns the metadata written, which names the digit pool of every split and each file's
    record count, size and sha256.
    """
    from tqdm import tqdm

    from dcn_keras.data import manifest, tfrecords

    sizes = sizes or {"train": 28000, "valid": 1000, "test": 2000}
    manifest.check_sizes(sizes, SPLITS)
    metadata = {"dataset": "mnist_house_numbers", "seed": seed, "splits": {}}
    with manifest.building(out_dir, tuple(f"{split}.tfrecord" for split in SPLITS)) as tmp:
        pools = mnist.digit_pools(mnist.load(mnist_dir))
        for split in SPLITS:
            examples = (make_example(pools[split], split, seed, index)
                        for index in tqdm(range(sizes[split]),
                                          desc=f"mnist house numbers {split}", unit="img",
                                          disable=not progress, leave=False))
            count = tfrecords.write(tmp / f"{split}.tfrecord",
                                    (tfrecords.serialize_sequence(e.image, e.digits, e.box)
                                     for e in examples))
            metadata["splits"][split] = {"file": f"{split}.tfrecord", "images": count,
                                         "digit_pool": pools[split].source,
                                         "kind": "large cluttered canvases" if split == "test"
                                         else "tight crops"}
        return manifest.write(tmp, metadata)


def describe(metadata: dict) -> str:
    """One line naming the data, for every reported figure."""
    return "MNIST house numbers (seed {}): {}".format(metadata["seed"], "; ".join(
        f"{name} {info['images']} {info['kind']} from {info['digit_pool']}"
        for name, info in metadata["splits"].items()))
