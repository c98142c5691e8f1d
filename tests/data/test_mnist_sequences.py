import json

import numpy as np
import pytest

from dcn_keras import cli
from dcn_keras.data import mnist, mnist_sequences, tfrecords


@pytest.fixture(scope="module")
def pools(mnist_dir):
    return mnist.digit_pools(mnist.load(mnist_dir))


def test_training_images_are_tight_crops(pools):
    for index in range(20):
        example = mnist_sequences.make_example(pools["train"], "train", 0, index)
        top, left, bottom, right = example.box
        height, width = example.image.shape
        assert 1 <= len(example.digits) <= 5 and all(0 <= d <= 9 for d in example.digits)
        # The same margin above and below; at least as much left and right, and widened
        # to the 1:2 aspect of the training size where the sequence is shorter.
        assert top == height - bottom and left >= top and width - right >= top
        assert 0.1 * (bottom - top) - 1 <= top <= 0.25 * (bottom - top) + 1
        assert width >= 2 * height
        if width > 2 * height:
            assert left == width - right == top
        assert example.image[top:bottom, left:right].sum() == example.image.sum()


def test_test_images_are_large_cluttered_canvases(pools):
    sizes, inside = [], []
    for index in range(20):
        example = mnist_sequences.make_example(pools["test"], "test", 0, index)
        height, width = example.image.shape
        top, left, bottom, right = example.box
        assert 100 <= height <= 450 and width <= 1100
        assert 0 <= top < bottom <= height and 0 <= left < right <= width
        sizes.append(height * width)
        inside.append(example.image[top:bottom, left:right].sum() / example.image.sum())
    assert max(sizes) > 4 * min(sizes)  # sizes vary like SVHN test images
    assert 0.2 < np.median(inside) < 0.95  # the sequence is there, and so is clutter


def test_examples_are_deterministic_per_index(pools):
    a = mnist_sequences.make_example(pools["test"], "test", 3, 5)
    b = mnist_sequences.make_example(pools["test"], "test", 3, 5)
    c = mnist_sequences.make_example(pools["test"], "test", 3, 6)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


def test_dcn_data_writes_variable_size_sequence_records(tmp_path, mnist_dir, capsys):
    assert cli.main(["data", "--dataset", "mnist_house_numbers", "--out", str(tmp_path),
                     "--mnist-dir", str(mnist_dir), "--train", "6", "--valid", "2",
                     "--test", "3"]) == 0
    assert "MNIST house numbers" in capsys.readouterr().out
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["splits"]["test"]["kind"] == "large cluttered canvases"
    import tensorflow as tf

    records = [tfrecords.parse_sequence(r) for r in
               tf.data.TFRecordDataset(str(tmp_path / "test.tfrecord"))]
    assert len(records) == 3
    for record in records:
        length = int(record["length"])
        digits = record["digits"].numpy()
        assert 1 <= length <= 5 and (digits[length:] == 10).all() and (digits[:length] < 10).all()
        assert record["image"].shape[0] >= 100 and record["image"].dtype == tf.float32


def test_sequences_longer_than_five_are_refused():
    with pytest.raises(ValueError, match="1 to 5 digits"):
        tfrecords.serialize_sequence(np.zeros((4, 4), np.uint8), [1] * 6, (0, 0, 1, 1))
