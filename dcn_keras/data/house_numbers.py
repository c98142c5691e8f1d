"""MNIST house numbers: a transfer benchmark with the structure of SVHN, made from MNIST.

Real SVHN cannot be downloaded on this project's machines, so this benchmark reproduces the
property the paper's SVHN experiment is about: training images are crops of 1-5 digit
sequences with a small margin (like SVHN `extra`), while test images are photographs with
background around the number and no box given (like SVHN `test`). Everything reported on
it says "MNIST house numbers", never SVHN. Splits (`SPLITS`):

- train / valid: crops around a sequence, margins 10-25% of its height, with distractor
  fragments at the test canvases' clutter coverage (SVHN training photographs have
  background too).
- test: SVHN-like canvases. Most are crops around the number, which spans 30-80% of the
  canvas height; a tenth are large photographs (250-450 rows, up to 1,100 columns) where it
  spans 10-43%. Digit heights are limited to what the paper's scales bring to the training
  digit height (`training_digit_heights`, `covered_digit_heights`).
- test_large: large cluttered canvases (100-450 rows, 28-112 pixel digits, about half of
  them at heights that no scale brings to the training digit height): a harder second test
  split.

Where the numbers come from: no statistics of SVHN format-1 image and box sizes could be
found on this machine, so the test distribution rests on two published facts and stated
assumptions. Facts: the paper's 100 largest SVHN test images are 363x735 to 442x1083 pixels
(sec. 4.2.4), and its Figure 4 shows `extra` images well centred with little background,
`test` images with more background and varied positions. Assumptions: most test images are
crops in which the number fills a large share of the height (30-80% here), and about a tenth
are large (250-450 rows here, which puts the 100 largest of 2,000 images near the paper's
range). docs/house_numbers.md has the histogram of what this produces.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from PIL import Image

from dcn_keras import progress as progress_lines
from dcn_keras.data import manifest, mnist, tfrecords

MAX_LENGTH = 5
DIGIT = 28  # rows of an MNIST digit's box: "digit height" below is this box, resized
STRIP = DIGIT + 4  # rows of a rendered sequence: digits jittered by 0-4 rows
FRAGMENT = 8
# Cluttered MNIST's clutter covers 8 x 8x8 of 100x100 pixels; fragments here are scaled with
# the digits, and their number chosen to keep that coverage, on crops and canvases alike.
CLUTTER_COVERAGE = 8 * FRAGMENT**2 / (100 * 100)

# Training crops, resized to the 64x128 training size (`presets.house_numbers().train_size`).
TRAIN_SIZE = (64, 128)
TRAIN_ASPECT = TRAIN_SIZE[1] // TRAIN_SIZE[0]  # crops are widened to this width / height
TRAIN_MARGIN = (0.1, 0.25)  # margin above, below and beside the sequence, of its height

# How many digits a number has: SVHN format 1's images per sequence length 1..5, in the
# counts commonly published for train (33,402 images, one of length 6 not counted) and test
# (13,068). They add up to the official totals: 73,257 and 26,032 digits (svhn.load counts
# the same on the real files). SVHN numbers are mostly two digits long (mean 2.2 in train,
# 2.0 in test); drawn uniformly, two in five of ours had 4-5 digits, wider than any 54x110
# window at the training digit height.
SVHN_LENGTH_COUNTS = {"train": (5137, 18130, 8691, 1434, 9),
                      "test": (2483, 8356, 2081, 146, 2)}

# The paper's scales (sec. 4.2.4: original, 0.75 and 0.5), those of the `paper` recipe.
PAPER_SCALES = (1.0, 0.75, 0.5)

# The "test" split. Digit heights, log-uniform: scale 1 brings 37.3-47.2 pixel digits and
# scale 0.5 brings 74.7-94.3 pixel digits to the training digit height (37.3-47.2 pixels,
# `training_digit_heights`), so 38-94 is what scales 1 to 0.5 cover; log-uniform gives each
# of the three scales the same share.
TEST_DIGIT_HEIGHT = (38, 94)
TEST_NUMBER_FRACTION = (0.3, 0.8)  # number height / canvas height of a crop
TEST_TAIL_SHARE = 0.1  # share of large photographs among test images
TEST_TAIL_HEIGHT = (250, 450)  # canvas heights of those
TEST_ASPECT = (1.3, 2.6)  # canvas width / height (the paper's largest: 2.0 and 2.5)
TEST_MAX_WIDTH = 1100
TEST_NUMBER_WIDTH = 0.9  # the number spans at most this share of the canvas width

# The "test_large" split.
LARGE_HEIGHT = (100, 450)  # canvas heights
LARGE_DIGIT_HEIGHT = (28, 112)  # digit height on a canvas, pixels
TEST_LARGE_IMAGES = 500  # test_large's size where `build` is not given one

SPLITS = ("train", "valid", "test", "test_large")  # the order fixes `example_rng`'s streams
REQUIRED_SPLITS = SPLITS[:3]  # test_large may be left out (0 images)
POOLS = {"train": "train", "valid": "valid", "test": "test", "test_large": "test"}
KINDS = {"train": "cluttered crops", "valid": "cluttered crops",
         "test": "SVHN-like cluttered canvases", "test_large": "large cluttered canvases"}
DEFAULT_SIZES = {"train": 28000, "valid": 1000, "test": 2000, "test_large": TEST_LARGE_IMAGES}


@dataclasses.dataclass(frozen=True)
class SequenceExample:
    image: np.ndarray  # [H, W] uint8
    digits: tuple[int, ...]  # 1-5 digits, 0-9
    box: tuple[int, int, int, int]  # (top, left, bottom, right) around the digits, half open


def example_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one example: independent of order, so any worker can make it."""
    return np.random.default_rng([seed, SPLITS.index(split), index, 7])


