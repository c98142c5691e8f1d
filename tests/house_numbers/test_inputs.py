import dataclasses
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.data import tfrecords
from dcn_keras.house_numbers import inputs


@pytest.fixture
def records(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "seq.tfrecord"
    tfrecords.write(path, [
        tfrecords.serialize_sequence(rng.integers(0, 256, (40 + 10 * i, 90 + 30 * i),
                                                  dtype=np.uint8), [i + 1] * (i + 1),
                                     (1, 2, 30, 80))
        for i in range(3)])
    return path


def test_training_crops_have_the_crop_size_and_targets(records):
    config = dataclasses.replace(presets.house_numbers(), cut_window_share=0.0)
    images, (length, digits) = next(iter(inputs.crops(records, config, 3, True)))
    assert images.shape == (3, 54, 110, 1)
    # Shuffled: the order depends on the global seed that earlier tests may have set.
    assert sorted(length.numpy().tolist()) == [1, 2, 3]
    two = length.numpy().tolist().index(2)
    assert digits.numpy()[two].tolist() == [2, 2, 10, 10, 10]
    first = next(iter(inputs.crops(records, config, 3, False)))[0].numpy()
    again = next(iter(inputs.crops(records, config, 3, False)))[0].numpy()
    np.testing.assert_array_equal(first, again)  # validation crops are central, fixed


def test_full_images_keep_their_sizes(records):
    examples = tfrecords.full_images(records)
    assert [e["image"].shape for e in examples] == [(40, 90, 1), (50, 120, 1), (60, 150, 1)]
    assert tfrecords.full_images(records, limit=2)[1]["length"] == 2


@pytest.fixture
def boxed(tmp_path):
    """Black crops of 48x96 with the number's box (rows 8-40, columns 20-60) solid white:
    a window's white columns are the part of the number it holds."""
    path = tmp_path / "boxed.tfrecord"
    image = np.zeros((48, 96), np.uint8)
    image[8:40, 20:60] = 255
    tfrecords.write(path, [tfrecords.serialize_sequence(image, [1, 2], (8, 20, 40, 60))
                           for _ in range(8)])
    return path


def test_cut_windows_never_hold_the_whole_number(boxed):
    config = presets.house_numbers()
    records = tf.data.TFRecordDataset(str(boxed)).repeat()
    # The box spans columns 20-60 of 96, so 53-160 of the 128 resized columns.
    number_width = (60 - 20) * 128 / 96
    held = []
    for image, (length, digits) in cut_windows_of(records, config, 200):
        assert image.shape == (54, 110, 1)
        assert length == 0 and digits.tolist() == [10] * 5
        # The second crop's number is blanked: all the ink is the first number's.
        held.append(int((image[..., 0].max(axis=0) > 0.5).sum()))
    held = np.array(held)
    assert held.max() <= (1 - inputs.CUT) * number_width + 2
    # Most windows hold part of the number, the others background only.
    assert 0.6 < (held >= inputs.CUT * number_width - 2).mean() < 0.95
    assert (held == 0).any()


def cut_windows_of(records, config, count):
    windows = inputs.cut_windows(records, config).take(count)
    return [(image, (int(length), digits)) for image, (length, digits)
            in windows.as_numpy_iterator()]


def test_training_batches_mix_in_cut_windows(boxed):
    config = presets.house_numbers()
    assert config.cut_window_share == 0.25
    data = inputs.crops(boxed, config, 4, True)
    # 3 whole-number crops and 1 cut window per batch: every crop once per epoch.
    assert data.cardinality() == 3
    batches = list(data.as_numpy_iterator())
    lengths = np.concatenate([length for _, (length, _) in batches])
    assert (lengths == 2).sum() == 8 and (lengths == 0).sum() == 3
    assert [images.shape[0] for images, _ in batches] == [4, 4, 3]
    # Validation stays whole numbers only.
    valid = inputs.crops(boxed, config, 4, False)
    assert all((length == 2).all() for _, (length, _) in valid.as_numpy_iterator())


REPLAY = """
import sys
import numpy as np
import tensorflow as tf
tf.config.experimental.enable_op_determinism()
from dcn_keras import presets
from dcn_keras.house_numbers import inputs

def second_epoch(read_first):
    data = inputs.crops(sys.argv[1], presets.house_numbers(), 8, True)
    # Keras makes an iterator as an epoch starts and one as it ends; a resumed run makes
    # both without reading (`training._replay_epochs`).
    if read_first:
        for _ in data:
            pass
    else:
        iter(data)
    iter(data)
    return [images for images, _ in data.as_numpy_iterator()]

read, replayed = second_epoch(True), second_epoch(False)
same = all(np.array_equal(a, b) for a, b in zip(read, replayed, strict=True))
print("same" if same else "differ")
"""


def test_a_resumed_run_sees_the_batches_of_an_uninterrupted_one(tmp_path):
    """`training._replay_epochs` makes an epoch's iterators without reading them; the next
    epoch must then hold the batches it holds after a read epoch, cut windows included:
    48 distinct crops in batches of 6 and 2 cut windows, so the cut windows read about
    one pass of their shuffle per epoch, and read-ahead starts the next."""
    rng = np.random.default_rng(0)
    records = tmp_path / "noise.tfrecord"
    tfrecords.write(records, [tfrecords.serialize_sequence(
        rng.integers(0, 256, (48, 96), dtype=np.uint8), [i % 10], (8, 20, 40, 60))
        for i in range(48)])
    script = tmp_path / "replay.py"
    script.write_text(REPLAY)
    done = subprocess.run([sys.executable, str(script), str(records)], capture_output=True,
                          text=True, timeout=600, cwd=pathlib.Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "same"
