"""Side-by-side speed benchmark of the Cluttered MNIST coarse, fine and DCN models
(`dcn bench`).

Everything is timed in one process, interleaved, after warm-up, with medians
over repeats: ratios are what matter, and they are only meaningful when the
models ran under the same conditions.
"""

from __future__ import annotations

import functools
import json
import pathlib
import sys

import numpy as np
import tensorflow as tf

from dcn_keras import measure, seeds, training
from dcn_keras.classifier.config import DCNConfig
from dcn_keras.classifier.model import DynamicCapacityNetwork
from dcn_keras.cluttered_mnist import evaluation, multiplications
from dcn_keras.cluttered_mnist.config import cluttered_mnist
from dcn_keras.cluttered_mnist.family import ClutteredMnistFamily
from dcn_keras.core import patches, saliency
from dcn_keras.data import tfrecords

# The k that the speed tables time: where DCN runs several times faster than the fine model
# (the error curves of `evaluation.PATCH_COUNTS` go on to k = 32 for composed DCNs).
PATCH_COUNTS = (1, 2, 4, 8, 16)


def device_name() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else "CPU"


def load_or_build(config: DCNConfig, models_dir=None) -> dict:
    """{coarse, fine, dcn} models: trained ones from `models_dir` (the first seed that has
    all three, `seeds.first_complete`), else freshly initialised."""
    family = ClutteredMnistFamily(config)
    kinds = ("coarse", "fine", "dcn")
    if models_dir is None:
        return {kind: family.build(kind) for kind in kinds}
    return {kind: training.load_model(path, family)
            for kind, path in seeds.first_complete(models_dir, kinds).items()}


def random_batch(config: DCNConfig, batch_size: int, seed: int = 0):
    images = np.random.default_rng(seed).random((batch_size, *config.image_shape), np.float32)
    labels = np.arange(batch_size) % config.num_classes
    return images, labels


def inference(models: dict, images, ks=PATCH_COUNTS, repeats: int = 20) -> dict:
    """Median ms and images/s of coarse, fine and DCN at every k, in graph mode and with XLA.

    Keys are `coarse`, `fine`, `dcn_k{k}`, each also with an `_xla` suffix.
    """
    functions = {}
    for jit, suffix in ((False, ""), (True, "_xla")):
        functions["coarse" + suffix] = evaluation.inference_function(models["coarse"],
                                                                     jit_compile=jit)
        functions["fine" + suffix] = evaluation.inference_function(models["fine"],
                                                                   jit_compile=jit)
        for k in ks:
            functions[f"dcn_k{k}{suffix}"] = evaluation.inference_function(
                models["dcn"], k, jit_compile=jit)
    times = measure.time_side_by_side(functions, tf.convert_to_tensor(images),
                                      repeats=repeats)
    return _medians(times, len(images))


def dcn_stages(model: DynamicCapacityNetwork, images, repeats: int = 20) -> dict:
    """Median ms of the cumulative prefixes of DCN inference, to see where time goes.

    Each stage runs everything before it too (its own `tf.function`), so the
    difference between consecutive stages is that stage's cost. The stages are the
    model's public methods.
    """
    names = ("coarse_layers", "saliency_and_top_k", "patch_gather", "fine_layers",
             "refined_top")
    # One `functools.partial` per stage, not a closure: TensorFlow counts traces per code
    # object and would call five stages of one closure retracing.
    functions = {name: tf.function(functools.partial(_dcn_prefix, model, name))
                 for name in names}
    times = measure.time_side_by_side(functions, tf.convert_to_tensor(images), repeats=repeats)
    return measure.medians_ms(times)


def _dcn_prefix(model: DynamicCapacityNetwork, stage: str, x):
    """DCN inference up to and including `stage` of `dcn_stages`."""
    coarse = model.coarse_features(x)
    if stage == "coarse_layers":
        return coarse
    sal, _, coarse_top = model.coarse_saliency(coarse)
    positions = saliency.top_k_positions(sal, model.num_patches)
    if stage == "saliency_and_top_k":
        return positions
    cut = model.cut_patches(x, positions)
    if stage == "patch_gather":
        return cut
    fine = model.fine_vectors(cut)
    if stage == "fine_layers":
        return fine
    return model.refined_logits(coarse, coarse_top, fine, positions)


