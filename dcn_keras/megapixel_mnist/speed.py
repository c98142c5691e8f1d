"""Inference time and memory of the Megapixel MNIST models against the image side, batch 1:
times side by side in one process (medians), memory each in a fresh process."""

from __future__ import annotations

import functools
import json
import sys

import keras
import numpy as np
import tensorflow as tf

from dcn_keras import measure
from dcn_keras.megapixel_mnist import networks
from dcn_keras.megapixel_mnist.config import MegapixelConfig, megapixel_mnist

# What each timed model does with a full-size image.
TITLES = {"low_resolution": "Low-resolution CNN (image downscaled first)",
          "full_resolution": "Full-resolution CNN",
          "dcn": "DCN (saliency included)"}


def inference_function(config: MegapixelConfig, kind: str):
    """A `tf.function` of `[1, side, side, 1]` images -> `[1, classes]` probabilities for
    the `kind` model (`networks.MODEL_KINDS`) of `config`, built with any weights. The
    low-resolution CNN's downscaling is part of its time."""
    model = networks.build(config, kind)
    call = {"low_resolution": functools.partial(_low_resolution, model, config.view_side),
            "full_resolution": functools.partial(_softmax, model),
            "dcn": functools.partial(model, training=False)}[kind]
    return tf.function(call, input_signature=[
        tf.TensorSpec([1, config.side, config.side, 1], tf.float32)])


def _softmax(model, images):
    return tf.nn.softmax(model(images, training=False))


def _low_resolution(model, side: int, images):
    return _softmax(model, tf.image.resize(images, (side, side), antialias=True))


def image(config: MegapixelConfig, seed: int = 0) -> tf.Tensor:
    """A `[1, side, side, 1]` image as sparse as the data's: 3% of the pixels lit."""
    rng = np.random.default_rng(seed)
    pixels = (rng.random((1, config.side, config.side, 1)) < 0.03) * rng.random(
        (1, config.side, config.side, 1))
    return tf.constant(pixels, tf.float32)


def times_ms(config: MegapixelConfig, kinds=networks.MODEL_KINDS, repeats: int = 5) -> dict:
    """Median ms per image of each model, called side by side (`measure.time_side_by_side`)."""
    functions = {kind: inference_function(config, kind) for kind in kinds}
    return measure.medians_ms(measure.time_side_by_side(functions, image(config),
                                                        repeats=repeats, warmup=1))


def training_step_ms(config: MegapixelConfig, kinds=networks.MODEL_KINDS,
                     batch_size: int = 4, repeats: int = 3) -> dict[str, float]:
    """Median ms per image of one training step (Adam) of each model at `batch_size`, called
    side by side; the low-resolution CNN is given its downscaled view, as its data set
    reads it (`data.megapixel_mnist.view_dataset`)."""
    images = tf.concat([image(config, seed) for seed in range(batch_size)], axis=0)
    view = tf.image.resize(images, (config.view_side,) * 2, antialias=True)
    labels = tf.range(batch_size) % config.num_classes
    steps = {}
    for kind in kinds:
        model = networks.build(config, kind)
        if kind == "dcn":
            model.compile(optimizer="adam")
        else:
            model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True))
        inputs = view if kind == "low_resolution" else images
        steps[kind] = functools.partial(model.train_on_batch, inputs, labels)
    times = measure.time_side_by_side(steps, repeats=repeats, warmup=1)
    return {kind: ms / batch_size for kind, ms in measure.medians_ms(times).items()}


def memory_mb(config: MegapixelConfig, kind: str) -> dict:
    """`measure.inference_memory_mb` and `measure.tensor_memory_mb` of the `kind` model at
    `config.side`, each in a fresh process."""
    module = "dcn_keras.megapixel_mnist.speed"
    return {**measure.probe_in_fresh_process(module, str(config.side), kind),
            **measure.probe_in_fresh_process(module, str(config.side), kind,
                                             command="tensor-probe")}


def scaling(sides, kinds=networks.MODEL_KINDS, repeats: int = 5, memory: bool = True,
            config: MegapixelConfig | None = None, progress=print) -> dict:
    """Rows {"model", "side", "ms_per_image", "inference_mib", "peak_mib",
    "tensor_peak_mib"} of each model at each side (any weights), and the full-resolution
    CNN's ratios to the DCN."""
    config = config or megapixel_mnist()
    rows = []
    for side in sides:
        sized = config.resized(side)
        times = times_ms(sized, kinds, repeats)
        for kind in kinds:
            row = {"model": kind, "side": side, "ms_per_image": times[kind]}
            if memory:
                probe = memory_mb(sized, kind)
                row |= {"inference_mib": probe["inference_mb"],
                        "peak_mib": probe["peak_rss_mb"],
                        "tensor_peak_mib": probe["tensor_peak_mb"]}
            rows.append(row)
            progress(" ".join(f"{key} {value:.1f}" if isinstance(value, float)
                              else f"{key} {value}" for key, value in row.items()))
    return {"machine": measure.machine_description(), "batch_size": 1, "repeats": repeats,
            "rows": rows, "full_resolution_over_dcn": ratios(rows)}


def ratios(rows: list[dict]) -> dict:
    """{side: {measure: full-resolution CNN / DCN}} of `scaling`'s rows."""
    by = {(row["side"], row["model"]): row for row in rows}
    out = {}
    for side in sorted({row["side"] for row in rows}):
        full, dcn = by.get((side, "full_resolution")), by.get((side, "dcn"))
        if full and dcn:
            out[str(side)] = {key: full[key] / dcn[key] for key in
                              ("ms_per_image", "inference_mib", "peak_mib", "tensor_peak_mib")
                              if key in dcn}
    return out


if __name__ == "__main__":
    # Internal entry point of `memory_mb`: memory-probe | tensor-probe SIDE KIND.
    _, command, side, model_kind = sys.argv
    if command not in ("memory-probe", "tensor-probe"):
        raise SystemExit(f"unknown command {command!r}")
    sized = megapixel_mnist().resized(int(side))
    function = inference_function(sized, model_kind).get_concrete_function()
    measure.start_runtime()
    probe = measure.inference_memory_mb if command == "memory-probe" else \
        measure.tensor_memory_mb
    print(json.dumps(probe(function, image(sized))))