def training_digit_heights(train_height: int = TRAIN_SIZE[0]) -> tuple[float, float]:
    """(smallest, largest) height in pixels of a digit of a training crop once the crop is
    resized to `train_height` rows: the crop is the 32-row sequence with a margin of
    round(32 x 0.1) = 3 to round(32 x 0.25) = 8 rows above and below, so 38-48 rows, and a
    digit's 28 rows become 37.3-47.2 of 64."""
    low, high = (int(round(STRIP * fraction)) for fraction in TRAIN_MARGIN)
    return DIGIT * train_height / (STRIP + 2 * high), DIGIT * train_height / (STRIP + 2 * low)


def covered_digit_heights(scales=PAPER_SCALES,
                          train_height: int = TRAIN_SIZE[0]) -> list[tuple[float, float]]:
    """For each of `scales`, the (smallest, largest) test digit height in pixels that it
    brings into `training_digit_heights`: the DCN resizes a whole test image by the scale
    (`house_numbers.dcn.rescale`), so a digit h pixels high is read at h x scale."""
    low, high = training_digit_heights(train_height)
    return [(low / scale, high / scale) for scale in scales]


def digit_height(box) -> float:
    """The digit height in pixels of a number whose box (top, left, bottom, right) spans
    its rendered strip: the digits are DIGIT of the strip's STRIP rows."""
    return float(box[2] - box[0]) * DIGIT / STRIP


def nearest_scale(digit_height: float, scales=PAPER_SCALES,
                  train_height: int = TRAIN_SIZE[0]) -> float:
    """The scale of `scales` that brings a test digit `digit_height` pixels high closest, in
    ratio, to the middle (geometric) of the training digit heights."""
    middle = math.sqrt(math.prod(training_digit_heights(train_height)))
    return min(scales, key=lambda scale: abs(math.log(digit_height * scale / middle)))


