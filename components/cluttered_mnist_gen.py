"""ClutteredMnistExampleGen: Cluttered MNIST TFRecords from MNIST, made by Apache Beam."""

# No `from __future__ import annotations`: TFX reads these annotations at runtime.
import json
import os

import apache_beam as beam
from tfx.dsl.component.experimental.annotations import (BeamComponentParameter, OutputArtifact,
                                                        Parameter)
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types.standard_artifacts import Examples

from components.artifacts import SPLITS
from dcn_keras import atomic
from dcn_keras.data import cluttered_mnist, mnist, tfrecords


class _MakeExample(beam.DoFn):
    """Index -> (shard, (index, serialized tf.Example)); each example depends only on
    (seed, split, index), and index i goes to shard i mod num_shards."""

    def __init__(self, pool: mnist.Digits, seed: int, split: str, num_shards: int):
        self._pool, self._seed, self._split, self._shards = pool, seed, split, num_shards
        self._images = beam.metrics.Metrics.counter("cluttered_mnist", f"{split}_images")

    def setup(self):
        self._order = cluttered_mnist.digit_order(len(self._pool), self._seed, self._split)

    def process(self, index: int):
        example = cluttered_mnist.make_example(
            self._pool, self._order[index % len(self._order)],
            cluttered_mnist.example_rng(self._seed, self._split, index))
        self._images.inc()
        yield index % self._shards, (index, tfrecords.serialize(
            example.image, example.label, example.digit_box))


def _write_shard(shard_and_records, output_prefix: str, num_shards: int) -> str:
    """Write one shard in index order, so reruns give identical files. tf.io.gfile so that
    the prefix may be on GCS or HDFS; the rename makes a retried bundle replace, not mix."""
    import tensorflow as tf

    shard, records = shard_and_records
    path = f"{output_prefix}-{shard:05d}-of-{num_shards:05d}.tfrecord"
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path + ".incomplete") as writer:
        for _, record in sorted(records):
            writer.write(record)
    tf.io.gfile.rename(path + ".incomplete", path, overwrite=True)
    return path


class WriteClutteredMnistSplit(beam.PTransform):
    """Generate `count` images of one split and write them as `num_shards` TFRecord files.

    Not `WriteToTFRecord`: its record order depends on the runner, and with it the order of
    training batches; here shard contents and order are a function of the seed alone.
    """

    def __init__(self, pool: mnist.Digits, count: int, seed: int, split: str,
                 output_prefix: str, num_shards: int):
        super().__init__()
        self._args = pool, seed, split, num_shards
        self._count, self._prefix, self._shards = count, output_prefix, num_shards

    def expand(self, pipeline):
        return (pipeline
                | "Indices" >> beam.Create(range(self._count))
                | "Spread" >> beam.Reshuffle()
                | "Make" >> beam.ParDo(_MakeExample(*self._args))
                | "GroupByShard" >> beam.GroupByKey()
                | "Write" >> beam.Map(_write_shard, self._prefix, self._shards))


@component(use_beam=True)
def ClutteredMnistExampleGen(
    examples: OutputArtifact[Examples],
    mnist_dir: Parameter[str] = "",
    train_images: Parameter[int] = 28000,
    eval_images: Parameter[int] = 1000,
    test_images: Parameter[int] = 2000,
    seed: Parameter[int] = 0,
    num_shards: Parameter[int] = 4,
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
) -> None:
    """Cluttered MNIST (Mnih et al. 2014) in train / eval / test splits.

    Digits come from disjoint pools of MNIST (`mnist_dir` of IDX files, or tfds when empty);
    `metadata.json` in the artifact names the pool of every split. The split sizes are
    recorded as the artifact's `<split>_examples` properties.
    """
    sizes = {"train": train_images, "eval": eval_images, "test": test_images}
    pools = mnist.digit_pools(mnist.load(mnist_dir or None))
    examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
    with beam_pipeline as pipeline:
        for split, name in SPLITS.items():
            prefix = os.path.join(artifact_utils.get_split_uri([examples], split), "data")
            _ = pipeline | f"Generate{split.title()}" >> WriteClutteredMnistSplit(
                pools[name], sizes[split], seed, name, prefix, num_shards)
    for split, size in sizes.items():
        examples.set_int_custom_property(f"{split}_examples", size)
    metadata = {"dataset": "cluttered_mnist", "seed": seed, "canvas": cluttered_mnist.CANVAS,
                "num_distractors": cluttered_mnist.NUM_DISTRACTORS,
                "distractor_size": cluttered_mnist.DISTRACTOR,
                "splits": {name: {"artifact_split": split, "images": sizes[split],
                                  "digit_pool": pools[name].source,
                                  "pool_digits": len(pools[name])}
                           for split, name in SPLITS.items()}}
    examples.set_string_custom_property("description", cluttered_mnist.describe(metadata))
    atomic.write_text(os.path.join(examples.uri, "metadata.json"),
                      json.dumps(metadata, indent=2))
