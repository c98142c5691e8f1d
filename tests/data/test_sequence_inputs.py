import dataclasses
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.data import sequence_inputs, tfrecords


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
    config = dataclasses.replace(presets.svhn(), cut_window_share=0.0)
    images, (length, digits) = next(iter(sequence_inputs.crops(records, config, 3, True)))
    assert images.shape == (3, 54, 110, 1)
    # Shuffled: the order depends on the global seed that earlier tests may have set.
    assert sorted(length.numpy().tolist()) == [1, 2, 3]
    two = length.numpy().tolist().index(2)
    assert digits.numpy()[two].tolist() == [2, 2, 10, 10, 10]
    first = next(iter(sequence_inputs.crops(records, config, 3, False)))[0].numpy()
    again = next(iter(sequence_inputs.crops(records, config, 3, False)))[0].numpy()
    np.testing.assert_array_equal(first, again)  # validation crops are central, fixed


def test_full_images_keep_their_sizes(records):
    examples = sequence_inputs.full_images(records)
    assert [e["image"].shape for e in examples] == [(40, 90, 1), (50, 120, 1), (60, 150, 1)]
    assert sequence_inputs.full_images(records, limit=2)[1]["length"] == 2


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
    config = presets.svhn()
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
    assert held.max() <= (1 - sequence_inputs.CUT) * number_width + 2
    # Most windows hold part of the number, the others background only.
    assert 0.6 < (held >= sequence_inputs.CUT * number_width - 2).mean() < 0.95
    assert (held == 0).any()


def test_cut_windows_with_rows_cut_the_number_above_below_or_beside(boxed):
    config = dataclasses.replace(presets.svhn(), cut_rows=True)
    records = tf.data.TFRecordDataset(str(boxed)).repeat()
    # The box spans rows 8-40 of 48 and columns 20-60 of 96: 10.7-53.3 of the 64 resized
    # rows, 26.7-80 of the 128 resized columns.
    number_height, number_width = (40 - 8) * 64 / 48, (60 - 20) * 128 / 96
    rows, columns = [], []
    for image, (length, digits) in cut_windows_of(records, config, 300):
        assert image.shape == (54, 110, 1)
        assert length == 0 and digits.tolist() == [10] * 5
        ink = image[..., 0] > 0.5
        rows.append(int(ink.any(axis=1).sum()))
        columns.append(int(ink.any(axis=0).sum()))
    rows, columns = np.array(rows), np.array(columns)
    cut_rows = rows <= (1 - sequence_inputs.CUT) * number_height + 2
    cut_columns = columns <= (1 - sequence_inputs.CUT) * number_width + 2
    # No window holds the whole number; windows cut its rows, its columns, or both.
    assert (cut_rows | cut_columns).all()
    all_rows, all_columns = rows >= number_height - 2, columns >= number_width - 2
    for cut in (cut_rows & all_columns, cut_columns & all_rows,
                cut_rows & cut_columns & (rows > 0)):
        assert cut.mean() > 0.05
    assert (rows == 0).any()


def cut_windows_of(records, config, count):
    windows = sequence_inputs.cut_windows(records, config).take(count)
    return [(image, (int(length), digits)) for image, (length, digits)
            in windows.as_numpy_iterator()]


def test_training_batches_mix_in_cut_windows(boxed):
    config = presets.svhn()
    assert config.cut_window_share == 0.25
    data = sequence_inputs.crops(boxed, config, 4, True)
    # 3 whole-number crops and 1 cut window per batch: every crop once per epoch.
    assert data.cardinality() == 3
    batches = list(data.as_numpy_iterator())
    lengths = np.concatenate([length for _, (length, _) in batches])
    assert (lengths == 2).sum() == 8 and (lengths == 0).sum() == 3
    assert [images.shape[0] for images, _ in batches] == [4, 4, 3]
    # Validation stays whole numbers only.
    valid = sequence_inputs.crops(boxed, config, 4, False)
    assert all((length == 2).all() for _, (length, _) in valid.as_numpy_iterator())


def test_wrong_size_windows_show_the_number_at_half_or_twice_its_size(boxed):
    config = presets.svhn()
    records = tf.data.TFRecordDataset(str(boxed)).repeat()
    # Resized to 64x128, the box is 42.7 rows by 53.3 columns.
    number_h, number_w = (40 - 8) * 64 / 48, (60 - 20) * 128 / 96
    (shrink_low, shrink_high), enlarge_low = sequence_inputs.SHRINK, sequence_inputs.ENLARGE[0]
    kinds = []
    windows = sequence_inputs.wrong_size_windows(records, config).take(200)
    for image, (length, digits) in windows.as_numpy_iterator():
        assert image.shape == (54, 110, 1)
        assert length == 0 and digits.tolist() == [10] * 5
        ink = image[..., 0] > 0.5
        rows, columns = ink.any(axis=1).sum(), ink.any(axis=0).sum()
        if columns < 54:
            # Shrunk: the whole number inside the window, at its shrunk size.
            assert shrink_low * number_w - 2 <= columns <= shrink_high * number_w + 2
            assert shrink_low * number_h - 2 <= rows <= shrink_high * number_h + 2
            kinds.append("shrunk")
        else:
            # Enlarged: part of the number, wider than the window's half.
            assert columns >= min(110, enlarge_low * number_w) // 2
            assert rows >= 27
            kinds.append("enlarged")
    assert 0.35 < kinds.count("shrunk") / len(kinds) < 0.65


