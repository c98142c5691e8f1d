"""Test-time composition: a DCN from a coarse and a fine model trained apart (paper sec. 4.2).

The paper composes for SVHN, where the coarse and fine layers end in the same space by
design. Two Cluttered MNIST models trained apart do not: the coarse model's top layers
misread fine vectors (error rises with every refined patch), and the fine model's top layers
misread coarse vectors. So the composed DCN keeps the fine model's top layers, where a fine
vector means what it meant in training, and carries the coarse vectors into that space with
a bridge: the least-squares linear map from each 3 x 3 coarse neighbourhood to the fine
vector at its centre, fitted in closed form on training images (`core.linear_map`).

Its fine layers read each selected position the way the fine model did in training: the
fine layers' whole 24 x 24 receptive field through valid convolutions (`DCNConfig.fine_view`
"fine_model"), not the paper's 14 x 14 patch, whose zero-padded edges give other vectors
than the fine model's, which its top layers misread more with every refined patch.

`dcn compose` then fits the bridge further so that the composed DCN predicts what the fine
model predicts (`distill_bridge`): only the bridge's weights train, on no labels; the
coarse and fine models stay as they were trained. docs/cluttered_mnist.md has the
measurements behind each choice.
"""

from __future__ import annotations

import dataclasses
import pathlib

import keras
import numpy as np
import tensorflow as tf

from dcn_keras import results, visualize
from dcn_keras.classifier.config import DCNConfig
from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.cluttered_mnist import evaluation, multiplications
from dcn_keras.core import distillation, linear_map, refine, saliency

# 3 x 3: a wider bridge explains more of the fine vectors' variance for more multiplications
# (docs/cluttered_mnist.md, "What we tried").
BRIDGE_WINDOW = 3
FIT_IMAGES = 2000
# The numbers of refined patches that `distill_bridge` fits the bridge for, one per batch;
# its batch size, and the passes over the training images that `dcn compose` gives it.
DISTILL_PATCHES = (0, 4, 8, 16, 32)
DISTILL_BATCH = 32
DISTILL_EPOCHS = 2


def _part(model: keras.Model, name: str, role: str) -> keras.Model:
    try:
        return model.get_layer(name)
    except ValueError:
        raise ValueError(f"The {role} model {model.name!r} has no {name!r} sub-network; pass a "
                         f"model built by `dcn train --model {role}`.") from None


def fine_map(fine_model: keras.Model):
    """A `tf.function` mapping `[batch, H, W, C]` images to the `[batch, s1, s2, D]` fine
    vectors of `fine_model` at every coarse position (its fine layers run convolutionally)."""
    pad, fine = _part(fine_model, "pad", "fine"), _part(fine_model, "fine", "fine")
    return tf.function(lambda images: fine(pad(images, training=False), training=False))


def fit_bridge(coarse_model: keras.Model, fine_model: keras.Model, images,
               window: int = BRIDGE_WINDOW, limit: int = FIT_IMAGES) -> linear_map.LinearMap:
    """The bridge fitted on the first `limit` images of `images`, a dataset of
    `[batch, H, W, C]` images or `(images, labels)` batches."""
    coarse, fine = _part(coarse_model, "coarse", "coarse"), fine_map(fine_model)
    maps = tf.function(lambda batch: (coarse(batch, training=False), fine(batch)))
    batches = images.unbatch().take(limit).batch(100)
    return linear_map.fit((maps(_images(batch)) for batch in batches), window)


