"""A data directory is committed as a whole with a manifest, and readers check files against
it: stale, partial, truncated or empty data is refused, never trained on."""

import json
import os
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from dcn_keras import atomic
from dcn_keras.data import cluttered_mnist, house_numbers, manifest, tfrecords

SIZES = {"train": 12, "valid": 4, "test": 4}
SHAPE = (100, 100, 1)


@pytest.fixture
def data_dir(tmp_path, mnist_dir):
    """A small Cluttered MNIST directory made by `dcn data`'s builder."""
    out = tmp_path / "data"
    cluttered_mnist.build(out, mnist_dir, SIZES, progress=False)
    return out


def _record_ends(path) -> list[int]:
    """Byte offsets where each TFRecord record ends (length, crc, data, crc)."""
    data, ends, offset = path.read_bytes(), [], 0
    while offset < len(data):
        offset += 8 + 4 + int.from_bytes(data[offset:offset + 8], "little") + 4
        ends.append(offset)
    return ends


def _cut_on_a_record_boundary(path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:_record_ends(path)[keep - 1]])


def test_the_manifest_holds_counts_sizes_and_checksums(data_dir):
    metadata = json.loads((data_dir / "metadata.json").read_text())
    for split, count in SIZES.items():
        info = metadata["splits"][split]
        path = data_dir / info["file"]
        assert info["images"] == count == tfrecords.count_records(path)
        assert info["bytes"] == path.stat().st_size
        assert info["sha256"] == manifest.sha256(path)
    assert sorted(os.listdir(data_dir)) == ["metadata.json", "test.tfrecord", "train.tfrecord",
                                            "train_digits.tfrecord", "valid.tfrecord"]
    assert atomic.leftovers(data_dir) == []


def test_a_shard_cut_on_a_record_boundary_is_refused(data_dir):
    train = data_dir / "train.tfrecord"
    _cut_on_a_record_boundary(train, keep=6)
    # The cut file is a valid TFRecord file: only the manifest tells that half is missing.
    assert sum(1 for _ in __import__("tensorflow").data.TFRecordDataset(str(train))) == 6
    with pytest.raises(tfrecords.DataError, match=r"images 6 \(the manifest says 12\).*dcn data"):
        tfrecords.dataset(train, SHAPE, batch_size=4)


def test_a_shard_cut_short_against_a_recorded_count_fails_in_the_first_pass(tmp_path):
    """The pipeline passes the count recorded by its example generator instead."""
    import tensorflow as tf

    path = tmp_path / "data-00000-of-00001.tfrecord"
    tfrecords.write(path, (tfrecords.serialize(np.zeros((100, 100), np.uint8), 1, (0, 0, 1, 1))
                           for _ in range(10)))
    _cut_on_a_record_boundary(path, keep=5)
    batches = tfrecords.dataset(path, SHAPE, batch_size=4, count=10)
    with pytest.raises(tf.errors.FailedPreconditionError, match="expected to contain 10"):
        list(batches)


def test_a_file_replaced_with_the_same_count_is_refused_by_its_checksum(data_dir, tmp_path):
    # The same records with one pixel changed: the same count and size, other bytes.
    path = data_dir / "train.tfrecord"
    stored = tfrecords.read_all(path, SHAPE)
    images = np.rint(stored["image"][..., 0] * 255).astype(np.uint8)
    images[0, 0, 0] ^= 1
    other = tmp_path / "train.tfrecord"
    tfrecords.write(other, (tfrecords.serialize(*fields) for fields in zip(
        images, stored["label"], stored["digit_box"], stored["digit_index"], strict=True)))
    assert other.stat().st_size == path.stat().st_size
    os.replace(other, path)
    with pytest.raises(tfrecords.DataError, match="sha256"):
        tfrecords.count_records(data_dir / "train.tfrecord")


