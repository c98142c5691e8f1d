"""Training and validation batches of the house-numbers models (SVHN, MNIST house numbers):
crops of the training images, and windows that cut a number."""

from __future__ import annotations

import tensorflow as tf

from dcn_keras.data import tfrecords
from dcn_keras.house_numbers.config import MultiDigitConfig
from dcn_keras.house_numbers.sequences import NO_DIGIT


def crops(paths, config: MultiDigitConfig, batch_size: int, training: bool,
          seed: int = 0) -> tf.data.Dataset:
    """Batched `(images [b, P_h, P_w, C], (length [b], digits [b, 5]))` for the coarse and
    fine models: each image resized to `config.train_size`, then a random (training) or
    central (validation) crop of `config.crop_size`, as in the paper's appendix 6.2.

    In training, `config.cut_window_share` of each batch are instead windows that cut a
    number (`cut_windows`), labelled length 0: "no whole number here"."""
    files = tfrecords.list_files(paths)
    count = tfrecords.checked_count(files)
    crop_h, crop_w = config.crop_size

    def prepare(serialized):
        example = tfrecords.parse_sequence(serialized)
        image = tf.image.resize(example["image"], config.train_size, antialias=True)
        if training:
            image = tf.image.random_crop(image, [crop_h, crop_w, config.channels], seed=seed)
        else:
            image = tf.image.resize_with_crop_or_pad(image, crop_h, crop_w)
        return image, (example["length"], example["digits"])

    records = tf.data.TFRecordDataset(files).apply(
        tf.data.experimental.assert_cardinality(count)).cache()
    if not training:
        return records.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(
            batch_size).prefetch(tf.data.AUTOTUNE)
    shuffled = records.shuffle(8192, seed=seed, reshuffle_each_iteration=True)
    whole = shuffled.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    cut = round(batch_size * config.cut_window_share)
    return _with_cut_windows(whole, records, config, batch_size, cut, seed).prefetch(
        tf.data.AUTOTUNE)


def _with_cut_windows(whole: tf.data.Dataset, records: tf.data.Dataset,
                      config: MultiDigitConfig, batch_size: int, count: int,
                      seed: int) -> tf.data.Dataset:
    """Batches of `batch_size`: `whole` examples (as many batches as they fill) with, in
    each batch, `count` cut windows drawn from `records`.

    The windows draw from their own shuffle and op seed: ops of one seed repeat each
    other's numbers. Shuffled after repeating: a resumed run replays the epochs before
    without reading them (`training._replay_epochs`), and a pass that read-ahead started
    early would otherwise draw an order the replay never draws."""
    if not count:
        return whole.batch(batch_size)
    shuffled = records.repeat().shuffle(8192, seed=seed + 1, reshuffle_each_iteration=True)
    parts = (whole.batch(batch_size - count), cut_windows(shuffled, config, seed).batch(count))
    return tf.data.Dataset.zip(*parts).map(_concat, num_parallel_calls=tf.data.AUTOTUNE)


def _concat(*parts):
    images, targets = zip(*parts)
    lengths, digits = zip(*targets)
    return tf.concat(images, 0), (tf.concat(lengths, 0), tf.concat(digits, 0))


def _resized(serialized, config: MultiDigitConfig):
    """A serialized crop resized to `config.train_size`, and its number's box there."""
    example = tfrecords.parse_sequence(serialized)
    image = tf.image.resize(example["image"], config.train_size, antialias=True)
    scale = tf.constant(config.train_size, tf.float32) / tf.cast(
        tf.shape(example["image"])[:2], tf.float32)
    return image, tf.cast(example["box"], tf.float32) * tf.tile(scale, [2])


def _background(serialized, config: MultiDigitConfig):
    """A serialized crop resized to `config.train_size` with its number blanked out: a test
    photograph holds one number."""
    image, box = _resized(serialized, config)
    height, width = config.train_size
    rows = tf.range(height, dtype=tf.float32)[:, None, None]
    columns = tf.range(width, dtype=tf.float32)[None, :, None]
    blank = ((rows >= tf.floor(box[0])) & (rows < tf.math.ceil(box[2]))
             & (columns >= tf.floor(box[1])) & (columns < tf.math.ceil(box[3])))
    return tf.where(blank, 0.0, image)


