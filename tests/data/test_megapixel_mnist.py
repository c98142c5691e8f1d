import json

import numpy as np
import pytest

from dcn_keras.data import megapixel_mnist, mnist

SIDE = 200
DIGIT = megapixel_mnist.DIGIT
SIZES = {"train": 2, "valid": 1, "test": 3}


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return mnist.load_idx_dir(mnist_dir)


@pytest.fixture(scope="module")
def pools(digits):
    return mnist.digit_pools(digits)


@pytest.fixture(scope="module")
def examples(pools):
    return [megapixel_mnist.make_example(pools["train"], "train", 0, index, SIDE)
            for index in range(8)]


@pytest.fixture(scope="module")
def built(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("megapixel") / "data"
    metadata = megapixel_mnist.build(out, mnist_dir, SIZES, seed=2, side=SIDE, progress=False)
    return out, metadata


def test_three_digits_of_the_label_and_two_of_other_classes(examples, pools):
    labels = set()
    for example in examples:
        labels.add(example.label)
        assert 0 <= example.label <= 9
        assert list(example.digits[:3]) == [example.label] * 3
        assert np.all(example.digits[3:] != example.label)
        assert np.all((example.digits >= 0) & (example.digits <= 9))
        np.testing.assert_array_equal(pools["train"].labels[example.digit_indices],
                                      example.digits)
    assert len(labels) > 1


def test_digit_boxes_lie_inside_and_apart(pools):
    for index in range(30):
        example = megapixel_mnist.make_example(pools["valid"], "valid", 1, index,
                                               megapixel_mnist.min_side())
        boxes = example.boxes
        assert boxes.shape == (5, 4)
        np.testing.assert_array_equal(boxes[:, 2:] - boxes[:, :2], DIGIT)
        assert boxes.min() >= 0 and boxes.max() <= megapixel_mnist.min_side()
        for i in range(5):
            for j in range(i):
                apart = np.abs(boxes[i, :2] - boxes[j, :2]) >= DIGIT
                assert apart.any(), (index, boxes)


def test_canvas_is_exactly_fifty_noise_patches_and_five_digits(examples, pools):
    bank = megapixel_mnist.noise_bank()
    for example in examples:
        assert example.image.shape == (SIDE, SIDE) and example.image.dtype == np.uint8
        assert example.noise_corners.shape == (50, 2) and example.noise_patterns.shape == (50,)
        assert example.noise_corners.min() >= DIGIT
        assert example.noise_corners.max() < SIDE - DIGIT
        canvas = np.zeros((SIDE, SIDE), np.uint8)
        pieces = [*zip(bank[example.noise_patterns], example.noise_corners),
                  *zip(pools["train"].images[example.digit_indices], example.boxes[:, :2])]
        for piece, (top, left) in pieces:
            window = canvas[top:top + DIGIT, left:left + DIGIT]
            window[...] = np.maximum(window, piece)
        np.testing.assert_array_equal(example.image, canvas)


def test_digits_are_intact_under_the_noise(examples, pools):
    for example in examples:
        for (top, left, bottom, right), index in zip(example.boxes, example.digit_indices):
            assert np.all(example.image[top:bottom, left:right] >= pools["train"].images[index])


def test_noise_bank_is_fixed_lines():
    bank = megapixel_mnist.noise_bank()
    again = megapixel_mnist.noise_bank.__wrapped__()
    np.testing.assert_array_equal(bank, again)
    assert bank.shape == (50, 28, 28) and bank.dtype == np.uint8
    ink = bank[bank > 0]
    assert ink.min() >= 204 and ink.max() <= 255
    assert (bank > 0).sum((1, 2)).min() >= 28  # at least one full line each
    assert len({pattern.tobytes() for pattern in bank}) == 50


def test_same_seed_and_index_same_canvas_else_another(pools):
    def make(seed, index):
        return megapixel_mnist.make_example(pools["test"], "test", seed, index, SIDE).image

    np.testing.assert_array_equal(make(0, 3), make(0, 3))
    assert not np.array_equal(make(0, 3), make(0, 4))
    assert not np.array_equal(make(0, 3), make(1, 3))


def test_examples_do_not_depend_on_order(examples, pools):
    backwards = [megapixel_mnist.make_example(pools["train"], "train", 0, index, SIDE)
                 for index in reversed(range(len(examples)))][::-1]
    for forward, backward in zip(examples, backwards):
        np.testing.assert_array_equal(forward.image, backward.image)
        np.testing.assert_array_equal(forward.boxes, backward.boxes)


def test_sparse_records_read_back_dense(built, pools):
    out, metadata = built
    assert json.loads((out / "metadata.json").read_text()) == metadata
    assert {name: info["images"] for name, info in metadata["splits"].items()} == SIZES
    images, labels = next(iter(megapixel_mnist.dataset(out / "test.tfrecord", SIDE, 3)))
    assert images.shape == (3, SIDE, SIDE, 1) and images.dtype.name == "float32"
    for index in range(3):
        expected = megapixel_mnist.make_example(pools["test"], "test", 2, index, SIDE)
        np.testing.assert_allclose(images[index, ..., 0], expected.image / 255.0, atol=1e-7)
        assert labels[index] == expected.label


def test_records_keep_boxes_and_digits(built, pools):
    import tensorflow as tf

    out, _ = built
    record = next(iter(tf.data.TFRecordDataset(str(out / "train.tfrecord"))))
    parsed = megapixel_mnist.parse(record, SIDE)
    expected = megapixel_mnist.make_example(pools["train"], "train", 2, 0, SIDE)
    np.testing.assert_array_equal(parsed["boxes"], expected.boxes)
    np.testing.assert_array_equal(parsed["digits"], expected.digits)
    np.testing.assert_array_equal(parsed["digit_indices"], expected.digit_indices)


def test_splits_read_the_side_from_the_manifest(built):
    out, _ = built
    train, valid, test = megapixel_mnist.splits(out, 2)
    assert train.element_spec[0].shape.as_list() == [None, SIDE, SIDE, 1]
    assert test.cardinality() == 2 and valid.cardinality() == 1
    views = megapixel_mnist.splits(out, 2, view_scale=0.1)[2]
    assert views.element_spec[0].shape.as_list() == [None, 20, 20, 1]


def test_reading_another_side_fails_clearly(built):
    import tensorflow as tf

    out, _ = built
    with pytest.raises(tf.errors.InvalidArgumentError, match="built with another side"):
        next(iter(megapixel_mnist.dataset(out / "valid.tfrecord", SIDE + 10, 1)))


def test_view_is_the_downscaled_canvas(built):
    out, _ = built
    assert megapixel_mnist.view_size() == 180
    views, labels = next(iter(megapixel_mnist.view_dataset(out / "test.tfrecord", SIDE, 3)))
    assert views.shape == (3, 24, 24, 1) and labels.shape == (3,)
    full, _ = next(iter(megapixel_mnist.dataset(out / "test.tfrecord", SIDE, 3)))
    # Antialiased bilinear resizing averages: the ink's mean survives, its peaks do not.
    np.testing.assert_allclose(np.mean(views, (1, 2, 3)), np.mean(full, (1, 2, 3)), rtol=0.05)
    assert np.max(views) < np.max(full)


def test_pools_are_disjoint_mnist_ranges(digits, pools):
    everything = digits["test"].images
    for split, start, stop in (("train", 0, 7000), ("valid", 7000, 8000),
                               ("test", 8000, 10000)):
        for index in range(4):
            example = megapixel_mnist.make_example(pools[split], split, 0, index, SIDE)
            assert np.all(example.digit_indices < stop - start)
            for (top, left, bottom, right), digit in zip(example.boxes, example.digit_indices):
                assert np.all(example.image[top:bottom, left:right]
                              >= everything[start + digit])


def test_describe_names_pools_and_side(built):
    _, metadata = built
    line = megapixel_mnist.describe(metadata)
    assert f"{SIDE}x{SIDE}" in line
    assert "2 training canvases from MNIST test digits 0-6,999" in line
    assert "1 validation canvas from MNIST test digits 7,000-7,999" in line
    assert "3 test canvases from MNIST test digits 8,000-9,999" in line


def test_too_small_a_side_says_what_side_is_needed(pools, mnist_dir, tmp_path):
    assert megapixel_mnist.min_side() == 138
    with pytest.raises(ValueError, match="at least 138 pixels"):
        megapixel_mnist.make_example(pools["train"], "train", 0, 0, side=100)
    with pytest.raises(ValueError, match="at least 138 pixels"):
        megapixel_mnist.build(tmp_path / "small", mnist_dir, SIZES, side=137, progress=False)
    assert not (tmp_path / "small").exists()


def test_record_size_estimate_is_realistic(pools):
    sizes = [len(megapixel_mnist.serialize(
        megapixel_mnist.make_example(pools["train"], "train", 0, index, 600)))
        for index in range(4)]
    assert 0.8 < np.mean(sizes) / megapixel_mnist.record_bytes(600) < 1.2
