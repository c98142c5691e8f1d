"""HouseNumbersExampleGen: multi-digit sequence TFRecords (SVHN, or the MNIST house numbers
transfer benchmark), made by Apache Beam."""

# No `from __future__ import annotations`: TFX reads these annotations at runtime.
import os

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
from dcn_keras.data import house_numbers, mnist, svhn, tfrecords


class HouseNumberRecords:
    """Record `index` of one MNIST house numbers split; a function of (seed, split, index)."""

    def __init__(self, pool: mnist.Digits, split: str, seed: int):
        self._pool, self._split, self._seed = pool, split, seed

    def setup(self):
        pass

    def teardown(self):
        pass

    def record(self, index: int) -> bytes:
        example = house_numbers.make_example(self._pool, self._split, self._seed, index)
        return tfrecords.serialize_sequence(example.image, example.digits, example.box)


class SvhnRecords:
    """Record `index` of a list of (source path, `svhn.SvhnImage`): its grayscale photograph,
    read by each worker from the SVHN folder or archive."""

    def __init__(self, images: list):
        self._images = images

    def setup(self):
        self._sources = {}

    def record(self, index: int) -> bytes:
        path, image = self._images[index]
        if path not in self._sources:
            self._sources[path] = svhn.open_source(path)
        example = svhn.to_example(self._sources[path], image, path)
        return tfrecords.serialize_sequence(example.image, example.digits, example.box)

    def teardown(self):
        for source in self._sources.values():
            source.close()


def _find(svhn_dir: str, name: str, required: bool) -> str | None:
    for candidate in (os.path.join(svhn_dir, name), os.path.join(svhn_dir, f"{name}.tar.gz")):
        if os.path.exists(candidate):
            return candidate
    if required:
        raise svhn.SvhnSourceError(
            f"{svhn_dir} holds neither {name}/ nor {name}.tar.gz; put the SVHN format-1 "
            "train and test archives (and optionally extra) there, or leave svhn_dir empty "
            "for the MNIST house numbers benchmark.")
    return None


def svhn_splits(svhn_dir: str, sizes: dict[str, int]) -> tuple[dict[str, list], dict]:
    """{artifact split: [(source path, SvhnImage)]} of the SVHN photographs in `svhn_dir`:
    train (+ extra) without its last `sizes["eval"]` images, which form eval; test. Other
    sizes cap their split (0 = all). Sequences over 5 digits are dropped and counted."""
    if sizes["eval"] < 1:
        raise ValueError("SVHN's eval split is cut from train: give eval_images >= 1.")
    listed, dropped = {}, 0
    for name, required in (("train", True), ("extra", False), ("test", True)):
        path = _find(svhn_dir, name, required)
        if path is None:
            continue
        source = svhn.open_source(path)
        try:
            images = svhn.read_digit_struct(source.digit_struct())
        finally:
            source.close()
        kept = [(path, image) for image in images if 1 <= len(image.digits) <= svhn.MAX_LENGTH]
        dropped += len(images) - len(kept)
        listed.setdefault("test" if name == "test" else "train", []).extend(kept)
    train = listed["train"]
    splits = {"train": train[:len(train) - sizes["eval"]], "eval": train[-sizes["eval"]:],
              "test": listed["test"]}
    for split in ("train", "test"):
        if sizes[split]:
            splits[split] = splits[split][:sizes[split]]
    return splits, {"dropped_too_long": dropped}


@component(use_beam=True)
def HouseNumbersExampleGen(
    examples: OutputArtifact[Examples],
    train_images: Parameter[int],
    eval_images: Parameter[int],
    test_images: Parameter[int],
    seed: Parameter[int],
    num_shards: Parameter[int],
    mnist_dir: Parameter[str] = "",
    svhn_dir: Parameter[str] = "",
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
) -> None:
    """Multi-digit sequences (`tfrecords.serialize_sequence`) in train / eval / test splits.

    With `svhn_dir` (holding SVHN format-1 `train` and `test`, each a .tar.gz or extracted
    folder, and optionally `extra`, which joins train): grayscale photographs; eval is the
    last `eval_images` of train and the other sizes are caps (0 = all). Without it: the
    MNIST house numbers benchmark from `mnist_dir` (or tfds), made for the given sizes.
    Counts are recorded as `<split>_examples` properties, the data in `metadata.json`.
    """
    sizes = {"train": train_images, "eval": eval_images, "test": test_images}
    if svhn_dir:
        images, counts = svhn_splits(svhn_dir, sizes)
        makers = {split: SvhnRecords(listed) for split, listed in images.items()}
        sizes = {split: len(listed) for split, listed in images.items()}
        metadata = {"dataset": "svhn", "source": svhn_dir, **counts,
                    "splits": {SPLITS[split]: {"images": sizes[split], "kind": "photographs"}
                               for split in SPLITS}}
        description = (f"SVHN format 1, grayscale, from {svhn_dir}: " + "; ".join(
            f"{SPLITS[split]} {sizes[split]}" for split in SPLITS)
            + f" ({counts['dropped_too_long']} sequences over 5 digits dropped)")
    else:
        pools = mnist.digit_pools(mnist.load(mnist_dir or None))
        makers = {split: HouseNumberRecords(pools[name], name, seed)
                  for split, name in SPLITS.items()}
        splits = {name: {"images": sizes[split], "digit_pool": pools[name].source,
                         "kind": house_numbers.KINDS[name]}
                  for split, name in SPLITS.items()}
        metadata = {"dataset": "mnist_house_numbers", "seed": seed, "number_lengths": "svhn",
                    "splits": splits}
        description = house_numbers.describe(metadata)
    write_examples(beam_pipeline, examples, makers, sizes, num_shards, description, metadata)