def patch_methods(model: DynamicCapacityNetwork, images, ks=PATCH_COUNTS,
                  repeats: int = 20) -> dict:
    """Median ms of cutting the k most salient patches with each `core.patches` method
    (the cut alone, positions computed once), and of the whole DCN at the model's k with
    each: why "gather" is the default."""
    images = tf.convert_to_tensor(images)
    grid = model.geometry.grid
    sal, _, _ = model.coarse_saliency(model.coarse_features(images))
    functions = {}
    for k in ks:
        positions = saliency.top_k_positions(sal, k)
        for method in patches.METHODS:
            functions[f"{method}_k{k}"] = tf.function(functools.partial(
                patches.cut_patches, positions=positions, grid=grid, method=method))
    reference = DynamicCapacityNetwork.from_config(
        {**model.get_config(), "patch_method": "extract_patches"})
    reference.set_weights(model.get_weights())
    for method, dcn in (("gather", model), ("extract_patches", reference)):
        functions[f"dcn_{method}"] = evaluation.inference_function(dcn)
    times = measure.medians_ms(measure.time_side_by_side(functions, images, repeats=repeats))
    return {"num_patches": model.num_patches,
            "cut_ms": {method: {k: times[f"{method}_k{k}"] for k in ks}
                       for method in patches.METHODS},
            "dcn_ms": {method: times[f"dcn_{method}"] for method in patches.METHODS}}


def training_steps(config: DCNConfig, images, labels, repeats: int = 8) -> dict:
    """Median images/s of one training step (Adam) of the fine model and of DCN with hints."""
    family = ClutteredMnistFamily(config)
    models = {kind: family.build(kind) for kind in ("fine", "dcn")}
    for model in models.values():
        family.compile(model, 1e-3, 1000)
    steps = {kind: (lambda model=model: model.train_on_batch(images, labels))
             for kind, model in models.items()}
    times = measure.time_side_by_side(steps, repeats=repeats)
    return _medians(times, len(images))


def _medians(times: dict[str, list[float]], batch_size: int) -> dict:
    """Median ms per call and images/s of each timed function."""
    return {name: {"median_ms": ms, "images_per_second": 1e3 * batch_size / ms}
            for name, ms in measure.medians_ms(times).items()}


def peak_memory_mb(config: DCNConfig, batch_size: int, kinds=("coarse", "fine", "dcn")) -> dict:
    """Resident memory (MiB) that inference of each model adds, each in a fresh process.

    Linux only: the probe traces the function first, resets the process's peak
    RSS (/proc/self/clear_refs), runs inference, and reports the peak over the
    RSS before it: the memory that running the model needs (activations and
    workspace), without the TensorFlow import and tracing that dominate the
    process-wide peak.
    """
    size = f"{config.image_shape[0]}x{config.image_shape[1]}"
    return {kind: measure.probe_in_fresh_process("dcn_keras.cluttered_mnist.speed", size,
                                                 kind, str(batch_size))
            for kind in kinds}


def _memory_probe(size: str, kind: str, batch_size: int) -> dict:
    config = cluttered_mnist().resized(*(int(v) for v in size.split("x")))
    model = ClutteredMnistFamily(config).build(kind)
    function = evaluation.inference_function(model).get_concrete_function(
        tf.TensorSpec([batch_size, *config.image_shape], tf.float32))
    images = tf.convert_to_tensor(random_batch(config, batch_size)[0])
    return measure.inference_memory_mb(function, images)


def ratios(timings: dict, ks=PATCH_COUNTS) -> dict:
    """fine/DCN speed-up and DCN/coarse cost at every k, per compilation mode."""
    result = {}
    for mode, suffix in (("graph", ""), ("xla", "_xla")):
        ms = {name: timings[name + suffix]["median_ms"]
              for name in ("coarse", "fine", *(f"dcn_k{k}" for k in ks))}
        result[mode] = {"fine_over_dcn": {k: ms["fine"] / ms[f"dcn_k{k}"] for k in ks},
                        "dcn_over_coarse": {k: ms[f"dcn_k{k}"] / ms["coarse"] for k in ks}}
    return result


