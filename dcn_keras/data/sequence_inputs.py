"""Input pipelines for multi-digit sequences (SVHN, MNIST house numbers): training crops
and original-size test images."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dcn_keras.data import tfrecords
from dcn_keras.multi_digit.config import MultiDigitConfig
from dcn_keras.multi_digit.sequences import NO_DIGIT


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
    if training:
        records = records.shuffle(8192, seed=seed, reshuffle_each_iteration=True)
    examples = records.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    cut = round(batch_size * config.cut_window_share) if training else 0
    if not cut:
        return examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    # Every batch holds `cut` cut windows beside its whole-number crops, so an epoch still
    # passes over every crop once.
    windows = cut_windows(records.shuffle(8192, seed=seed + 1, reshuffle_each_iteration=True)
                          .repeat(), config, seed)
    return (tf.data.Dataset.zip(examples.batch(batch_size - cut), windows.batch(cut))
            .map(_concat, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))


def _concat(whole, cut):
    (images, (length, digits)), (cut_images, (cut_length, cut_digits)) = whole, cut
    return (tf.concat([images, cut_images], 0),
            (tf.concat([length, cut_length], 0), tf.concat([digits, cut_digits], 0)))


CUT = 0.2  # a window cuts a number when it leaves out this share of its width or more
PARTIAL = 0.8  # share of cut windows that hold at least CUT of the number, not background


def cut_windows(records: tf.data.Dataset, config: MultiDigitConfig,
                seed: int = 0) -> tf.data.Dataset:
    """Training windows that hold part of a number but not all of it, or only background,
    each labelled length 0 and no digits: `(image [P_h, P_w, C], (0, [10] * 5))`.

    A serialized crop is resized to `config.train_size` and set beside the background of a
    second one (its number blanked out), on a random side; the window is cut where it
    leaves out at least `CUT` of the number's width, and holds at least `CUT` of it in a
    `PARTIAL` share of windows. Test-time windows slide over a whole photograph, and most
    of them cut the number or hold only background; a model trained on whole numbers alone
    reads such a window as a shorter number with confidence, which both the DCN's choice of
    patches and its inverse-entropy weighting take for evidence (docs/house_numbers.md).
    The surroundings come from real crops, so a cut is not told apart by padding; the
    second number is blanked because a test photograph holds one.
    """
    height, width = config.train_size
    crop_h, crop_w = config.crop_size

    def resized(example):
        image = tf.image.resize(example["image"], config.train_size, antialias=True)
        scale = tf.constant(config.train_size, tf.float32) / tf.cast(
            tf.shape(example["image"])[:2], tf.float32)
        box = tf.cast(example["box"], tf.float32) * tf.tile(scale, [2])
        return image, box

    def window(pair):
        number, box = resized(tfrecords.parse_sequence(pair[0]))
        background, other = resized(tfrecords.parse_sequence(pair[1]))
        rows = tf.range(height, dtype=tf.float32)[:, None, None]
        columns = tf.range(width, dtype=tf.float32)[None, :, None]
        blank = ((rows >= tf.floor(other[0])) & (rows < tf.math.ceil(other[2]))
                 & (columns >= tf.floor(other[1])) & (columns < tf.math.ceil(other[3])))
        background = tf.where(blank, 0.0, background)
        # One draw for the three choices: ops of one seed repeat each other's numbers.
        side, kind, row = tf.unstack(tf.random.uniform([3], seed=seed))
        first = side < 0.5
        strip = tf.where(first, tf.concat([number, background], 1),
                         tf.concat([background, number], 1))
        offset = tf.where(first, 0.0, float(width))
        left, right = box[1] + offset, box[3] + offset
        slack = CUT * (right - left)
        starts = tf.range(2 * width - crop_w + 1, dtype=tf.float32)
        holds = (starts <= left + slack) & (starts + crop_w >= right - slack)
        # Most windows hold part of the number, the others background only.
        overlaps = tf.minimum(starts + crop_w, right) - tf.maximum(starts, left) >= slack
        partial = kind < PARTIAL
        candidates = ~holds & (overlaps | ~partial)
        candidates = tf.where(tf.reduce_any(candidates), candidates, ~holds)
        x = tf.random.categorical(tf.where(candidates, 0.0, -1e9)[None], 1, dtype=tf.int32,
                                  seed=seed)[0, 0]
        y = tf.cast(row * (height - crop_h + 1), tf.int32)
        return (tf.ensure_shape(strip[y:y + crop_h, x:x + crop_w],
                                [crop_h, crop_w, config.channels]),
                (tf.constant(0, tf.int32), tf.fill([config.max_length], NO_DIGIT)))

    return records.batch(2, drop_remainder=True).map(window,
                                                     num_parallel_calls=tf.data.AUTOTUNE)


def full_images(paths, limit: int | None = None) -> list[dict[str, np.ndarray]]:
    """Test examples at their original sizes: `image` `[H, W, C]` float32, `length`,
    `digits` `[5]` and `box`, in file order. The files are checked first (corruption, their
    manifest, at least one record)."""
    files = tfrecords.list_files(paths)
    tfrecords.checked_count(files)
    records = tf.data.TFRecordDataset(files).map(tfrecords.parse_sequence)
    if limit:
        records = records.take(limit)
    return list(records.as_numpy_iterator())
