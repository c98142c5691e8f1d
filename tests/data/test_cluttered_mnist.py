import json
import shutil

import numpy as np
import pytest

from dcn_keras.data import cluttered_mnist, mnist, tfrecords


@pytest.fixture(scope="module")
def pools(mnist_dir):
    return mnist.digit_pools(mnist.load_idx_dir(mnist_dir))


def test_same_seed_same_images_other_seed_other_images(pools):
    a = [e.image for e in cluttered_mnist.generate(pools["test"], 20, seed=3, split="test")]
    b = [e.image for e in cluttered_mnist.generate(pools["test"], 20, seed=3, split="test")]
    c = [e.image for e in cluttered_mnist.generate(pools["test"], 20, seed=4, split="test")]
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    assert not np.array_equal(np.stack(a), np.stack(c))


def test_example_is_independent_of_order(pools):
    """Example i is the same whether made alone or in sequence (parallel workers can split)."""
    sequence = list(cluttered_mnist.generate(pools["train"], 12, seed=1, split="train"))
    order = cluttered_mnist.digit_order(len(pools["train"]), 1, "train")
    alone = cluttered_mnist.make_example(pools["train"], order[11],
                                         cluttered_mnist.example_rng(1, "train", 11))
    np.testing.assert_array_equal(alone.image, sequence[11].image)


def test_generator_statistics(pools):
    pool = pools["valid"]
    examples = list(cluttered_mnist.generate(pool, 1000, seed=0, split="valid"))
    images = np.stack([e.image for e in examples])
    boxes = np.array([e.digit_box for e in examples])
    assert images.shape == (1000, 100, 100) and images.dtype == np.uint8
    # Digit positions uniform over [0, 72]^2, inclusive.
    assert boxes[:, :2].min() == 0 and boxes[:, :2].max() == 72
    assert abs(boxes[:, :2].mean() - 36) < 2.0
    np.testing.assert_array_equal(boxes[:, 2:] - boxes[:, :2], 28)
    for example in examples[:50]:
        top, left, bottom, right = example.digit_box
        digit = pool.images[example.digit_index]
        assert example.label == pool.labels[example.digit_index]
        # The digit was added and clipped: its pixels are all at least the digit's.
        assert np.all(example.image[top:bottom, left:right] >= digit)
        outside = example.image.copy()
        outside[top:bottom, left:right] = 0
        assert outside.sum() > 0  # clutter outside the digit
    # Each image shows clutter: 8 crops of 8x8 add far more ink than the digit alone.
    ink_total = images.astype(np.int64).sum((1, 2)).mean()
    ink_digits = pool.images.astype(np.int64).sum((1, 2)).mean()
    assert 1.3 * ink_digits < ink_total < 2.5 * ink_digits
    # Every pool digit is used before any repeats.
    indices = [e.digit_index for e in examples]
    assert len(set(indices)) == len(pool) == 1000


def test_build_writes_tfrecords_and_names_pools(mnist_dir, tmp_path):
    metadata = cluttered_mnist.build(tmp_path, mnist_dir, {"train": 40, "valid": 10, "test": 10},
                                     seed=0, progress=False)
    assert metadata["splits"]["test"]["digit_pool"].endswith("[8000:10000] (test pool)")
    data = tfrecords.read_all(tmp_path / "test.tfrecord", (100, 100, 1))
    assert data["image"].shape == (10, 100, 100, 1)
    assert data["image"].dtype == np.float32
    assert 0 <= data["image"].min() <= data["image"].max() <= 1
    expected = list(cluttered_mnist.generate(
        mnist.digit_pools(mnist.load_idx_dir(mnist_dir))["test"], 10, seed=0, split="test"))
    np.testing.assert_array_equal(data["label"], [e.label for e in expected])
    np.testing.assert_allclose(data["image"][0, ..., 0], expected[0].image / 255.0, atol=1e-7)
    # Each canvas records its digit, so errors can be clustered by digit.
    np.testing.assert_array_equal(data["digit_index"], [e.digit_index for e in expected])
    np.testing.assert_array_equal(tfrecords.digit_indices(tmp_path / "test.tfrecord"),
                                  [e.digit_index for e in expected])
    assert "cluttered_mnist" in cluttered_mnist.describe(metadata).lower().replace(" ", "_")


@pytest.fixture(scope="module")
def fresh_dir(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("fresh")
    cluttered_mnist.build(out, mnist_dir, {"train": 20, "valid": 4, "test": 4}, seed=0,
                          progress=False)
    return out


def _passes(dataset, count):
    return [np.concatenate([images.numpy() for images, _ in dataset]) for _ in range(count)]


def test_build_keeps_the_training_digits_for_fresh_canvases(fresh_dir, mnist_dir):
    metadata = json.loads((fresh_dir / "metadata.json").read_text())
    digits = metadata["splits"]["train_digits"]
    assert digits["images"] == 7000 and digits["digit_pool"].endswith("(train pool)")
    stored = tfrecords.read_all(fresh_dir / "train_digits.tfrecord", (28, 28, 1))
    pool = mnist.digit_pools(mnist.load_idx_dir(mnist_dir))["train"]
    np.testing.assert_array_equal(np.rint(stored["image"][..., 0] * 255), pool.images)
    np.testing.assert_array_equal(stored["label"], pool.labels)


def test_fresh_canvases_are_new_every_pass_and_replayable(fresh_dir):
    dataset = cluttered_mnist.fresh_canvases(fresh_dir, 8, seed=1)
    assert int(dataset.cardinality()) == 3  # the 20 canvases of the training split
    passes = _passes(dataset, 3)
    assert passes[0].shape == (20, 100, 100, 1) and passes[0].dtype == np.float32
    assert passes[0].min() >= 0 and passes[0].max() <= 1
    assert not np.array_equal(passes[0], passes[1])
    # What `training.fit` relies on to resume: a new dataset whose iterators were made as
    # many times as the finished epochs made them reads the next pass's canvases.
    again = cluttered_mnist.fresh_canvases(fresh_dir, 8, seed=1)
    iter(again), iter(again)
    np.testing.assert_array_equal(_passes(again, 1)[0], passes[2])
    other = _passes(cluttered_mnist.fresh_canvases(fresh_dir, 8, seed=2), 1)[0]
    assert not np.array_equal(other, passes[0])


def test_fresh_canvases_hold_their_labelled_digit(fresh_dir):
    stored = tfrecords.read_all(fresh_dir / "train_digits.tfrecord", (28, 28, 1))
    digits = np.rint(stored["image"][..., 0] * 255).astype(np.uint8)
    for images, labels in cluttered_mnist.fresh_canvases(fresh_dir, 10, seed=0).take(1):
        for image, label in zip(np.rint(images.numpy()[..., 0] * 255), labels.numpy()):
            # Some training digit of that label lies whole (clutter only adds ink) in it.
            windows = np.lib.stride_tricks.sliding_window_view(image, (28, 28))
            assert any(np.all(windows >= digit, axis=(2, 3)).any()
                       for digit in digits[stored["label"] == label])


def test_fresh_canvases_of_a_directory_without_training_digits_say_how_to_rebuild(
        fresh_dir, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(fresh_dir, old)
    (old / "train_digits.tfrecord").unlink()
    with pytest.raises(tfrecords.DataError, match="--no-fresh-canvases"):
        cluttered_mnist.fresh_canvases(old, 8)
