import numpy as np
import pytest

from dcn_keras.data import tfrecords


def _records(n):
    rng = np.random.default_rng(0)
    return [tfrecords.serialize(rng.integers(0, 256, (100, 100), dtype=np.uint8), i % 10,
                                (i, i, i + 28, i + 28)) for i in range(n)]


def test_round_trip_and_batches(tmp_path):
    path = tmp_path / "a.tfrecord"
    assert tfrecords.write(path, _records(10)) == 10
    data = tfrecords.read_all(path, (100, 100, 1))
    np.testing.assert_array_equal(data["label"], np.arange(10) % 10)
    np.testing.assert_array_equal(data["digit_box"][3], [3, 3, 31, 31])
    batches = list(tfrecords.dataset(path, (100, 100, 1), batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]


def test_corrupt_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "bad.tfrecord"
    tfrecords.write(path, _records(3))
    data = bytearray(path.read_bytes())
    data[40:60] = b"\x00" * 20
    path.write_bytes(bytes(data))
    with pytest.raises(tfrecords.DataError, match="corrupt TFRecord.*dcn data"):
        tfrecords.dataset(path, (100, 100, 1), 2)


def test_missing_file_says_how_to_build_it(tmp_path):
    with pytest.raises(tfrecords.DataError, match="dcn data"):
        tfrecords.count_records(tmp_path / "train.tfrecord")


def test_data_for_another_image_shape_is_rejected(tmp_path):
    import tensorflow as tf

    path = tmp_path / "a.tfrecord"
    tfrecords.write(path, _records(2))
    with pytest.raises(tf.errors.InvalidArgumentError, match="another preset"):
        tfrecords.read_all(path, (64, 64, 1))


def test_dataset_refuses_another_image_shape_before_the_first_batch(tmp_path):
    path = tmp_path / "a.tfrecord"
    tfrecords.write(path, _records(2))
    with pytest.raises(tfrecords.DataError, match=r"holds \[.*\] images, but the preset reads "
                                                  r"\[64, 64, 1\]"):
        tfrecords.dataset(path, (64, 64, 1), batch_size=2)


def test_records_without_digit_indices_give_none(tmp_path):
    path = tmp_path / "a.tfrecord"
    tfrecords.write(path, _records(2))
    assert tfrecords.digit_indices(path) is None
    assert list(tfrecords.read_all(path, (100, 100, 1))["digit_index"]) == [-1, -1]


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.tfrecord"
    tfrecords.write(path, _records(2))
    before = path.read_bytes()

    def broken():
        yield _records(1)[0]
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        tfrecords.write(path, broken())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tfrecord"]