def _no_whole_number(config: MultiDigitConfig):
    return tf.constant(0, tf.int32), tf.fill([config.max_length], NO_DIGIT)


CUT = 0.2  # a window cuts a number when it leaves out this share of its width or more
PARTIAL = 0.8  # share of cut windows that hold at least CUT of the number, not background


def cut_windows(records: tf.data.Dataset, config: MultiDigitConfig,
                seed: int = 0) -> tf.data.Dataset:
    """Training windows that hold part of a number but not all of it, or only background,
    each labelled length 0 and no digits: `(image [P_h, P_w, C], (0, [10] * 5))`.

    A serialized crop is resized to `config.train_size` and set beside the background of a
    second one (its number blanked out), on a random side; the window is cut where it
    leaves out at least `CUT` of the number's width, and holds at least `CUT` of it in a
    `PARTIAL` share of windows.

    Test-time windows slide over a whole photograph, and most of them cut the number or
    hold only background; a model trained on whole numbers alone reads such a window as a
    shorter number with confidence, which both the DCN's choice of patches and its
    inverse-entropy weighting take for evidence (docs/house_numbers.md). The surroundings
    come from real crops, so a cut is not told apart by padding; the second number is
    blanked because a test photograph holds one.
    """
    width = config.train_size[1]
    crop_h, crop_w = config.crop_size

    def window(pair):
        number, box = _resized(pair[0], config)
        background = _background(pair[1], config)
        # One draw for every choice: ops of one seed repeat each other's numbers. Three
        # numbers, one unused, keep the windows of the recorded runs.
        side, _, kind = tf.unstack(tf.random.uniform([3], seed=seed))
        first = side < 0.5
        strip = tf.where(first, tf.concat([number, background], 1),
                         tf.concat([background, number], 1))
        box = box + tf.where(first, 0.0, float(width)) * tf.constant([0.0, 1.0, 0.0, 1.0])
        y, x = _cut_window_start(strip, box, config, kind < PARTIAL, seed)
        window = tf.ensure_shape(strip[y:y + crop_h, x:x + crop_w],
                                 [crop_h, crop_w, config.channels])
        return window, _no_whole_number(config)

    return records.batch(2, drop_remainder=True).map(window,
                                                     num_parallel_calls=tf.data.AUTOTUNE)


def _cut_window_start(canvas, box, config: MultiDigitConfig, partial, seed: int):
    """The start (row, column) of a `config.crop_size` window of `canvas` `[H, W, C]`,
    drawn uniformly among those that
    do not hold the number of `box` (top, left, bottom, right): each leaves out at least
    `CUT` of the number's height or of its width. Where `partial`, only among those that
    also hold at least `CUT` of both. On a canvas one training crop high every window holds
    the number's rows, so it is cut sideways only."""
    crop_h, crop_w = config.crop_size

    def spans(axis, crop, low, high):
        """Per window start along `axis`: (holds the number's extent, holds CUT of it)."""
        starts = tf.range(tf.shape(canvas)[axis] - crop + 1, dtype=tf.float32)
        slack = CUT * (high - low)
        return ((starts <= low + slack) & (starts + crop >= high - slack),
                tf.minimum(starts + crop, high) - tf.maximum(starts, low) >= slack)

    holds_y, overlaps_y = spans(0, crop_h, box[0], box[2])
    holds_x, overlaps_x = spans(1, crop_w, box[1], box[3])
    holds = holds_y[:, None] & holds_x[None, :]
    candidates = ~holds & ((overlaps_y[:, None] & overlaps_x[None, :]) | ~partial)
    candidates = tf.where(tf.reduce_any(candidates), candidates, ~holds)
    index = tf.random.categorical(tf.where(tf.reshape(candidates, [1, -1]), 0.0, -1e9), 1,
                                  dtype=tf.int32, seed=seed)[0, 0]
    return index // tf.shape(candidates)[1], index % tf.shape(candidates)[1]
