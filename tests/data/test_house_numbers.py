import json
import pathlib

import numpy as np
import pytest

from dcn_keras import presets
from dcn_keras.data import house_numbers, mnist, tfrecords
from dcn_keras.house_numbers.config import RECIPES
from dcn_keras_cli import cli
from tests.helpers import load_script

# The size statistics of the recorded test images, whose `scale_mismatch` these tests use.
SIZES = load_script(pathlib.Path(__file__).resolve().parents[2] / "reproduce" /
                    "house_numbers_data.py")


@pytest.fixture(scope="module")
def pools(mnist_dir):
    return mnist.digit_pools(mnist.load(mnist_dir))


def _sizes(pool, split, count):
    """(canvas heights, widths, number heights, digit heights) of the first `count` images."""
    rows = []
    for index in range(count):
        example = house_numbers.make_example(pool, split, 0, index)
        top, _, bottom, _ = example.box
        rows.append((*example.image.shape, bottom - top,
                     house_numbers.digit_height(example.box)))
    return tuple(np.array(column, float) for column in zip(*rows))


def _ink_outside_box(example):
    top, left, bottom, right = example.box
    outside = np.ones(example.image.shape, bool)
    outside[top:bottom, left:right] = False
    return float((example.image[outside] > 0).mean())


def test_training_images_are_crops_around_the_digits_with_clutter(pools):
    outside = []
    for index in range(60):
        example = house_numbers.make_example(pools["train"], "train", 0, index)
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
        # The box holds the whole sequence: clutter only adds ink to it.
        rng = house_numbers.example_rng(0, "train", index)
        strip, digits = house_numbers.render_sequence(
            pools["train"], rng, house_numbers.svhn_length(rng, "train"))
        assert digits == example.digits and strip.shape == (bottom - top, right - left)
        assert (example.image[top:bottom, left:right] >= strip).all()
        outside.append(_ink_outside_box(example))
    # Fragments lie in the margins of most crops, at a coverage comparable to the test
    # canvases' (the same fragment area per pixel; the test fragments are resized, which
    # spreads their ink over more pixels).
    test = [_ink_outside_box(house_numbers.make_example(pools["test"], "test", 0, index))
            for index in range(60)]
    assert np.mean(np.array(outside) > 0) > 0.7
    assert 0.5 < np.mean(outside) / np.mean(test) < 2


def test_svhn_length_counts_add_up_to_the_official_digit_totals():
    # SVHN's own page: 73,257 training digits and 26,032 test digits; the paper: 33k
    # training and 13k test images (one training number of 6 digits is not counted here).
    for split, images, digits in (("train", 33402 - 1, 73257 - 6), ("test", 13068, 26032)):
        counts = house_numbers.SVHN_LENGTH_COUNTS[split]
        assert sum(counts) == images
        assert sum(n * count for n, count in enumerate(counts, start=1)) == digits


@pytest.mark.parametrize("split", ["train", "test"])
def test_numbers_are_as_long_as_svhn_numbers(pools, split):
    counts = np.asarray(house_numbers.SVHN_LENGTH_COUNTS["train" if split == "train"
                                                           else "test"], float)
    lengths = np.array([len(house_numbers.make_example(pools[split], split, 0, i).digits)
                        for i in range(1000)])
    shares = np.bincount(lengths, minlength=6)[1:] / len(lengths)
    # 1,000 draws: a share's standard error is at most 1.6 points.
    np.testing.assert_allclose(shares, counts / counts.sum(), atol=0.05)
    assert np.mean(lengths <= 3) > 0.9


def test_training_digit_height_is_what_the_generator_makes(pools):
    low, high = house_numbers.training_digit_heights(presets.house_numbers().train_size[0])
    assert (round(low, 2), round(high, 2)) == (37.33, 47.16)
    assert presets.house_numbers().train_size == house_numbers.TRAIN_SIZE
    resized = [house_numbers.DIGIT * 64 / house_numbers.make_example(
        pools["train"], "train", 0, index).image.shape[0] for index in range(100)]
    assert low - 1e-9 <= min(resized) and max(resized) <= high + 1e-9
    assert min(resized) < low + 1 and max(resized) > high - 1  # both ends occur


def test_the_paper_scales_cover_the_test_digit_heights():
    assert RECIPES["paper"].scales == house_numbers.PAPER_SCALES
    covered = house_numbers.covered_digit_heights()
    assert [tuple(round(v, 1) for v in band) for band in covered] == [
        (37.3, 47.2), (49.8, 62.9), (74.7, 94.3)]
    low, high = house_numbers.TEST_DIGIT_HEIGHT
    assert covered[0][0] <= low and high <= covered[-1][1]
    # Between the bands, the nearest scale misses the training heights by under 10%.
    heights = np.geomspace(low, high, 500)
    assert max(SIZES.scale_mismatch(h) for h in heights) < 0.1
    assert [house_numbers.nearest_scale(h) for h in (40, 56, 84)] == [1.0, 0.75, 0.5]


