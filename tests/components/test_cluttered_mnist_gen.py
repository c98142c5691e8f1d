import json
import pathlib

import pytest
import tensorflow as tf
from tfx.orchestration import metadata, pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.cluttered_mnist_gen import ClutteredMnistExampleGen
from dcn_keras.data import tfrecords


def _generate(root: pathlib.Path, mnist_dir, beam_args):
    gen = ClutteredMnistExampleGen(mnist_dir=str(mnist_dir), train_images=24, eval_images=8,
                                   test_images=8, seed=3, num_shards=3)
    LocalDagRunner().run(pipeline.Pipeline(
        pipeline_name="gen", pipeline_root=str(root / "artifacts"), components=[gen],
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite")), beam_pipeline_args=beam_args))
    uri, = (root / "artifacts" / "ClutteredMnistExampleGen" / "examples").iterdir()
    return uri


def _records(uri, split):
    files = sorted(str(p) for p in (uri / f"Split-{split}").glob("*.tfrecord"))
    return files, [r.numpy() for r in tf.data.TFRecordDataset(files)]


@pytest.mark.slow
def test_same_examples_with_one_or_several_beam_workers(tmp_path, mnist_dir):
    single = _generate(tmp_path / "a", mnist_dir, [])
    multi = _generate(tmp_path / "b", mnist_dir, ["--direct_num_workers=2",
                                                  "--direct_running_mode=multi_processing"])
    for split, count in (("train", 24), ("eval", 8), ("test", 8)):
        files, records = _records(single, split)
        assert len(files) == 3 and len(records) == count
        # Byte-identical shards: same examples in the same order, whoever wrote them.
        for a, b in zip(files, _records(multi, split)[0]):
            assert pathlib.Path(a).name == pathlib.Path(b).name
            assert pathlib.Path(a).read_bytes() == pathlib.Path(b).read_bytes()
    metadata_json = json.loads((single / "metadata.json").read_text())
    assert metadata_json["splits"]["test"]["digit_pool"].endswith("[8000:10000] (test pool)")
    assert metadata_json["splits"]["valid"]["artifact_split"] == "eval"
    # The records are what the library reads (100x100 images, labels 0-9).
    data = tfrecords.read_all(_records(single, "test")[0], (100, 100, 1))
    assert data["image"].shape == (8, 100, 100, 1) and set(data["label"]) <= set(range(10))
