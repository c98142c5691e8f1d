import json
import pathlib
import tarfile

import numpy as np
import pytest
import tensorflow as tf
from tfx.orchestration import metadata, pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.house_numbers_gen import HouseNumbersExampleGen
from dcn_keras.data import house_numbers, mnist, svhn, tfrecords
from tests.data.test_svhn import IMAGES, _png, write_digit_struct


def _generate(root: pathlib.Path, beam_args=(), **parameters):
    gen = HouseNumbersExampleGen(seed=2, num_shards=2, **parameters)
    LocalDagRunner().run(pipeline.Pipeline(
        pipeline_name="gen", pipeline_root=str(root / "artifacts"), components=[gen],
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite")), beam_pipeline_args=list(beam_args)))
    uri, = (root / "artifacts" / "HouseNumbersExampleGen" / "examples").iterdir()
    return uri


def _examples(uri, split):
    files = sorted(str(p) for p in (uri / f"Split-{split}").glob("*.tfrecord"))
    return list(tf.data.TFRecordDataset(files).map(tfrecords.parse_sequence)
                .as_numpy_iterator())


def test_mnist_house_numbers_splits_match_the_library(tmp_path, mnist_dir):
    uri = _generate(tmp_path, mnist_dir=str(mnist_dir), train_images=10, eval_images=4,
                    test_images=3)
    pools = mnist.digit_pools(mnist.load(mnist_dir))
    for split, name, count in (("train", "train", 10), ("eval", "valid", 4),
                               ("test", "test", 3)):
        examples = _examples(uri, split)
        assert len(examples) == count
        # Shard i mod 2 holds index i, so shard 0 starts with example 0.
        expected = house_numbers.make_example(pools[name], name, 2, 0)
        first = examples[0]
        assert first["image"].shape[:2] == expected.image.shape
        np.testing.assert_array_equal(np.round(first["image"][..., 0] * 255), expected.image)
        assert first["length"] == len(expected.digits)
    description = json.loads((uri / "metadata.json").read_text())
    assert description["dataset"] == "mnist_house_numbers"
    assert description["splits"]["test"]["kind"] == "SVHN-like cluttered canvases"


def _shards(uri, split):
    return sorted((uri / f"Split-{split}").glob("*.tfrecord"))


@pytest.mark.slow
def test_same_examples_with_one_or_several_beam_workers(tmp_path, mnist_dir):
    sizes = dict(mnist_dir=str(mnist_dir), train_images=12, eval_images=4, test_images=4)
    single = _generate(tmp_path / "a", **sizes)
    multi = _generate(tmp_path / "b", ["--direct_num_workers=2",
                                       "--direct_running_mode=multi_processing"], **sizes)
    for split, count in (("train", 12), ("eval", 4), ("test", 4)):
        files = _shards(single, split)
        assert len(files) == 2 and len(_examples(single, split)) == count
        # Byte-identical shards: same examples in the same order, whoever wrote them.
        assert [f.name for f in files] == [f.name for f in _shards(multi, split)]
        for a, b in zip(files, _shards(multi, split)):
            assert a.read_bytes() == b.read_bytes()
    assert (single / "metadata.json").read_text() == (multi / "metadata.json").read_text()


@pytest.fixture
def svhn_dir(tmp_path):
    """SVHN format 1 as downloaded: train.tar.gz (archive) and test/ (extracted)."""
    root = tmp_path / "svhn"
    for name in ("train", "test"):
        folder = (tmp_path / "extract" if name == "train" else root) / name
        folder.mkdir(parents=True)
        write_digit_struct(folder / "digitStruct.mat", IMAGES)
        for seed, (image, _) in enumerate(IMAGES):
            (folder / image).write_bytes(_png(40 + seed, 70 + seed, seed)[1])
    with tarfile.open(root / "train.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "extract" / "train", arcname="train")
    return root


def test_svhn_photographs_with_eval_cut_from_train(tmp_path, svhn_dir):
    uri = _generate(tmp_path, svhn_dir=str(svhn_dir), eval_images=1, train_images=0,
                    test_images=0)
    train, valid, test = (_examples(uri, s) for s in ("train", "eval", "test"))
    # 4 images per split, one with 6 digits dropped; eval is train's last kept image.
    assert (len(train), len(valid), len(test)) == (2, 1, 3)
    loaded, _ = svhn.load(svhn_dir / "test")
    by_length = {int(e["length"]): e for e in test}
    for example in loaded:
        served = by_length[len(example.digits)]
        np.testing.assert_array_equal(np.round(served["image"][..., 0] * 255), example.image)
        assert list(served["digits"][:len(example.digits)]) == list(example.digits)
    assert valid[0]["digits"].tolist() == [2, 0, 5, 10, 10]
    description = json.loads((uri / "metadata.json").read_text())
    assert description["dataset"] == "svhn" and description["dropped_too_long"] == 2


def test_svhn_dir_without_the_archives_says_what_to_put_there(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="train/ nor train.tar.gz"):
        _generate(tmp_path, svhn_dir=str(tmp_path / "empty"), train_images=0, eval_images=1,
                  test_images=0)