def test_test_images_resemble_svhn_and_sit_at_sizes_the_scales_read(pools):
    height, width, number, digit = _sizes(pools["test"], "test", 300)
    fraction = number / height
    # Most canvases are small crops around the number; a tail of large ones.
    assert height.max() <= 450 and width.max() <= 1100 and height.min() >= 50
    assert np.mean(height <= 200) > 0.65
    assert 0.04 < np.mean(height >= 250) < 0.2 and height.max() > 380
    assert np.median(width / height) > 1.3
    # The number spans 30-80% of a crop's height (10-43% of a large photograph's).
    assert fraction.max() <= 0.8 and fraction.min() >= 0.09
    assert np.mean(fraction >= 0.29) > 0.85 and np.median(fraction) > 0.4
    # Digit heights lie where the paper's scales bring them to the training height.
    low, high = house_numbers.TEST_DIGIT_HEIGHT
    assert low - 0.5 <= digit.min() and digit.max() <= high + 0.5
    mismatch = np.array([SIZES.scale_mismatch(d) for d in digit])
    assert mismatch.max() < 0.1 and np.mean(mismatch == 0) > 0.65
    nearest = [house_numbers.nearest_scale(d) for d in digit]
    assert all(0.2 < nearest.count(scale) / len(nearest) < 0.45
               for scale in house_numbers.PAPER_SCALES)
    # The sequence is there, and so is clutter.
    example = house_numbers.make_example(pools["test"], "test", 0, 0)
    assert _ink_outside_box(example) > 0


def test_test_large_is_the_first_versions_test_set(pools):
    # Examples 0 and 5 of test_large (stream [0, 2, index, 7]), as the generator has always
    # made them: recorded figures on this split stay comparable.
    for index, shape, box, digits, ink in (
            (0, (333, 654), (214, 560, 319, 652), (7, 9), 1370406),
            (5, (334, 591), (0, 222, 100, 424), (9, 5, 1, 7), 1719362)):
        example = house_numbers.make_large_test_example(
            pools["test"], np.random.default_rng([0, 2, index, 7]))
        assert (example.image.shape, example.box, example.digits) == (shape, box, digits)
        assert int(example.image.sum(dtype=np.int64)) == ink
    height, width, _, digit = _sizes(pools["test"], "test_large", 100)
    assert height.min() >= 100 and height.max() <= 450 and width.max() <= 1100
    assert max(height * width) > 4 * min(height * width)
    # Harder: a share of the numbers (16 of these 100) sit at sizes that no scale brings
    # within 10% of the training digit height (up to 29% off here).
    mismatch = np.array([SIZES.scale_mismatch(d) for d in digit])
    assert np.mean(mismatch > 0.1) > 0.1 and mismatch.max() > 0.15


def test_examples_are_deterministic_per_index(pools):
    # train / valid / test keep their streams; test_large has a stream of its own.
    assert house_numbers.SPLITS[:3] == ("train", "valid", "test")
    for split in house_numbers.SPLITS:
        pool = pools[house_numbers.POOLS[split]]
        a = house_numbers.make_example(pool, split, 3, 5)
        b = house_numbers.make_example(pool, split, 3, 5)
        c = house_numbers.make_example(pool, split, 3, 6)
        np.testing.assert_array_equal(a.image, b.image)
        assert a.box == b.box and a.digits == b.digits
        assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


def test_test_large_size_defaults_and_zero_leaves_it_out(tmp_path, mnist_dir):
    sizes = house_numbers.split_sizes
    assert sizes({"train": 5, "valid": 1, "test": 3})["test_large"] == 3
    assert sizes({"train": 5, "valid": 1, "test": 900})["test_large"] == 500
    assert sizes()["test_large"] == 500
    with pytest.raises(ValueError, match="test_large split needs 0 or more"):
        sizes({"train": 5, "valid": 1, "test": 3, "test_large": -1})
    metadata = house_numbers.build(tmp_path / "d", mnist_dir, {"train": 2, "valid": 1,
                                                                  "test": 1, "test_large": 0},
                                     progress=False)
    assert list(metadata["splits"]) == ["train", "valid", "test"]
    assert not (tmp_path / "d" / "test_large.tfrecord").exists()


def test_dcn_data_writes_variable_size_sequence_records(tmp_path, mnist_dir, capsys):
    assert cli.main(["data", "--dataset", "mnist_house_numbers", "--out", str(tmp_path),
                     "--mnist-dir", str(mnist_dir), "--train", "6", "--valid", "2",
                     "--test", "3"]) == 0
    assert "MNIST house numbers" in capsys.readouterr().out
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert {name: info["kind"] for name, info in metadata["splits"].items()} == {
        "train": "cluttered crops", "valid": "cluttered crops",
        "test": "SVHN-like cluttered canvases", "test_large": "large cluttered canvases"}
    import tensorflow as tf

    # test_large is written beside the others, as many images as test (up to 500).
    for split, smallest in (("test", 50), ("test_large", 100)):
        records = [tfrecords.parse_sequence(r) for r in
                   tf.data.TFRecordDataset(str(tmp_path / f"{split}.tfrecord"))]
        assert len(records) == 3 == metadata["splits"][split]["images"]
        for record in records:
            length = int(record["length"])
            digits = record["digits"].numpy()
            assert 1 <= length <= 5 and (digits[length:] == 10).all()
            assert (digits[:length] < 10).all()
            assert record["image"].shape[0] >= smallest and record["image"].dtype == tf.float32


def test_sequences_longer_than_five_are_refused():
    with pytest.raises(ValueError, match="1 to 5 digits"):
        tfrecords.serialize_sequence(np.zeros((4, 4), np.uint8), [1] * 6, (0, 0, 1, 1))