def distill_bridge(dcn: DynamicCapacityNetwork, fine_model: keras.Model, images,
                   epochs: int, learning_rate: float = 1e-3, seed: int = 0) -> None:
    """Fit the bridge of the composed `dcn` further, in place, so that the DCN predicts what
    `fine_model` predicts: KL(fine model || DCN), both at temperature 1, with k drawn per
    batch from `DISTILL_PATCHES` (the selection held fixed), Adam with cosine decay for
    `epochs` passes over `images` (`[batch, H, W, C]` images or `(images, labels)`
    batches, re-batched to `DISTILL_BATCH`; labels are not used). Only the bridge trains:
    the coarse and fine models stay as they were trained. The least-squares bridge matches
    the fine vectors on average, where a small error can still change what the fine model's
    top layers read; this fits the bridge to what they read."""
    if dcn.bridge_network is None:
        raise ValueError("distill_bridge needs a composed DCN with a bridge.")
    variables = dcn.bridge_network.trainable_variables

    def make_step(optimizer, total_steps):
        # k is a tensor, so one trace serves every k (k = 0: the bridged coarse map alone).
        @tf.function(input_signature=[tf.TensorSpec([None, *dcn.image_shape]),
                                      tf.TensorSpec([], tf.int32)])
        def step(batch, k):
            teacher = fine_model(batch, training=False)
            with tf.GradientTape() as tape:
                bridged = dcn.coarse_features(batch)
                positions = saliency.top_k_positions(dcn.coarse_saliency(bridged)[0], k)
                fine = dcn.fine_vectors(dcn.cut_patches(batch, positions))
                logits = dcn.top(refine.refine(bridged, fine, positions), training=False)
                loss = distillation.distillation_loss(teacher, logits)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        draws = np.random.default_rng(seed).choice(DISTILL_PATCHES, size=total_steps)
        return lambda index, batch: step(batch, tf.constant(draws[index], tf.int32))

    _fit(images.unbatch().batch(DISTILL_BATCH), epochs, learning_rate, "kl", make_step)


def _fit(images, epochs: int, learning_rate: float, metric: str, make_step) -> None:
    """`epochs` passes over `images` with one Adam step (cosine decay over the run) per
    batch, and a progress bar of each step's `metric`. `make_step(optimizer, total_steps)`
    returns the step, called as step(index of the step in the run, `[batch, H, W, C]`
    images) -> loss."""
    batches = sum(1 for _ in images)
    optimizer = keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(learning_rate, max(1, epochs * batches)))
    step = make_step(optimizer, epochs * batches)
    progress = keras.utils.Progbar(epochs * batches, stateful_metrics=[metric])
    for epoch in range(epochs):
        for index, batch in enumerate(images):
            loss = step(epoch * batches + index, _images(batch))
            progress.add(1, [(metric, float(loss))])


def compose(coarse_model: keras.Model, fine_model: keras.Model, config: DCNConfig,
            bridge: linear_map.LinearMap | None, num_patches: int | None = None,
            fine_view: str = "fine_model") -> DynamicCapacityNetwork:
    """A DCN with the coarse layers of `coarse_model` (f_c), the fine and top layers of
    `fine_model` (f_f and g) and the fitted `bridge` between f_c and g; nothing is
    retrained. Saliency is the entropy gradient of g on the bridged coarse map; the fine
    layers see each selected position as the fine model does (`fine_view`). With
    `bridge` None, g reads the coarse vectors as they are, and with `fine_view` "patch"
    the fine layers read the paper's cheaper patches: starts that end-to-end training
    adapts (docs/cluttered_mnist.md, "What we tried")."""
    window = 0 if bridge is None else bridge.window
    config = dataclasses.replace(config, fine_view=fine_view)
    dcn = DynamicCapacityNetwork(config, num_patches, hint_weight=0.0, bridge=window,
                                 name="composed")
    for target, source in ((dcn.coarse, _part(coarse_model, "coarse", "coarse")),
                           (dcn.top, _part(fine_model, "top", "fine")),
                           (dcn.fine, _part(fine_model, "fine", "fine"))):
        try:
            target.set_weights(source.get_weights())
        except ValueError as error:
            raise ValueError(f"The {source.name} layers do not fit preset {config.name!r} "
                             f"({error}); were the models trained for another preset?") from error
    if bridge is not None:
        dcn.bridge_network.set_weights([bridge.kernel, bridge.bias])
    return dcn


