"""Deterministic sharded TFRecord writing with Apache Beam, for the example generators."""

from __future__ import annotations

import json
import os

import apache_beam as beam
from tfx.types import artifact_utils

from components.artifacts import SPLITS
from dcn_keras import atomic


class _MakeRecords(beam.DoFn):
    """Index -> (shard, (index, record)); index i goes to shard i mod num_shards.

    `make` is a picklable object with `setup()` and `teardown()` (once per worker) and
    `record(index)` returning serialized bytes.
    """

    def __init__(self, make, num_shards: int, counter: str):
        self._make, self._shards = make, num_shards
        self._records = beam.metrics.Metrics.counter("dcn_examples", counter)

    def setup(self):
        self._make.setup()

    def teardown(self):
        self._make.teardown()

    def process(self, index: int):
        self._records.inc()
        yield index % self._shards, (index, self._make.record(index))


def _write_shard(shard_and_records, output_prefix: str, num_shards: int) -> str:
    """Write one shard in index order, so reruns give identical files. tf.io.gfile so that
    the prefix may be on GCS or HDFS; the rename makes a retried bundle replace, not mix."""
    # Imported here, on the Beam worker that runs it, not where the pipeline is built.
    import tensorflow as tf

    shard, records = shard_and_records
    path = f"{output_prefix}-{shard:05d}-of-{num_shards:05d}.tfrecord"
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path + ".incomplete") as writer:
        for _, record in sorted(records):
            writer.write(record)
    tf.io.gfile.rename(path + ".incomplete", path, overwrite=True)
    return path


class WriteShards(beam.PTransform):
    """Make records 0..count-1 with `make` (see `_MakeRecords`) and write them as
    `num_shards` TFRecord files `<output_prefix>-SSSSS-of-NNNNN.tfrecord`.

    Not `WriteToTFRecord`: its record order depends on the runner, and with it the order of
    training batches; here shard contents and order are a function of the inputs alone.
    """

    def __init__(self, make, count: int, output_prefix: str, num_shards: int, counter: str):
        super().__init__()
        self._make, self._count, self._prefix = make, count, output_prefix
        self._shards, self._counter = num_shards, counter

    def expand(self, pipeline):
        return (pipeline
                | "Indices" >> beam.Create(range(self._count))
                | "Spread" >> beam.Reshuffle()
                | "Make" >> beam.ParDo(_MakeRecords(self._make, self._shards, self._counter))
                | "GroupByShard" >> beam.GroupByKey()
                | "Write" >> beam.Map(_write_shard, self._prefix, self._shards))


def write_examples(beam_pipeline, examples, makers: dict, sizes: dict, num_shards: int,
                   description: str, metadata: dict) -> None:
    """Fill an Examples artifact: split `s` gets records 0..sizes[s]-1 of `makers[s]` (see
    `_MakeRecords`), in `num_shards` shards, made by one Beam pipeline; the counts become
    `<split>_examples` properties, `description` a property and `metadata` metadata.json."""
    examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
    with beam_pipeline as pipeline:
        for split, name in SPLITS.items():
            prefix = os.path.join(artifact_utils.get_split_uri([examples], split), "data")
            _ = pipeline | f"Generate{split.title()}" >> WriteShards(
                makers[split], sizes[split], prefix, num_shards, f"{name}_images")
    for split, size in sizes.items():
        examples.set_int_custom_property(f"{split}_examples", size)
    examples.set_string_custom_property("description", description)
    atomic.write_text(os.path.join(examples.uri, "metadata.json"),
                      json.dumps(metadata, indent=2))
