"""The multi-digit comparison (paper Table 2): coarse, fine, soft attention and DCN at 1-3
scales on original-size test images, inference times, and the selected patches (Figure 6)."""

from __future__ import annotations

import pathlib
import statistics

import numpy as np
import tensorflow as tf

from dcn_keras import measure
from dcn_keras.multi_digit import sequences
from dcn_keras.multi_digit.dcn import MultiDigitDCN, pad_batch, rescale


def predictors(dcn: MultiDigitDCN) -> dict:
    """{model name: graph function (`[b, H, W, C]` zero-padded images, `[b, 2]` sizes) ->
    (length, digits)} at one scale, for the DCN's coarse and fine models, soft attention
    and the DCN."""
    coarse, fine = dcn.coarse, dcn.fine
    spec = [tf.TensorSpec([None, None, None, coarse.config.channels], tf.float32),
            tf.TensorSpec([None, 2], tf.int32)]
    return {
        "Coarse model": tf.function(coarse.predict_sequence_probabilities,
                                    input_signature=spec),
        "Fine model": tf.function(fine.predict_sequence_probabilities, input_signature=spec),
        "Soft-attention": tf.function(
            lambda x, s: coarse.predict_sequence_probabilities(x, s, top="soft_attention"),
            input_signature=spec),
        f"DCN, {dcn.num_patches} patches": tf.function(dcn.predict_one_scale,
                                                       input_signature=spec),
    }


def size_batches(examples: list[dict], batch_size: int) -> list[list[int]]:
    """Indices of `examples` in batches of similar image area, so that padding to the
    largest image of a batch wastes little."""
    order = sorted(range(len(examples)),
                   key=lambda i: examples[i]["image"].shape[0] * examples[i]["image"].shape[1])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def sequence_errors_by_scales(predict, examples: list[dict], scales, minimum_size,
                              batch_size: int = 8, desc: str = "") -> list[float]:
    """Sequence error of `predict` averaged over the first 1, 2, ... len(scales) scales:
    the fraction of `examples` (original sizes, batched padded) read wrong. Each scale is
    predicted once."""
    from tqdm import tqdm

    wrong = [0] * len(scales)
    for batch in tqdm(size_batches(examples, batch_size), desc=desc, unit="batch",
                      leave=False):
        images, sizes = pad_batch([examples[i]["image"] for i in batch])
        length = tf.constant([examples[i]["length"] for i in batch])
        digits = tf.constant(np.stack([examples[i]["digits"] for i in batch]))
        outputs = [predict(*rescale(images, sizes, scale, minimum_size)) for scale in scales]
        for n in range(1, len(scales) + 1):
            averaged = [tf.add_n(list(parts)) / n for parts in zip(*outputs[:n])]
            predicted = sequences.best_sequence(*averaged)
            wrong[n - 1] += int(tf.reduce_sum(tf.cast(
                sequences.sequence_errors(*predicted, length, digits), tf.int32)))
    return [count / max(1, len(examples)) for count in wrong]


def batch_one_times(functions: dict, images) -> dict[str, dict[str, float]]:
    """Mean and median ms of one batch-1 call per image of `images`, for each of `functions`
    (`measure.time_per_input`: interleaved image by image, after one warm-up call each)."""
    inputs = [(tf.constant(image[None]), tf.constant([image.shape[:2]], tf.int32))
              for image in images]
    times = measure.time_per_input(functions, inputs)
    return {"mean_ms": {name: 1e3 * statistics.fmean(v) for name, v in times.items()},
            "median_ms": measure.medians_ms(times)}


def compare(dcn: MultiDigitDCN, examples: list[dict], data: str, machine: str, out_dir,
            largest: int = 100, scales: tuple[float, ...] | None = None) -> dict:
    """Table 2 for the DCN and the coarse and fine models it holds, on `examples`
    (original-size test images), averaged over the first 1, 2, ... of `scales` (default:
    the DCN's), with times on the `largest` of them, written to `out_dir` as results.json,
    results.md and patches.png."""
    from dcn_keras import results, visualize

    coarse = dcn.coarse
    scales = tuple(scales or dcn.scales)
    functions = predictors(dcn)
    rows = []
    for name, predict in functions.items():
        errors = sequence_errors_by_scales(predict, examples, scales, coarse.config.crop_size,
                                           desc=name)
        rows += [{"model": f"{name}, {n} scale{'s' if n > 1 else ''}", "name": name,
                  "scales": n, "test_error": error} for n, error in enumerate(errors, start=1)]
    big = sorted(examples, key=lambda e: e["image"].shape[0] * e["image"].shape[1])[-largest:]
    times = batch_one_times(functions, [e["image"] for e in big])
    sizes = [list(e["image"].shape[:2]) for e in big]
    result = {"data": data, "machine": machine, "num_patches": dcn.num_patches,
              "scales": list(scales),
              "rows": rows, "timing": {"images": len(big), "smallest": min(sizes),
                                       "largest": max(sizes), **times}}
    lines = ["| Model | Sequence error |", "|---|---:|"]
    lines += [f"| {row['model']} | {100 * row['test_error']:.1f}% |" for row in rows]
    lines += ["", f"Mean inference time, batch 1, one scale, on the {len(big)} largest test "
              f"images ({min(sizes)[0]}x{min(sizes)[1]} to {max(sizes)[0]}x{max(sizes)[1]}):", ""]
    lines += [f"- {name}: {ms:.1f} ms" for name, ms in times["mean_ms"].items()]
    lines += ["", f"Data: {data}", f"Machine: {machine}"]
    text = "\n".join(lines) + "\n"
    out_dir = pathlib.Path(out_dir)
    shown = examples[:6]
    visualize.plot_sequence_patches(shown, [dcn.attend(e["image"][None]) for e in shown],
                                    out_dir / "patches.png")
    return results.write(out_dir, result, text)