def _strip(image: np.ndarray) -> np.ndarray:
    """The columns of a 28x28 digit that hold ink."""
    columns = np.flatnonzero(image.max(axis=0) > 0)
    return image[:, columns[0]:columns[-1] + 1] if len(columns) else image


def svhn_length(rng: np.random.Generator, split: str) -> int:
    """A sequence length 1..5 drawn as often as SVHN's `split` ("train" or "test") has it
    (`SVHN_LENGTH_COUNTS`)."""
    counts = np.asarray(SVHN_LENGTH_COUNTS[split], np.float64)
    return int(rng.choice(MAX_LENGTH, p=counts / counts.sum())) + 1


def render_sequence(pool: mnist.Digits, rng: np.random.Generator,
                    length: int | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    """Digits of `pool` side by side with random gaps and vertical jitter, cropped tightly;
    `length` digits, or 1-5 drawn uniformly.

    Returns the `[28 + 4, W]` uint8 strip and its digits.
    """
    length = int(rng.integers(1, MAX_LENGTH + 1)) if length is None else length
    indices = rng.integers(len(pool), size=length)
    parts = [_strip(pool.images[i]) for i in indices]
    gaps = rng.integers(-2, 5, size=length - 1)
    width = sum(p.shape[1] for p in parts) + int(gaps.sum())
    strip = np.zeros((STRIP, width), np.int32)
    x = 0
    for part, gap in zip(parts, [*gaps, 0]):
        y = int(rng.integers(0, 5))
        strip[y:y + DIGIT, x:x + part.shape[1]] += part
        x += part.shape[1] + int(gap)
    return np.clip(strip, 0, 255).astype(np.uint8), tuple(int(pool.labels[i]) for i in indices)


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


def _scaled(strip: np.ndarray, scale: float) -> np.ndarray:
    """`strip` `[h, w]` resized to `[round(h x scale), round(w x scale)]`, at least 1x1."""
    return _resize(strip, max(1, round(strip.shape[0] * scale)),
                   max(1, round(strip.shape[1] * scale)))


def _add_clutter(canvas: np.ndarray, pool: mnist.Digits, rng: np.random.Generator,
                 scale: float) -> None:
    """Add to `canvas` `[H, W]` int32 random 8x8 pieces of `pool`'s digits, resized by
    `scale` (the digits' own), anywhere, as many as keep `CLUTTER_COVERAGE`."""
    height, width = canvas.shape
    size = max(2, round(FRAGMENT * scale))
    for _ in range(int(round(CLUTTER_COVERAGE * height * width / size**2))):
        source = pool.images[rng.integers(len(pool))]
        oy, ox = rng.integers(0, DIGIT - FRAGMENT + 1, size=2)
        fragment = _resize(source[oy:oy + FRAGMENT, ox:ox + FRAGMENT], size, size)
        py = int(rng.integers(0, height - size + 1))
        px = int(rng.integers(0, width - size + 1))
        canvas[py:py + size, px:px + size] += fragment


def _place(canvas: np.ndarray, sequence: np.ndarray, rng: np.random.Generator
           ) -> tuple[int, int, int, int]:
    """Add `sequence` to `canvas` (int32) at a random position; returns its box."""
    top = int(rng.integers(0, canvas.shape[0] - sequence.shape[0] + 1))
    left = int(rng.integers(0, canvas.shape[1] - sequence.shape[1] + 1))
    canvas[top:top + sequence.shape[0], left:left + sequence.shape[1]] += sequence
    return top, left, top + sequence.shape[0], left + sequence.shape[1]


def _example(canvas: np.ndarray, digits, box) -> SequenceExample:
    return SequenceExample(np.clip(canvas, 0, 255).astype(np.uint8), digits, box)


def make_train_example(pool: mnist.Digits, rng: np.random.Generator) -> SequenceExample:
    """A crop around a sequence with a margin of 10-25% of its height (SVHN extra), widened
    when needed to the 1:2 aspect of the training size (64x128), so that resizing for
    training does not stretch short sequences into shapes no test image holds. Distractor
    fragments at the test images' clutter coverage lie anywhere on it, margins and number
    alike, at the digits' own scale: SVHN's training photographs have background too.

    No partial neighbouring digit is cut at the crop's border: a training label that says
    "ignore the digit cut by the border" would teach the fine model to read a number that a
    test window cuts as a shorter one, and the 3-8 pixel margins leave room only for slivers.
    """
    strip, digits = render_sequence(pool, rng, svhn_length(rng, "train"))
    margin = int(round(strip.shape[0] * rng.uniform(*TRAIN_MARGIN)))
    height, width = strip.shape
    extra = max(0, TRAIN_ASPECT * (height + 2 * margin) - (width + 2 * margin))
    left = margin + int(rng.integers(0, extra + 1))
    canvas = np.pad(strip.astype(np.int32),
                    ((margin, margin), (left, margin + extra - (left - margin))))
    _add_clutter(canvas, pool, rng, 1.0)
    return _example(canvas, digits, (margin, left, margin + height, left + width))


def _test_canvas_height(number_height: int, rng: np.random.Generator) -> int:
    """Rows of a test canvas for a number `number_height` rows high: a large photograph
    (`TEST_TAIL_HEIGHT`) with probability `TEST_TAIL_SHARE`, else a crop in which the
    number spans `TEST_NUMBER_FRACTION` of the height."""
    if rng.random() < TEST_TAIL_SHARE:
        return int(rng.integers(TEST_TAIL_HEIGHT[0], TEST_TAIL_HEIGHT[1] + 1))
    return math.ceil(number_height / rng.uniform(*TEST_NUMBER_FRACTION))


def make_test_example(pool: mnist.Digits, rng: np.random.Generator) -> SequenceExample:
    """An SVHN-like test image: digits `TEST_DIGIT_HEIGHT` pixels high (log-uniform, read
    at the training digit height by one of `PAPER_SCALES`), on a canvas sized around the
    number (`_test_canvas_height`; width `TEST_ASPECT` times the height, at least the
    number's width / `TEST_NUMBER_WIDTH`, at most `TEST_MAX_WIDTH`), at a random position,
    among fragments scaled with the digits."""
    strip, digits = render_sequence(pool, rng, svhn_length(rng, "test"))
    low, high = np.log(TEST_DIGIT_HEIGHT)
    scale = float(np.exp(rng.uniform(low, high))) / DIGIT
    sequence = _scaled(strip, scale)
    height = _test_canvas_height(sequence.shape[0], rng)
    width = min(TEST_MAX_WIDTH, max(int(round(height * rng.uniform(*TEST_ASPECT))),
                                    math.ceil(sequence.shape[1] / TEST_NUMBER_WIDTH)))
    canvas = np.zeros((height, width), np.int32)
    _add_clutter(canvas, pool, rng, scale)
    return _example(canvas, digits, _place(canvas, sequence, rng))


def make_large_test_example(pool: mnist.Digits, rng: np.random.Generator) -> SequenceExample:
    """A large cluttered canvas (100-450 rows, up to 1,100 columns) with the sequence at a
    random position and digit height (28-112 pixels, about half of which no scale of
    `PAPER_SCALES` brings to the training digit height): the test_large split, drawn on
    the stream of split index 2 (which the test split shares)."""
    height = int(rng.integers(LARGE_HEIGHT[0], LARGE_HEIGHT[1] + 1))
    width = min(TEST_MAX_WIDTH, int(height * rng.uniform(*TEST_ASPECT)))
    strip, digits = render_sequence(pool, rng)
    digit_height = rng.uniform(LARGE_DIGIT_HEIGHT[0], min(LARGE_DIGIT_HEIGHT[1], height * 0.6))
    scale = min(digit_height / DIGIT, (width - 2) / strip.shape[1])
    sequence = _scaled(strip, scale)
    canvas = np.zeros((height, width), np.int32)
    _add_clutter(canvas, pool, rng, scale)
    return _example(canvas, digits, _place(canvas, sequence, rng))


MAKERS = {"train": make_train_example, "valid": make_train_example,
          "test": make_test_example, "test_large": make_large_test_example}


def make_example(pool: mnist.Digits, split: str, seed: int, index: int) -> SequenceExample:
    """Example `index` of `split` (`SPLITS`), made from `pool` (that of `POOLS[split]`):
    cluttered crops for train / valid, SVHN-like canvases for test, large canvases for
    test_large."""
    return MAKERS[split](pool, example_rng(seed, split, index))


def split_sizes(sizes: dict[str, int] | None = None) -> dict[str, int]:
    """The images per split that `build` writes: `sizes` (default `DEFAULT_SIZES`) must
    give train, valid and test at least 1 image each; test_large gets as many as test, up
    to `TEST_LARGE_IMAGES`, unless given, and 0 leaves it out."""
    sizes = dict(sizes or DEFAULT_SIZES)
    manifest.check_sizes(sizes, REQUIRED_SPLITS)
    large = sizes.setdefault("test_large", min(sizes["test"], TEST_LARGE_IMAGES))
    if isinstance(large, bool) or not isinstance(large, int) or large < 0:
        raise ValueError(f"The test_large split needs 0 or more images, got {large!r}.")
    return sizes


def build(out_dir, mnist_dir=None, sizes: dict[str, int] | None = None, seed: int = 0,
          progress: bool = True) -> dict:
    """Write `{split}.tfrecord` (sequence schema of `tfrecords.serialize_sequence`) for
    train / valid / test / test_large (sizes: `split_sizes`) and `metadata.json`, digits
    from disjoint MNIST pools (test_large shares test's). The directory is written aside
    and replaced as a whole (`manifest.building`).

    Returns the metadata written, which names the digit pool and kind of every split and
    each file's record count, size and sha256.
    """
    sizes = split_sizes(sizes)
    metadata = {"dataset": "mnist_house_numbers", "seed": seed, "number_lengths": "svhn",
                "splits": {}}
    with manifest.building(out_dir, tuple(f"{split}.tfrecord" for split in SPLITS)) as tmp:
        pools = mnist.digit_pools(mnist.load(mnist_dir))
        # Image sizes vary: the mean of each split's first images stands for the rest.
        manifest.check_space(out_dir, sizes, {
            split: float(np.mean([make_example(pools[POOLS[split]], split, seed, index)
                                  .image.nbytes for index in range(min(count, 16))]))
            for split, count in sizes.items() if count})
        for split in (split for split in SPLITS if sizes[split]):
            pool = pools[POOLS[split]]
            examples = (make_example(pool, split, seed, index)
                        for index in progress_lines.bar(
                            range(sizes[split]), sizes[split], f"mnist house numbers {split}",
                            "images", disable=not progress))
            count = tfrecords.write(tmp / f"{split}.tfrecord",
                                    (tfrecords.serialize_sequence(e.image, e.digits, e.box)
                                     for e in examples))
            metadata["splits"][split] = {"file": f"{split}.tfrecord", "images": count,
                                         "digit_pool": pool.source, "kind": KINDS[split]}
        return manifest.write(tmp, metadata)


def describe(metadata: dict) -> str:
    """One line naming the data, for every reported figure."""
    # Data directories without "number_lengths" drew lengths uniformly.
    lengths = ("numbers as long as SVHN's" if metadata.get("number_lengths") == "svhn"
               else "1-5 digits drawn uniformly")
    return "MNIST house numbers (seed {}, {}): {}".format(metadata["seed"], lengths, "; ".join(
        f"{name} {info['images']} {info['kind']} from {info['digit_pool']}"
        for name, info in metadata["splits"].items()))
