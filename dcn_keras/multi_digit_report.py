"""The multi-digit comparison (paper Table 2): coarse, fine, soft attention and DCN at 1-3
scales on original-size test images, inference times, and the selected patches (Figure 6)."""

from __future__ import annotations

import json
import pathlib
import statistics
import time

import tensorflow as tf

from dcn_keras import atomic, multi_digit
from dcn_keras.multi_digit_dcn import MultiDigitDCN, MultiDigitModel, average_over_scales

SCALES = (1.0, 0.75, 0.5)


def predictors(dcn: MultiDigitDCN) -> dict:
    """{model name: graph function `[1, H, W, C]` -> (length, digits)} at one scale, for
    the DCN's coarse and fine models, soft attention and the DCN."""
    coarse, fine = dcn.coarse, dcn.fine
    spec = [tf.TensorSpec([1, None, None, coarse.config.channels], tf.float32)]
    return {
        "Coarse model": tf.function(coarse.predict_sequence_probabilities,
                                    input_signature=spec),
        "Fine model": tf.function(fine.predict_sequence_probabilities, input_signature=spec),
        "Soft-attention": tf.function(
            lambda x: coarse.predict_sequence_probabilities(x, "soft_attention"),
            input_signature=spec),
        f"DCN, {dcn.num_patches} patches": tf.function(dcn.predict_one_scale,
                                                       input_signature=spec),
    }


def sequence_error(predict, examples, scales, minimum_size) -> float:
    """Fraction of `examples` whose whole sequence is read wrong."""
    wrong = 0
    for example in examples:
        length, digits = average_over_scales(predict, example["image"][None], scales,
                                             minimum_size)
        predicted = multi_digit.best_sequence(length, digits)
        wrong += int(multi_digit.sequence_errors(*predicted, example["length"][None],
                                                 example["digits"][None])[0])
    return wrong / max(1, len(examples))


def mean_times(functions: dict, images, repeats: int = 3) -> dict[str, float]:
    """Mean over `images` of the median of `repeats` timed calls, in ms; the functions are
    called interleaved on each image after one warm-up call."""
    times = {name: [] for name in functions}
    for image in images:
        batch = tf.constant(image[None])
        for function in functions.values():
            tf.nest.map_structure(lambda t: t.numpy(), function(batch))
        samples = {name: [] for name in functions}
        for _ in range(repeats):
            for name, function in functions.items():
                start = time.perf_counter()
                tf.nest.map_structure(lambda t: t.numpy(), function(batch))
                samples[name].append(time.perf_counter() - start)
        for name in functions:
            times[name].append(1000 * statistics.median(samples[name]))
    return {name: statistics.fmean(values) for name, values in times.items()}


def compare(coarse: MultiDigitModel, fine: MultiDigitModel, examples: list[dict], data: str,
            machine: str, out_dir, num_patches: int | None = None,
            largest: int = 100) -> dict:
    """Table 2 on `examples` (original-size test images), times on the `largest` of them,
    written to `out_dir` as results.json, results.md and patches.png."""
    from dcn_keras import visualize

    dcn = MultiDigitDCN(coarse, fine, num_patches)
    functions = predictors(dcn)
    rows = []
    for name, predict in functions.items():
        for n in (1, 2, 3):
            rows.append({"model": f"{name}, {n} scale{'s' if n > 1 else ''}", "scales": n,
                         "test_error": sequence_error(predict, examples, SCALES[:n],
                                                      coarse.config.crop_size)})
    big = sorted(examples, key=lambda e: e["image"].shape[0] * e["image"].shape[1])[-largest:]
    times = mean_times(functions, [e["image"] for e in big])
    sizes = [list(e["image"].shape[:2]) for e in big]
    result = {"data": data, "machine": machine, "num_patches": dcn.num_patches,
              "scales": list(SCALES),
              "rows": rows, "timing": {"images": len(big), "smallest": min(sizes),
                                       "largest": max(sizes), "mean_ms": times}}
    lines = ["| Model | Sequence error |", "|---|---:|"]
    lines += [f"| {row['model']} | {100 * row['test_error']:.1f}% |" for row in rows]
    lines += ["", f"Mean inference time, batch 1, one scale, on the {len(big)} largest test "
              f"images ({min(sizes)[0]}x{min(sizes)[1]} to {max(sizes)[0]}x{max(sizes)[1]}):", ""]
    lines += [f"- {name}: {ms:.1f} ms" for name, ms in times.items()]
    lines += ["", f"Data: {data}", f"Machine: {machine}"]
    text = "\n".join(lines) + "\n"
    out_dir = pathlib.Path(out_dir)
    shown = examples[:6]
    visualize.plot_sequence_patches(shown, [dcn.attend(e["image"][None]) for e in shown],
                                    out_dir / "patches.png")
    atomic.write_text(out_dir / "results.json", json.dumps(result, indent=2))
    atomic.write_text(out_dir / "results.md", text)
    return {"result": result, "markdown": text}
