"""MegapixelMnistExampleGen: Megapixel MNIST TFRecords from MNIST, made by Apache Beam."""

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
from dcn_keras.data import megapixel_mnist, mnist


class MegapixelRecords:
    """Record `index` of one split (sparse canvas, `megapixel_mnist.serialize`); each
    depends only on (seed, split, index)."""

    def __init__(self, pool: mnist.Digits, seed: int, split: str, side: int):
        self._pool, self._seed, self._split, self._side = pool, seed, split, side

    def setup(self):
        pass

    def teardown(self):
        pass

    def record(self, index: int) -> bytes:
        return megapixel_mnist.serialize(megapixel_mnist.make_example(
            self._pool, self._split, self._seed, index, self._side))


@component(use_beam=True)
def MegapixelMnistExampleGen(
    examples: OutputArtifact[Examples],
    train_images: Parameter[int],
    eval_images: Parameter[int],
    test_images: Parameter[int],
    seed: Parameter[int],
    num_shards: Parameter[int],
    mnist_dir: Parameter[str] = "",
    side: Parameter[int] = megapixel_mnist.SIDE,
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
) -> None:
    """Megapixel MNIST (the attention-sampling benchmark) in train / eval / test splits of
    `side` x `side` canvases; the same canvases as `dcn data --dataset megapixel_mnist` for
    the same seed. `metadata.json` in the artifact names the digit pool of every split; the
    split sizes are the artifact's `<split>_examples` properties."""
    megapixel_mnist.check_side(side)
    sizes = {"train": train_images, "eval": eval_images, "test": test_images}
    pools = mnist.digit_pools(mnist.load(mnist_dir or None))
    metadata = megapixel_mnist.build_metadata(
        pools, {name: sizes[split] for split, name in SPLITS.items()}, seed, side)
    makers = {split: MegapixelRecords(pools[name], seed, name, side)
              for split, name in SPLITS.items()}
    write_examples(beam_pipeline, examples, makers, sizes, num_shards,
                   megapixel_mnist.describe(metadata), metadata)
