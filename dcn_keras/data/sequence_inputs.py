"""Input pipelines for multi-digit sequences (SVHN, MNIST house numbers): training crops
and original-size test images."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dcn_keras.data import tfrecords
from dcn_keras.multi_digit.config import MultiDigitConfig


def crops(paths, config: MultiDigitConfig, batch_size: int, training: bool,
          seed: int = 0) -> tf.data.Dataset:
    """Batched `(images [b, P_h, P_w, C], (length [b], digits [b, 5]))` for the coarse and
    fine models: each image resized to `config.train_size`, then a random (training) or
    central (validation) crop of `config.crop_size`, as in the paper's appendix 6.2."""
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
    return (records.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))


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