def summary(result: dict) -> str:
    """A human-readable table of a `run` result."""
    lines = [f"{result['preset']} {result['input_size'][0]}x{result['input_size'][1]}, batch "
             f"{result['batch_size']}, {result['device']}, {result['inputs']}, weights "
             f"{result['weights']}, median of {result['repeats']}",
             f"{'':<10}{'----- graph mode -----':>32}{'------ XLA ------':>28}",
             f"{'model':<10}{'mults':>9}{'ms':>9}{'images/s':>10}{'fine/x':>8}"
             f"{'ms':>10}{'images/s':>10}{'fine/x':>8}"]
    timings, mults = result["inference"], result["multiplications"]
    rows = [("coarse", "coarse", mults["coarse"]), ("fine", "fine", mults["fine"])]
    rows += [(f"DCN k={k}", f"dcn_k{k}", mults["dcn"][k]) for k in PATCH_COUNTS]
    for label, key, count in rows:
        line = f"{label:<10}{count / 1e6:>8.1f}M"
        for suffix, width in (("", 9), ("_xla", 10)):
            entry = timings[key + suffix]
            speedup = timings["fine" + suffix]["median_ms"] / entry["median_ms"]
            line += (f"{entry['median_ms']:>{width}.2f}{entry['images_per_second']:>10.0f}"
                     f"{speedup:>7.2f}x")
        lines.append(line)
    stages = result["dcn_stages"]
    previous, parts = 0.0, []
    for name, cumulative in stages["cumulative_ms"].items():
        parts.append(f"{name} {cumulative - previous:.2f}")
        previous = cumulative
    lines.append(f"DCN k={stages['num_patches']} by stage (ms, graph mode): {', '.join(parts)}")
    if "patch_methods" in result:
        methods = result["patch_methods"]
        for method, cuts in methods["cut_ms"].items():
            lines.append(f"cutting k patches with {method} (ms): " + ", ".join(
                f"k={k} {ms:.2f}" for k, ms in cuts.items()) + f"; whole DCN k="
                f"{methods['num_patches']} {methods['dcn_ms'][method]:.2f}")
    if "training" in result:
        t = result["training"]
        lines.append(f"training step images/s: fine {t['fine']['images_per_second']:.0f}, "
                     f"DCN with hints {t['dcn']['images_per_second']:.0f} "
                     f"({t['dcn_over_fine_images_per_second']:.2f}x)")
    if "memory" in result:
        lines.append("memory added by inference (MiB): " + ", ".join(
            f"{kind} {m['inference_mb']:.0f}" for kind, m in result["memory"].items()))
    return "\n".join(lines)


def run(config: DCNConfig, batch_size: int, models_dir=None, data_dir=None,
        repeats: int = 20, train: bool = True, memory: bool = True) -> dict:
    """The whole benchmark as one JSON-ready dict."""
    models = load_or_build(config, models_dir)
    if data_dir is not None:
        test = tfrecords.dataset(pathlib.Path(data_dir) / "test.tfrecord", config.image_shape,
                                 batch_size)
        images, labels = evaluation.first_batch(test, batch_size)
        inputs = f"first {len(images)} test images of {data_dir}"
    else:
        images, labels = random_batch(config, batch_size)
        inputs = f"{batch_size} uniform random images"
    timings = inference(models, images, repeats=repeats)
    counts = {k: multiplications.count(config, k) for k in PATCH_COUNTS}
    result = {
        "preset": config.name,
        "input_size": list(config.image_shape[:2]),
        "batch_size": batch_size,
        "device": device_name(),
        "inputs": inputs,
        "weights": str(models_dir) if models_dir else "freshly initialised",
        "repeats": repeats,
        "inference": timings,
        "ratios": ratios(timings),
        "multiplications": {
            "coarse": counts[8]["coarse_model"]["total"],
            "fine": counts[8]["fine_model"]["total"],
            "dcn": {k: counts[k]["dcn"]["total"] for k in PATCH_COUNTS},
        },
    }
    result["dcn_stages"] = {"num_patches": models["dcn"].num_patches,
                            "cumulative_ms": dcn_stages(models["dcn"], images, repeats)}
    result["patch_methods"] = patch_methods(models["dcn"], images, repeats=repeats)
    if models_dir is not None and data_dir is not None:
        result["test_error"] = {
            "coarse": evaluation.error_rate(evaluation.inference_function(models["coarse"]), test),
            "fine": evaluation.error_rate(evaluation.inference_function(models["fine"]), test),
            "dcn": evaluation.error_versus_patches(models["dcn"], test, PATCH_COUNTS),
        }
    if train:
        steps = training_steps(config, images, labels, repeats=max(3, repeats // 3))
        result["training"] = {**steps, "dcn_over_fine_images_per_second":
                              steps["dcn"]["images_per_second"]
                              / steps["fine"]["images_per_second"]}
    if memory:
        result["memory"] = peak_memory_mb(config, batch_size)
    return result


if __name__ == "__main__":
    # Internal entry point of `peak_memory_mb`: memory-probe HxW KIND BATCH.
    _, command, input_size, model_kind, batch = sys.argv
    if command != "memory-probe":
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(_memory_probe(input_size, model_kind, int(batch))))