def test_a_stale_manifest_of_an_older_dcn_data_is_checked_for_its_counts(data_dir):
    """`dcn data` killed while writing `valid` leaves a new `train`
    beside the old `valid` and `test` and the old metadata.json (without checksums)."""
    metadata = json.loads((data_dir / "metadata.json").read_text())
    for info in metadata["splits"].values():
        del info["bytes"], info["sha256"]
    metadata["splits"]["train"]["images"] = 30  # the old train split had 30 images
    (data_dir / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(tfrecords.DataError, match=r"images 12 \(the manifest says 30\)"):
        tfrecords.dataset(data_dir / "train.tfrecord", SHAPE, batch_size=4)
    assert tfrecords.count_records(data_dir / "valid.tfrecord") == 4  # still matches


def test_a_file_the_manifest_does_not_list_is_refused(data_dir):
    """A manifest that lost a split's entry (here test's, with the file cut to half) would
    leave that split unchecked; a file added beside the manifest likewise."""
    metadata = json.loads((data_dir / "metadata.json").read_text())
    del metadata["splits"]["test"]
    (data_dir / "metadata.json").write_text(json.dumps(metadata))
    _cut_on_a_record_boundary(data_dir / "test.tfrecord", keep=2)
    unlisted = (r"test.tfrecord is not listed in metadata.json beside it \(which lists "
                r"train.tfrecord, train_digits.tfrecord, valid.tfrecord\).*dcn data")
    with pytest.raises(tfrecords.DataError, match=unlisted):
        tfrecords.dataset(data_dir / "test.tfrecord", SHAPE, batch_size=4)
    with pytest.raises(tfrecords.DataError, match=unlisted):
        tfrecords.count_records(str(data_dir / "*.tfrecord"))
    # The listed files, the training digits among them, are read as before.
    assert tfrecords.count_records(data_dir / "valid.tfrecord") == 4
    assert tfrecords.count_records(data_dir / "train_digits.tfrecord") == \
        metadata["splits"]["train_digits"]["images"]


def test_a_corrupt_manifest_is_named(data_dir):
    (data_dir / "metadata.json").write_text('{"splits": {"train": ')
    with pytest.raises(tfrecords.DataError, match="metadata.json is not valid JSON"):
        tfrecords.count_records(data_dir / "valid.tfrecord")
    (data_dir / "metadata.json").write_text("[]")
    with pytest.raises(tfrecords.DataError, match="has no `splits`"):
        manifest.load(data_dir)


def test_a_missing_data_directory_says_how_to_build_it(tmp_path):
    with pytest.raises(tfrecords.DataError, match="does not exist.*dcn data"):
        tfrecords.dataset(tmp_path / "nowhere" / "train.tfrecord", SHAPE, batch_size=4)
    with pytest.raises(tfrecords.DataError, match="not a finished data directory"):
        manifest.load(tmp_path)


def test_a_failed_build_keeps_the_old_directory_whole(data_dir, mnist_dir, monkeypatch):
    before = {p.name: p.read_bytes() for p in data_dir.iterdir()}
    real = cluttered_mnist.generate

    def killed_in_valid(pool, count, seed, split, progress=False):
        if split == "valid":
            raise KeyboardInterrupt("killed while writing valid")
        return real(pool, count, seed, split, progress)

    monkeypatch.setattr(cluttered_mnist, "generate", killed_in_valid)
    with pytest.raises(KeyboardInterrupt):
        cluttered_mnist.build(data_dir, mnist_dir, {"train": 5, "valid": 5, "test": 5},
                              progress=False)
    assert {p.name: p.read_bytes() for p in data_dir.iterdir()} == before
    assert atomic.leftovers(data_dir) == []


def test_a_rebuild_replaces_every_split_and_the_manifest_together(data_dir, mnist_dir):
    cluttered_mnist.build(data_dir, mnist_dir, {"train": 7, "valid": 3, "test": 2},
                          progress=False)
    metadata = manifest.load(data_dir)
    assert [metadata["splits"][s]["images"] for s in ("train", "valid", "test")] == [7, 3, 2]
    for split in ("train", "valid", "test"):
        tfrecords.count_records(data_dir / f"{split}.tfrecord")  # all verify


@pytest.mark.slow
def test_dcn_data_killed_with_sigkill_keeps_the_old_directory(data_dir, mnist_dir):
    """A real kill: no cleanup runs. The old directory stays whole and verified; the
    half-written one stays hidden beside it until the next build removes it."""
    old = manifest.load(data_dir)
    writer = subprocess.Popen(
        [sys.executable, "-m", "dcn_keras_cli.cli", "data", "--out", str(data_dir), "--mnist-dir",
         str(mnist_dir), "--train", "20", "--valid", "100000", "--test", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while not any((tmp / "train.tfrecord").exists() and list(tmp.glob(".valid.tmp-*"))
                      for tmp in atomic.leftovers(data_dir)):
            assert writer.poll() is None, "dcn data ended before it was killed"
            assert time.monotonic() < deadline, "dcn data never reached the valid split"
            time.sleep(0.2)
    finally:
        writer.kill()
        writer.wait()
    assert manifest.load(data_dir) == old
    for split, count in SIZES.items():
        assert tfrecords.count_records(data_dir / f"{split}.tfrecord") == count
    assert atomic.leftovers(data_dir)  # hidden: no glob of the parent or the data reads it
    # The splits and the training digits.
    assert tfrecords.list_files(str(data_dir.parent / "*" / "*.tfrecord")) == sorted(
        str(data_dir / info["file"]) for info in old["splits"].values())
    cluttered_mnist.build(data_dir, mnist_dir, {"train": 3, "valid": 2, "test": 2},
                          progress=False)
    assert atomic.leftovers(data_dir) == []
    assert manifest.load(data_dir)["splits"]["train"]["images"] == 3


def test_other_files_in_the_output_directory_are_never_deleted(tmp_path, mnist_dir):
    out = tmp_path / "experiment"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(tfrecords.DataError, match="notes.txt.*new or empty directory"):
        cluttered_mnist.build(out, mnist_dir, SIZES, progress=False)
    assert os.listdir(out) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(tfrecords.DataError, match="is a file"):
        cluttered_mnist.build(tmp_path / "file", mnist_dir, SIZES, progress=False)


def test_the_current_directory_is_never_replaced(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for out in (".", str(tmp_path), "/"):
        with pytest.raises(tfrecords.DataError, match="is the current directory or holds it"):
            cluttered_mnist.build(out, mnist_dir, SIZES, progress=False)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("sizes", [{"train": 0, "valid": 1, "test": 1},
                                   {"train": -5, "valid": 1, "test": 1},
                                   {"train": 2, "valid": 1}])
def test_empty_or_missing_splits_are_refused_before_writing(tmp_path, mnist_dir, sizes):
    with pytest.raises(ValueError, match="needs at least 1 image"):
        cluttered_mnist.build(tmp_path / "d", mnist_dir, sizes, progress=False)
    with pytest.raises(ValueError, match="needs at least 1 image"):
        house_numbers.build(tmp_path / "d", mnist_dir, sizes, progress=False)
    assert not (tmp_path / "d").exists()


def test_files_without_records_are_refused(tmp_path):
    empty = tmp_path / "empty.tfrecord"
    tfrecords.write(empty, [])
    for read in (lambda: tfrecords.dataset(empty, SHAPE, 4),
                 lambda: tfrecords.read_all(empty, SHAPE)):
        with pytest.raises(tfrecords.DataError, match="hold no records"):
            read()
    with pytest.raises(tfrecords.DataError, match="recorded count of records is 0"):
        tfrecords.dataset(empty, SHAPE, 4, count=0)


def test_temporary_files_of_a_killed_writer_are_skipped_or_refused(tmp_path):
    records = [tfrecords.serialize(np.zeros((100, 100), np.uint8), 1, (0, 0, 1, 1))] * 3
    tfrecords.write(tmp_path / "data-00000.tfrecord", records)
    # What atomic_path leaves when its writer is killed: a hidden, partial file.
    (tmp_path / ".data-00001.tmp-1a2b3c4d.tfrecord").write_bytes(
        (tmp_path / "data-00000.tfrecord").read_bytes()[:50])
    assert tfrecords.list_files(str(tmp_path / "*.tfrecord")) == [
        str(tmp_path / "data-00000.tfrecord")]
    assert tfrecords.count_records(str(tmp_path / "*.tfrecord")) == 3
    with pytest.raises(tfrecords.DataError, match="temporary file of a writer"):
        tfrecords.count_records(tmp_path / ".data-00001.tmp-1a2b3c4d.tfrecord")
    os.remove(tmp_path / "data-00000.tfrecord")
    with pytest.raises(tfrecords.DataError, match="hidden temporary files are skipped"):
        tfrecords.list_files(str(tmp_path / "*.tfrecord"))


def test_a_directory_given_as_a_file_is_named(tmp_path):
    with pytest.raises(tfrecords.DataError, match=r"is a directory.*\*\.tfrecord"):
        tfrecords.count_records(tmp_path)


def test_a_record_cut_in_the_middle_is_a_corrupt_file(tmp_path):
    path = tmp_path / "a.tfrecord"
    tfrecords.write(path, [tfrecords.serialize(np.zeros((100, 100), np.uint8), 1,
                                               (0, 0, 1, 1))] * 3)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(tfrecords.DataError, match="corrupt TFRecord.*dcn data"):
        tfrecords.count_records(path)


def test_a_data_directory_is_readable_by_other_users_under_umask_022(tmp_path, mnist_dir):
    previous = os.umask(0o022)
    try:
        cluttered_mnist.build(tmp_path / "data", mnist_dir, SIZES, progress=False)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o755
    for path in (tmp_path / "data").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_house_numbers_data_is_committed_and_checked_alike(tmp_path, mnist_dir):
    from dcn_keras import presets
    from dcn_keras.house_numbers import inputs

    out = tmp_path / "house"
    house_numbers.build(out, mnist_dir, {"train": 6, "valid": 2, "test": 2}, progress=False)
    assert manifest.load(out)["splits"]["test"]["sha256"] == manifest.sha256(out / "test.tfrecord")
    _cut_on_a_record_boundary(out / "test.tfrecord", keep=1)
    with pytest.raises(tfrecords.DataError, match=r"images 1 \(the manifest says 2\)"):
        tfrecords.full_images(out / "test.tfrecord")
    _cut_on_a_record_boundary(out / "train.tfrecord", keep=3)
    with pytest.raises(tfrecords.DataError, match="does not match metadata.json"):
        inputs.crops(out / "train.tfrecord", presets.house_numbers(), 2, training=True)