def test_training_batches_mix_in_wrong_size_windows(boxed):
    config = dataclasses.replace(presets.svhn(), wrong_size_share=0.25)
    data = sequence_inputs.crops(boxed, config, 4, True)
    # 2 whole-number crops, 1 cut and 1 wrong-size window per batch.
    assert data.cardinality() == 4
    batches = list(data.as_numpy_iterator())
    assert all(images.shape == (4, 54, 110, 1) for images, _ in batches)
    lengths = np.concatenate([length for _, (length, _) in batches])
    assert (lengths == 2).sum() == 8 and (lengths == 0).sum() == 8
    # Most windows hold ink: wrong-size ones always do, cut ones in most draws.
    images = np.concatenate([images for images, _ in batches])[lengths == 0]
    assert ((images[..., 0] > 0.5).any(axis=(1, 2))).sum() >= 4


def grey_records(path, count: int = 8):
    """`count` grey (100) crops of 48x96 with the number's box (rows 8-40, columns 20-60)
    white, written to `path`."""
    image = np.full((48, 96), 100, np.uint8)
    image[8:40, 20:60] = 255
    tfrecords.write(path, [tfrecords.serialize_sequence(image, [1, 2], (8, 20, 40, 60))
                           for _ in range(count)])
    return path


@pytest.fixture
def grey(tmp_path):
    return grey_records(tmp_path / "grey.tfrecord")


def test_context_windows_hold_the_whole_number_inside_real_surroundings(grey):
    config = presets.svhn()
    records = tf.data.TFRecordDataset(str(grey)).repeat()
    windows = sequence_inputs.context_windows(records, config, (16, 32)).take(50)
    # Resized to 64x128, the box is 42.7 rows by 53.3 columns.
    number_h, number_w = (40 - 8) * 64 / 48, (60 - 20) * 128 / 96
    for image, (length, digits) in windows.as_numpy_iterator():
        assert image.shape == (86, 174, 1)
        assert length == 2 and digits.tolist() == [1, 2, 10, 10, 10]
        ink = image[..., 0] > 0.9
        rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        # One number, whole, inside the central 54x110 crop.
        assert abs(len(rows) - number_h) <= 2 and abs(len(columns) - number_w) <= 2
        assert rows[0] >= 16 and rows[-1] < 16 + 54
        assert columns[0] >= 32 and columns[-1] < 32 + 110
        # Around the crop: grey background, not zero padding (the second crop's number is
        # blanked, so part of it may be black).
        frame = np.ones((86, 174), bool)
        frame[16:70, 32:142] = False
        grey_share = (np.abs(image[..., 0][frame] - 100 / 255) < 0.05).mean()
        assert grey_share > 0.5


def test_training_batches_with_context_alternate_with_zero_padded_ones(grey):
    config = presets.svhn()
    data = sequence_inputs.crops(grey, config, 4, True, context=(16, 32))
    plain = sequence_inputs.crops(grey, config, 4, True)
    assert data.cardinality() == plain.cardinality() == 3  # 8 crops, 3 per batch
    batches = list(data.as_numpy_iterator())
    # Steps 1 and 3 take the zero-padded stream's first two batches; its third is left out
    # of this epoch, and the next epoch shuffles anew.
    assert [images.shape for images, _ in batches] == [
        (4, 54, 110, 1), (4, 86, 174, 1), (4, 54, 110, 1)]
    # Each batch, with context or without, holds 1 cut window (length 0).
    assert [(length == 0).sum() for _, (length, _) in batches] == [1, 1, 1]
    framed, (length, _) = batches[1]
    cut = framed[length == 0][0, ..., 0]
    assert cut.shape == (86, 174) and (np.abs(cut - 100 / 255) < 0.05).mean() > 0.3

    with pytest.raises(ValueError, match="multiples of the fine layers' stride"):
        sequence_inputs.crops(grey, config, 4, True, context=(12, 32))


REPLAY = """
import sys
import numpy as np
import tensorflow as tf
tf.config.experimental.enable_op_determinism()
from dcn_keras import presets
from dcn_keras.data import sequence_inputs

def second_epoch(read_first):
    data = sequence_inputs.crops(sys.argv[1], presets.svhn(), 8, True, context=(16, 32))
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
    epoch must then hold the batches it holds after a read epoch, windows in surroundings
    included: 48 distinct crops in batches of 6 and 2 cut windows, so the windows in
    surroundings read about one pass of their shuffle per epoch, and read-ahead starts the
    next."""
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
