"""Pictures of what DCN saw and how it trained (matplotlib, PNG)."""

from __future__ import annotations

import csv
import os
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dcn_keras.atomic import atomic_path  # noqa: E402


def _save(figure, path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(figure)


def plot_patches(images, attention: dict, labels, path: str | os.PathLike,
                 columns: int = 4, panel_inches: float = 2.6) -> None:
    """Test images with their selected patches (brightest = most salient) and saliency maps.

    Args:
      images: `[n, H, W, 1]`; attention: `DynamicCapacityNetwork.attend` output;
      labels: `[n]` true labels, or None where unknown. Arrays or tensors.
      panel_inches: the width of one image (a megapixel canvas needs more to show a digit).
    """
    images = np.asarray(images)
    attention = {key: np.asarray(value) for key, value in attention.items()}
    n = len(images)
    rows = -(-n // columns)
    figure, axes = plt.subplots(2 * rows, columns,
                                figsize=(panel_inches * columns, 2.08 * panel_inches * rows))
    axes = np.asarray(axes).reshape(2 * rows, columns)
    predicted = attention["probabilities"].argmax(-1)
    coarse = attention["coarse_probabilities"].argmax(-1)
    for index in range(2 * rows * columns):
        axes.flat[index].axis("off")
    for index in range(n):
        row, column = divmod(index, columns)
        image_axis, map_axis = axes[2 * row, column], axes[2 * row + 1, column]
        image_axis.imshow(images[index, ..., 0], cmap="gray", vmin=0, vmax=1)
        boxes = attention["boxes"][index]
        for rank, (top, left, bottom, right) in enumerate(boxes):
            shade = plt.cm.autumn(rank / max(1, len(boxes) - 1))
            image_axis.add_patch(plt.Rectangle((left - 0.5, top - 0.5), right - left,
                                               bottom - top, fill=False, lw=1.2, color=shade))
        true = "" if labels is None else f"true {np.asarray(labels)[index]}  "
        image_axis.set_title(f"{true}coarse {coarse[index]}  DCN {predicted[index]}",
                             fontsize=8)
        map_axis.imshow(attention["saliency"][index], cmap="magma")
        map_axis.set_title("entropy-gradient saliency", fontsize=8)
    _save(figure, path)


def plot_error_versus_patches(curves: dict[str, dict[int, float]], baselines: dict[str, float],
                              path: str | os.PathLike, title: str) -> None:
    """Test error against k for each DCN, with the baselines as horizontal lines."""
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for name, curve in curves.items():
        ks = sorted(curve)
        axis.plot(ks, [100 * curve[k] for k in ks], marker="o", label=name)
    for (name, error), style in zip(baselines.items(), ("--", ":", "-.")):
        axis.axhline(100 * error, color="gray", linestyle=style, label=name)
    _patch_axis(axis, sorted(next(iter(curves.values()))))
    axis.set_ylabel("test error (%)")
    axis.set_title(textwrap.fill(title, 90), fontsize=6)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    _save(figure, path)


def _patch_axis(axis, ks) -> None:
    axis.set_xscale("log", base=2)
    axis.set_xticks(ks, [str(k) for k in ks])
    axis.set_xlabel("number of patches k")


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """A Keras CSVLogger file as {column: values}."""
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    return {key: [float(row[key]) for row in rows] for key in rows[0]} if rows else {}


def plot_training_curves(history: dict[str, list[float]], path: str | os.PathLike,
                         title: str) -> None:
    """Loss and accuracy (sequence error for house-numbers models) per epoch, training and
    validation, from a Keras history CSV."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    epochs = [int(e) + 1 for e in history["epoch"]]
    score = "sequence_error" if "sequence_error" in history else "accuracy"
    for axis, metric in zip(axes, ("loss", score)):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + metric in history:
                axis.plot(epochs, history[prefix + metric], style, marker="o",
                          label=("validation " if prefix else "training ") + metric)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(textwrap.fill(title, 110), fontsize=8)
    _save(figure, path)


def plot_hint_distance(histories: dict[str, dict[str, list[float]]],
                       path: str | os.PathLike) -> None:
    """Squared coarse-fine distance over selected patches per epoch (paper Figure 2)."""
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for name, history in histories.items():
        epochs = np.arange(1, len(history["hint_distance"]) + 1)
        line, = axis.plot(epochs, history["hint_distance"], label=f"{name} (train)")
        if "val_hint_distance" in history:
            axis.plot(epochs, history["val_hint_distance"], linestyle="--",
                      color=line.get_color(), label=f"{name} (valid)")
    axis.set_xlabel("epoch")
    axis.set_ylabel("sum over patches of ||f_c - f_f||^2")
    axis.set_yscale("log")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    _save(figure, path)


def plot_benchmark(result: dict, path: str | os.PathLike) -> None:
    """Time per batch (and test error, when measured) against k, baselines as lines, from
    a `dcn bench` result (in memory, or read back from its JSON)."""
    timings = result["inference"]
    ks = sorted(int(name[5:]) for name in timings
                if name.startswith("dcn_k") and name[5:].isdigit())
    panels = 2 if "test_error" in result else 1
    figure, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), squeeze=False)
    axis = axes[0, 0]
    for suffix, mode, color in (("", "graph", "C0"), ("_xla", "XLA", "C1")):
        axis.plot(ks, [timings[f"dcn_k{k}{suffix}"]["median_ms"] for k in ks],
                  marker="o", color=color, label=f"DCN ({mode})")
        axis.axhline(timings["fine" + suffix]["median_ms"], color=color, linestyle="--",
                     label=f"fine model ({mode})")
        axis.axhline(timings["coarse" + suffix]["median_ms"], color=color, linestyle=":",
                     label=f"coarse model ({mode})")
    axis.set_yscale("log")
    axis.set_ylabel(f"ms per batch of {result['batch_size']} (median)")
    axis.set_title(f"{result['preset']}, {result['device']}", fontsize=8)
    if panels == 2:
        errors = result["test_error"]
        axis = axes[0, 1]
        by_k = {int(k): error for k, error in errors["dcn"].items()}
        axis.plot(ks, [100 * by_k[k] for k in ks], marker="o",
                  label="DCN")
        axis.axhline(100 * errors["fine"], color="gray", linestyle="--", label="fine model")
        axis.axhline(100 * errors["coarse"], color="gray", linestyle=":", label="coarse model")
        axis.set_ylabel("test error (%)")
    for axis in axes[0]:
        _patch_axis(axis, ks)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    _save(figure, path)


def plot_multiplications_versus_size(counts: list[dict], path: str | os.PathLike) -> None:
    """Multiplications of each model against the input's pixel count (paper Figure 5), from
    `house_numbers.multiplications.count` results for several input sizes."""
    figure, axis = plt.subplots(figsize=(5.8, 4))
    pixels = [c["input_size"][0] * c["input_size"][1] for c in counts]
    for name, label, style in (("coarse_model", "Coarse model", "s-"),
                               ("fine_model", "Fine model", "o-"),
                               ("dcn", f"DCN, {counts[0]['num_patches']} patches", "^-")):
        axis.plot(pixels, [c[name]["total"] / 1e9 for c in counts], style, label=label)
    axis.set_xlabel("input pixels (height x width)")
    axis.set_ylabel("multiplications (billions)")
    axis.set_title(f"{counts[0]['preset']}: multiplications per image", fontsize=9)
    for count, x in zip(counts, pixels):
        if count is counts[-1] or count is counts[0]:
            axis.annotate("{}x{}".format(*count["input_size"]), (x, count["fine_model"]["total"]
                                                                  / 1e9), fontsize=7)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path)


def plot_scaling(rows: list[dict], titles: dict[str, str], path: str | os.PathLike) -> None:
    """Time and memory per image against the image side, one line per model, from rows
    {"model", "side", "ms_per_image"[, "inference_mib", "tensor_peak_mib"]}
    (`megapixel_mnist.speed.scaling`); `titles` names the models."""
    panels = [("ms_per_image", "ms per image, batch 1")]
    if all("inference_mib" in row for row in rows):
        panels.append(("inference_mib", "resident memory inference adds (MiB)"))
    if all("tensor_peak_mib" in row for row in rows):
        panels.append(("tensor_peak_mib", "peak of tensors held (MiB)"))
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4), squeeze=False)
    for axis, (key, label) in zip(axes[0], panels):
        for model, title in titles.items():
            mine = sorted((row["side"], row[key]) for row in rows if row["model"] == model)
            if mine:
                axis.plot(*zip(*mine), "o-", label=title)
        axis.set_xlabel("image side (pixels)")
        axis.set_ylabel(label)
        axis.set_yscale("log")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=8)
    _save(figure, path)


def plot_sequence_patches(examples: list[dict], boxes: list, readings: list[str],
                          path: str | os.PathLike, caption: str = "") -> None:
    """Original-size test images with the DCN's selected patches (paper Figure 6), each
    titled with its truth, the DCN's reading and `caption`.

    Args:
      examples: dicts with `image` `[H, W, C]`, `digits` and `length` (`tfrecords.full_images`).
      boxes: per example, its `[1, k, 4]` or `[k, 4]` (top, left, bottom, right) boxes, most
        salient first (`MultiDigitDCN.attend(...)["boxes"]`); arrays or tensors.
      readings: per example, the digits the DCN reads (`sequences.readings`).
    """
    figure, axes = plt.subplots(len(examples), 1, figsize=(7, 2.6 * len(examples)))
    for axis, example, picked, read in zip(np.atleast_1d(axes), examples, boxes, readings):
        axis.imshow(example["image"][..., 0], cmap="gray", vmin=0, vmax=1)
        picked = np.asarray(picked).reshape(-1, 4)
        for rank, (top, left, bottom, right) in enumerate(picked):
            axis.add_patch(plt.Rectangle((left - 0.5, top - 0.5), right - left, bottom - top,
                                         fill=False, lw=1.2,
                                         color=plt.cm.autumn(rank / max(1, len(picked) - 1))))
        truth = "".join(str(d) for d in example["digits"][:int(example["length"])])
        axis.set_title(f"true {truth}   DCN reads {read} {caption}".rstrip(), fontsize=8)
        axis.axis("off")
    _save(figure, path)
