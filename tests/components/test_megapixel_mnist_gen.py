import json

import tensorflow as tf
from tfx.orchestration import metadata, pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.megapixel_mnist_gen import MegapixelMnistExampleGen
from dcn_keras.data import megapixel_mnist


def test_the_beam_generator_writes_the_canvases_that_dcn_data_writes(tmp_path, mnist_dir):
    gen = MegapixelMnistExampleGen(mnist_dir=str(mnist_dir), train_images=3, eval_images=2,
                                   test_images=2, seed=5, num_shards=2, side=300)
    LocalDagRunner().run(pipeline.Pipeline(
        pipeline_name="gen", pipeline_root=str(tmp_path / "artifacts"), components=[gen],
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(tmp_path / "metadata.sqlite"))))
    uri, = (tmp_path / "artifacts" / "MegapixelMnistExampleGen" / "examples").iterdir()
    built = tmp_path / "built"
    megapixel_mnist.build(built, mnist_dir, {"train": 3, "valid": 2, "test": 2}, seed=5,
                          side=300, progress=False)
    for split, name in (("train", "train"), ("eval", "valid"), ("test", "test")):
        files = sorted(str(path) for path in (uri / f"Split-{split}").glob("*.tfrecord"))
        assert len(files) == 2
        # Shard s holds records s, s + 2, ...: the same bytes as `build`'s file, reordered.
        records = sorted(record.numpy() for record in tf.data.TFRecordDataset(files))
        expected = sorted(record.numpy()
                          for record in tf.data.TFRecordDataset(str(built / f"{name}.tfrecord")))
        assert records == expected
    written = json.loads((uri / "metadata.json").read_text())
    assert written["side"] == 300
    assert written["splits"]["test"]["mnist_digits"] == "MNIST test digits 8,000-9,999"
