"""Input pipelines for multi-digit sequences (SVHN, MNIST house numbers): training crops
and original-size test images."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from dcn_keras.core.layers import receptive_field
from dcn_keras.data import tfrecords
from dcn_keras.multi_digit.config import MultiDigitConfig
from dcn_keras.multi_digit.sequences import NO_DIGIT


def crops(paths, config: MultiDigitConfig, batch_size: int, training: bool,
          seed: int = 0, context: tuple[int, int] = (0, 0)) -> tf.data.Dataset:
    """Batched `(images [b, P_h, P_w, C], (length [b], digits [b, 5]))` for the coarse and
    fine models: each image resized to `config.train_size`, then a random (training) or
    central (validation) crop of `config.crop_size`, as in the paper's appendix 6.2.

    In training, `config.cut_window_share` of each batch are instead windows that cut a
    number (`cut_windows`) and `config.wrong_size_share` windows that show one at a size no
    test scale should read it at (`wrong_size_windows`), both labelled length 0: "no whole
    number here". With `context` (rows, columns; multiples of the fine layers' stride),
    every other training batch holds windows with that much real surroundings on each side,
    `[b, P_h + 2 rows, P_w + 2 columns, C]` (`context_windows`), and cut windows with as
    much, but no wrong-size windows. An epoch has as many batches as without: half of them
    from the zero-padded crops, which so meet about half of the training crops per epoch,
    the other half from an independent shuffle of the crops in their surroundings."""
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
    kinds = [(cut_windows, round(batch_size * config.cut_window_share)),
             (wrong_size_windows, round(batch_size * config.wrong_size_share))]
    shuffled = records.shuffle(8192, seed=seed, reshuffle_each_iteration=True)
    whole = shuffled.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    batches = _with_windows(whole, records, config, batch_size, kinds, seed)
    if not any(context):
        return batches.prefetch(tf.data.AUTOTUNE)
    stride = tuple(receptive_field(config.fine_layers, axis)[1] for axis in (0, 1))
    if any(margin % step for margin, step in zip(context, stride)):
        raise ValueError(f"context {tuple(context)} must be multiples of the fine layers' "
                         f"stride {stride}, so that the crop's positions line up with the "
                         "positions of the crop alone; round it to such multiples.")
    # Their own shuffles and op seeds (from seed + 3 on), as `_with_windows` draws them.
    framed = context_windows(
        records.repeat().shuffle(8192, seed=seed + 4, reshuffle_each_iteration=True),
        config, context, seed + 3)
    framed = _with_windows(framed, records, config, batch_size,
                           [(functools.partial(cut_windows, context=context), kinds[0][1])],
                           seed + 5)
    steps = int(batches.cardinality())
    every_other = tf.data.Dataset.range(steps).map(lambda step: step % 2)
    return (tf.data.Dataset.choose_from_datasets([batches, framed], every_other)
            .apply(tf.data.experimental.assert_cardinality(steps))
            .prefetch(tf.data.AUTOTUNE))


def _with_windows(whole: tf.data.Dataset, records: tf.data.Dataset, config: MultiDigitConfig,
                  batch_size: int, kinds, seed: int) -> tf.data.Dataset:
    """Batches of `batch_size`: `whole` examples (as many batches as they fill) with, in
    each batch, `count` windows of each of `kinds` ((windows function, count) pairs) drawn
    from `records`.

    Each kind draws from its own shuffle and op seed: ops of one seed repeat each other's
    numbers. Shuffled after repeating: a resumed run replays the epochs before without
    reading them (`training._replay_epochs`), and a pass that read-ahead started early
    would otherwise draw an order the replay never draws."""
    counts = [count for _, count in kinds]
    if not any(counts):
        return whole.batch(batch_size)
    parts = [whole.batch(batch_size - sum(counts))]
    for offset, (windows, count) in enumerate(kinds, 1):
        if count:
            shuffled = records.repeat().shuffle(8192, seed=seed + offset,
                                                reshuffle_each_iteration=True)
            parts.append(windows(shuffled, config, seed + offset - 1).batch(count))
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


def context_windows(records: tf.data.Dataset, config: MultiDigitConfig,
                    context: tuple[int, int], seed: int = 0) -> tf.data.Dataset:
    """Training windows that hold a whole number, with `context` (rows, columns) of real
    surroundings on each side: `(image [P_h + 2 rows, P_w + 2 columns, C], (length,
    digits))`. The crop of `config.crop_size` inside lies where `crops` would cut it
    (uniformly within the resized training image); beyond that image, the surroundings are
    a second one's background, its number blanked out (`_surrounded`): a test photograph
    holds one number among clutter."""
    height, width = config.train_size
    crop_h, crop_w = config.crop_size

    def window(pair):
        example = tfrecords.parse_sequence(pair[0])
        number = tf.image.resize(example["image"], config.train_size, antialias=True)
        framed = _surrounded(number, _background(pair[1], config), context)
        start = tf.random.uniform([2], 0, 1, seed=seed) * [height - crop_h + 1,
                                                           width - crop_w + 1]
        y, x = tf.unstack(tf.cast(start, tf.int32))
        return (_window_at(framed, y, x, config, context),
                (example["length"], example["digits"]))

    return records.batch(2, drop_remainder=True).map(window,
                                                     num_parallel_calls=tf.data.AUTOTUNE)


def _window_at(canvas, y, x, config: MultiDigitConfig, context: tuple[int, int]):
    """The `config.crop_size` window of `canvas` whose crop starts at row `y`, column `x`,
    with `context` (rows, columns) more on each side, where `canvas` is framed by that
    much (`_surrounded`): `[P_h + 2 rows, P_w + 2 columns, C]`."""
    size = [crop + 2 * margin for crop, margin in zip(config.crop_size, context)]
    return tf.ensure_shape(canvas[y:y + size[0], x:x + size[1]], [*size, config.channels])


def _surrounded(canvas, background, context: tuple[int, int]):
    """`canvas` `[H, W, C]` in a frame `context` (rows, columns) wide cut from `background`
    `[h, w, C]` and its mirror images, tiled so that neighbouring tiles differ:
    `[H + 2 rows, W + 2 columns, C]`."""
    rows, columns = context
    band = tf.concat([background, tf.image.flip_left_right(background)], 1)
    tile = tf.concat([band, tf.image.flip_up_down(band)], 0)
    height = tf.shape(canvas)[0] + 2 * rows
    width = tf.shape(canvas)[1] + 2 * columns
    frame = tf.tile(tile, [height // tf.shape(tile)[0] + 1, width // tf.shape(tile)[1] + 1,
                           1])[:height, :width]
    paddings = [[rows, rows], [columns, columns], [0, 0]]
    inside = tf.pad(tf.ones_like(canvas, tf.bool), paddings)
    return tf.where(inside, tf.pad(canvas, paddings), frame)


def cut_windows(records: tf.data.Dataset, config: MultiDigitConfig,
                seed: int = 0, context: tuple[int, int] = (0, 0)) -> tf.data.Dataset:
    """Training windows that hold part of a number but not all of it, or only background,
    each labelled length 0 and no digits: `(image [P_h, P_w, C], (0, [10] * 5))`.

    A serialized crop is resized to `config.train_size` and set beside the background of a
    second one (its number blanked out), on a random side; the window is cut where it
    leaves out at least `CUT` of the number's width, and holds at least `CUT` of it in a
    `PARTIAL` share of windows. With `config.cut_rows` the crop lies in a random quadrant
    of a 2x2 canvas of that background (flipped, so its tiles differ), and a window may
    leave out `CUT` of the number's height or of its width, or both (`_cut_window_start`).

    Test-time windows slide over a whole photograph, and most of them cut the number or
    hold only background; a model trained on whole numbers alone reads such a window as a
    shorter number with confidence, which both the DCN's choice of patches and its
    inverse-entropy weighting take for evidence (docs/house_numbers.md). The surroundings
    come from real crops, so a cut is not told apart by padding; the second number is
    blanked because a test photograph holds one. With `context` (rows, columns) each window
    has that much more of its surroundings on each side (beyond the canvas: the background
    tiled, `_surrounded`), as `context_windows` have.
    """
    height, width = config.train_size

    def window(pair):
        number, box = _resized(pair[0], config)
        background = _background(pair[1], config)
        # One draw for every choice: ops of one seed repeat each other's numbers.
        side, below, kind = tf.unstack(tf.random.uniform([3], seed=seed))
        first = side < 0.5
        strip = tf.where(first, tf.concat([number, background], 1),
                         tf.concat([background, number], 1))
        box = box + tf.where(first, 0.0, float(width)) * tf.constant([0.0, 1.0, 0.0, 1.0])
        if config.cut_rows:
            flipped = tf.image.flip_up_down(background)
            others = tf.concat([flipped, tf.image.flip_left_right(flipped)], 1)
            upper = below < 0.5
            strip = tf.where(upper, tf.concat([strip, others], 0),
                             tf.concat([others, strip], 0))
            box = box + tf.where(upper, 0.0, float(height)) * tf.constant([1.0, 0.0, 1.0, 0.0])
        y, x = _cut_window_start(strip, box, config, kind < PARTIAL, seed)
        if any(context):
            strip = _surrounded(strip, tf.image.flip_left_right(background), context)
        return _window_at(strip, y, x, config, context), _no_whole_number(config)

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


# Digit sizes, relative to a training crop's, that no test scale should read: at its
# nearest scale a test digit misses the training heights by under 10%, clear of these
# ranges, while scales 0.5 and 1 show each other's digits at half and twice the size,
# inside them (docs/house_numbers.md).
SHRINK = (0.45, 0.65)
ENLARGE = (1.55, 2.2)


def wrong_size_windows(records: tf.data.Dataset, config: MultiDigitConfig,
                       seed: int = 0) -> tf.data.Dataset:
    """Training windows that show a number at a size far from the training size, each
    labelled length 0 and no digits: `(image [P_h, P_w, C], (0, [10] * 5))`.

    A serialized crop is resized to `config.train_size`, then by a factor drawn
    log-uniformly from `SHRINK` or, for the other half, from `ENLARGE`. A shrunk crop lies
    at a random place on a window of a second crop's background (its number blanked out);
    an enlarged one is cut around a random point of its number's box, so the window holds
    part of the number at 1.55-2.2 times its size. A test image is read at every scale,
    and at the scales that do not fit its digits a model trained at one digit size reads
    them with confidence, outvoting the scale that fits; these windows teach it to be
    unsure there.
    """
    height, width = config.train_size
    crop_h, crop_w = config.crop_size
    crop = tf.constant([crop_h, crop_w])
    shrink, enlarge = (tf.math.log(tf.constant(bounds, tf.float32)) for bounds in (SHRINK,
                                                                                  ENLARGE))

    def shrunk(number, background, factor, where):
        size = tf.cast(tf.round(tf.constant(config.train_size, tf.float32) * factor), tf.int32)
        small = tf.image.resize(number, size, antialias=True)
        y0, x0, y1, x1 = tf.unstack(where)
        top = tf.cast(y0 * tf.cast(height - crop_h + 1, tf.float32), tf.int32)
        left = tf.cast(x0 * tf.cast(width - crop_w + 1, tf.float32), tf.int32)
        window = background[top:top + crop_h, left:left + crop_w]
        room = tf.cast(crop - size, tf.float32) + 1
        offset = tf.cast(tf.stack([y1, x1]) * room, tf.int32)
        paddings = tf.stack([offset, crop - size - offset], axis=1)
        inside = tf.pad(tf.ones_like(small, tf.bool), tf.concat([paddings, [[0, 0]]], 0))
        return tf.where(inside, tf.pad(small, tf.concat([paddings, [[0, 0]]], 0)), window)

    def enlarged(number, box, factor, where):
        size = tf.cast(tf.round(tf.constant(config.train_size, tf.float32) * factor), tf.int32)
        big = tf.image.resize(number, size, antialias=True)
        centre = (box[:2] + tf.stack(where[:2]) * (box[2:] - box[:2])) * factor
        start = tf.cast(tf.round(centre), tf.int32) - crop // 2
        start = tf.clip_by_value(start, 0, size - crop)
        return big[start[0]:start[0] + crop_h, start[1]:start[1] + crop_w]

    def window(pair):
        number, box = _resized(pair[0], config)
        # One draw for every choice: ops of one seed repeat each other's numbers.
        kind, level, *where = tf.unstack(tf.random.uniform([6], seed=seed))
        bounds = tf.where(kind < 0.5, shrink, enlarge)
        factor = tf.exp(bounds[0] + level * (bounds[1] - bounds[0]))
        image = tf.cond(kind < 0.5,
                        lambda: shrunk(number, _background(pair[1], config), factor,
                                       tf.stack(where)),
                        lambda: enlarged(number, box, factor, where))
        return (tf.ensure_shape(image, [crop_h, crop_w, config.channels]),
                _no_whole_number(config))

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
