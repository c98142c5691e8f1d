"""ClutteredMnistExampleGen: Cluttered MNIST TFRecords from MNIST, made by Apache Beam."""

# No `from __future__ import annotations`: TFX reads these annotations at runtime.

import apache_beam as beam
from tfx.dsl.component.experimental.annotations import (
    BeamComponentParameter,
    OutputArtifact,
    Parameter,
)
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import Examples

from components.artifacts import SPLITS
from components.shards import write_examples
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
        return tfrecords.serialize(example.image, example.label, example.digit_box,
                                   example.digit_index)


@component(use_beam=True)
def ClutteredMnistExampleGen(
    examples: OutputArtifact[Examples],
    train_images: Parameter[int],
    eval_images: Parameter[int],
    test_images: Parameter[int],
    seed: Parameter[int],
    num_shards: Parameter[int],
    mnist_dir: Parameter[str] = "",
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
) -> None:
    """Cluttered MNIST (Mnih et al. 2014) in train / eval / test splits.

    Digits come from disjoint pools of MNIST (`mnist_dir` of IDX files, or tfds when empty);
    `metadata.json` in the artifact names the pool of every split. The split sizes are
    recorded as the artifact's `<split>_examples` properties.
    """
    sizes = {"train": train_images, "eval": eval_images, "test": test_images}
    pools = mnist.digit_pools(mnist.load(mnist_dir or None))
    metadata = {"dataset": "cluttered_mnist", "seed": seed, "canvas": cluttered_mnist.CANVAS,
                "num_distractors": cluttered_mnist.NUM_DISTRACTORS,
                "distractor_size": cluttered_mnist.DISTRACTOR,
                "splits": {name: {"artifact_split": split, "images": sizes[split],
                                  "digit_pool": pools[name].source,
                                  "pool_digits": len(pools[name])}
                           for split, name in SPLITS.items()}}
    makers = {split: ClutteredMnistRecords(pools[name], seed, name)
              for split, name in SPLITS.items()}
    write_examples(beam_pipeline, examples, makers, sizes, num_shards,
                   cluttered_mnist.describe(metadata), metadata)
