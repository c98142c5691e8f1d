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
from components.shards import WriteShards
from dcn_keras import atomic
from dcn_keras.data import cluttered_mnist, mnist, tfrecords


class ClutteredMnistRecords:
    """Record `index` of one split; each depends only on (seed, split, index)."""

    def __init__(self, pool: mnist.Digits, seed: int, split: str):
        self._pool, self._seed, self._split = pool, seed, split

    def setup(self):
        self._order = cluttered_mnist.digit_order(len(self._pool), self._seed, self._split)

    def teardown(self):
        pass

    def record(self, index: int) -> bytes:
        example = cluttered_mnist.make_example(
            self._pool, self._order[index % len(self._order)],
            cluttered_mnist.example_rng(self._seed, self._split, index))
        return tfrecords.serialize(example.image, example.label, example.digit_box)


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
            _ = pipeline | f"Generate{split.title()}" >> WriteShards(
                ClutteredMnistRecords(pools[name], seed, name), sizes[split], prefix,
                num_shards, f"{name}_images")
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