def compose_distilled(coarse_model: keras.Model, fine_model: keras.Model, config: DCNConfig,
                      train, num_patches: int | None = None, epochs: int = DISTILL_EPOCHS,
                      seed: int = 0) -> DynamicCapacityNetwork:
    """The composed DCN that `dcn compose` makes: the least-squares bridge fitted on the
    `(images, labels)` batches of `train` (`fit_bridge`), then fitted further to what
    `fine_model` predicts for `epochs` passes (`distill_bridge`). Only the bridge trains,
    on no labels; the coarse and fine models stay as they were trained."""
    dcn = compose(coarse_model, fine_model, config,
                  fit_bridge(coarse_model, fine_model, train), num_patches)
    distill_bridge(dcn, fine_model, train, epochs, seed=seed)
    return dcn


def bridge_r2(dcn: DynamicCapacityNetwork, fine_model: keras.Model, images,
              limit: int = FIT_IMAGES) -> float:
    """How much of the fine vectors' variance the composed DCN's bridged coarse map explains
    on the first `limit` images of `images` (held-out data gives the honest figure)."""
    bridged, fine = tf.function(dcn.coarse_features), fine_map(fine_model)
    predicted, target = [], []
    for batch in images.unbatch().take(limit).batch(100):
        batch = _images(batch)
        predicted.append(bridged(batch).numpy())
        target.append(fine(batch).numpy())
    return linear_map.r2_score(np.concatenate(predicted), np.concatenate(target))


def _images(batch):
    return batch[0] if isinstance(batch, tuple) else batch


def report(dcn: DynamicCapacityNetwork, coarse_model: keras.Model, fine_model: keras.Model,
           train, valid, out_dir) -> dict:
    """What composition did, measured on validation `(images, labels)` batches `valid`: the
    bridge's R^2 on its fitting images (from `train`) and on validation images, and the
    validation error of the composed DCN for each k beside the coarse and fine models'.
    Writes `results.json`, `results.md` and `error_vs_patches.png` to `out_dir`."""
    fine_total = multiplications.count(dcn.config)["fine_model"]["total"]
    bridge = dcn.bridge
    curve = evaluation.error_versus_patches(dcn, valid)
    baselines = {"coarse": evaluation.error_rate(evaluation.inference_function(coarse_model),
                                                 valid),
                 "fine": evaluation.error_rate(evaluation.inference_function(fine_model),
                                               valid)}
    bridged = tf.function(lambda images: dcn.attend(images, 1)["coarse_probabilities"])
    result = {
        "bridge_window": dcn.bridge,
        "fine_view": dcn.config.fine_view,
        "bridge_r2_fit": bridge_r2(dcn, fine_model, train),
        "bridge_r2_valid": bridge_r2(dcn, fine_model, valid),
        "valid_error_bridged_coarse_map": evaluation.error_rate(bridged, valid),
        "valid_error_versus_patches": curve,
        "valid_error": baselines,
        "multiplications_relative_to_fine": {
            k: multiplications.count(dcn.config, k, bridge=bridge)["dcn"]["total"] / fine_total
            for k in curve},
    }
    lines = [f"Bridge: {dcn.bridge}x{dcn.bridge} linear map, R^2 {result['bridge_r2_fit']:.3f}"
             f" on its fitting images, {result['bridge_r2_valid']:.3f} on validation images.",
             "", "| k | validation error | multiplications / fine model's |", "|---:|---:|---:|",
             f"| 0 (bridged coarse map) | {100 * result['valid_error_bridged_coarse_map']:.2f}%"
             " | |"]
    lines += [f"| {k} | {100 * error:.2f}% | "
              f"{result['multiplications_relative_to_fine'][k]:.2f} |"
              for k, error in curve.items()]
    lines += ["", f"Coarse model {100 * baselines['coarse']:.2f}%, fine model "
              f"{100 * baselines['fine']:.2f}% on the same validation images."]
    visualize.plot_error_versus_patches(
        {"DCN composed at test time": curve},
        {f"{kind} model": error for kind, error in baselines.items()},
        pathlib.Path(out_dir) / "error_vs_patches.png", "validation images")
    return results.write(out_dir, result, "\n".join(lines) + "\n")
