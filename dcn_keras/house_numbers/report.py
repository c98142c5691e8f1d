"""The house-numbers comparison (paper Table 2): coarse, fine, soft attention and DCN at 1-3
scales on original-size test images, inference times, and the selected patches (Figure 6)."""

from __future__ import annotations

import contextlib
import functools
import pathlib
import re
import shutil
import statistics

import numpy as np
import tensorflow as tf

from dcn_keras import measure, progress, results, resumable, visualize
from dcn_keras.data import house_numbers
from dcn_keras.house_numbers import sequences
from dcn_keras.house_numbers.dcn import MultiDigitDCN, pad_batch, rescale


def predictors(dcn: MultiDigitDCN) -> dict:
    """{model name: graph function (`[b, H, W, C]` zero-padded images, `[b, 2]` sizes) ->
    (length, digits)} at one scale, for the DCN's coarse and fine models, soft attention
    and the DCN."""
    coarse, fine = dcn.coarse, dcn.fine
    return {
        "Coarse model": graph_function(coarse.predict_sequence_probabilities, coarse),
        "Fine model": graph_function(fine.predict_sequence_probabilities, coarse),
        "Soft-attention": graph_function(
            lambda x, s: coarse.predict_sequence_probabilities(x, s, top="soft_attention"),
            coarse),
        f"DCN, {dcn.num_patches} patches": graph_function(dcn.predict_one_scale, coarse),
    }


def size_batches(examples: list[dict], batch_size: int) -> list[list[int]]:
    """Indices of `examples` in batches of similar image area, so that padding to the
    largest image of a batch wastes little. The same images in any order fall into the same
    batches: an image resized in a padded batch is read a little differently beside a
    larger one (`rescale`), so the order of a split's shards must not change a table."""
    def key(i):
        image = examples[i]["image"]
        return (image.shape[0] * image.shape[1], image.shape, resumable.digest(image))

    order = sorted(range(len(examples)), key=key)
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def sequence_wrong_by_scales(predict, examples: list[dict], scales, minimum_size,
                             batch_size: int = 8, desc: str = "", merge=None,
                             progress_dir=None) -> np.ndarray:
    """`[len(scales), len(examples)]` bool: row n - 1 marks the `examples` (original sizes,
    batched padded) that `predict` reads wrong with its outputs at the first n scales
    merged by `merge` (a list of `predict` outputs -> (length, digits); default: the
    mean of (length, digits)). Each scale is predicted once.
    `progress_dir`: where the marks are saved as they come (`resumable.SavedMarks`, one
    file per `desc`), so that a rerun after a kill reads only the batches left."""
    shape = (len(scales), len(examples))
    name = re.sub(r"[^A-Za-z0-9]+", "_", desc).strip("_") or "marks"
    marks = resumable.SavedMarks(
        progress_dir and pathlib.Path(progress_dir) /
        f"{name}-{len(scales)}scales-batch{batch_size}.npz", shape)
    batches = size_batches(examples, batch_size)
    left = [batch for batch in batches if marks.pending(batch)]
    for batch in progress.bar(left, len(batches), desc, "batches",
                              done=len(batches) - len(left)):
        images, sizes = pad_batch([examples[i]["image"] for i in batch])
        length = tf.constant([examples[i]["length"] for i in batch])
        digits = tf.constant(np.stack([examples[i]["digits"] for i in batch]))
        outputs = [predict(*rescale(images, sizes, scale, minimum_size)) for scale in scales]
        wrong = []
        for n in range(1, len(scales) + 1):
            merged = (merge(outputs[:n]) if merge else
                      [tf.add_n(list(parts)) / n for parts in zip(*outputs[:n])])
            predicted = sequences.best_sequence(*merged)
            wrong.append(sequences.sequence_errors(*predicted, length, digits).numpy())
        marks.record(batch, np.stack(wrong))
    return marks.values


def rows_by_scales(wrong: np.ndarray, groups: dict[str, np.ndarray]) -> list[dict]:
    """One row per number of scales of `wrong` `[scales, images]` (as from
    `sequence_wrong_by_scales`): its error and standard error, and under each key of
    `groups` (such as "error_by_length": the `[images]` number lengths) the error and image
    count within each of the group's values."""
    rows = []
    for n, marks in enumerate(wrong, 1):
        error = float(marks.mean())
        rows.append({"scales": n, "test_error": error,
                     "standard_error": measure.standard_error(error, len(marks)),
                     **grouped(marks, groups)})
    return rows


def grouped(marks: np.ndarray, groups: dict[str, np.ndarray]) -> dict[str, dict]:
    """{key of `groups`: {value: {"test_error", "images"}}}: the error of the `[images]`
    wrong `marks` within each value of each group's `[images]` values (the first
    len(`marks`) of them)."""
    result = {}
    for key, values in groups.items():
        values = values[:len(marks)]
        result[key] = {str(value): {"test_error": float(marks[values == value].mean()),
                                    "images": int((values == value).sum())}
                       for value in np.unique(values)}
    return result


# Bins of `fitting_positions`, from images about one window large to large photographs;
# each holds a fifth to three tenths of the MNIST house numbers `test` images.
POSITION_BINS = ((1, 4), (5, 16), (17, 64), (65, None))


def fitting_positions(examples: list[dict], config, scales) -> np.ndarray:
    """`[images]` int: how many coarse map positions (`config.map_size`) each of `examples`
    has at the scale of `scales` that brings its digits nearest to the training digit
    height (`nearest_scales`), read as `dcn.rescale` reads it (padded up to one window)."""
    counts = []
    for example, scale in zip(examples, nearest_scales(examples, scales)):
        size = [max(int(round(side * scale)), crop)
                for side, crop in zip(example["image"].shape[:2], config.crop_size)]
        rows, columns = config.map_size(*size)
        counts.append(rows * columns)
    return np.array(counts)


def nearest_scales(examples: list[dict], scales) -> np.ndarray:
    """`[images]`: the scale of `scales` that brings each of `examples`' digits nearest to
    the training digit height (`house_numbers.nearest_scale` of its box's digit height)."""
    return np.array([house_numbers.nearest_scale(house_numbers.digit_height(e["box"]),
                                                   scales) for e in examples])


def position_bins(counts: np.ndarray) -> np.ndarray:
    """`[images]` labels of `POSITION_BINS` ("1-4", ..., "65+") for position `counts`."""
    labels = np.empty(len(counts), object)
    for low, high in POSITION_BINS:
        inside = (counts >= low) & (counts <= (high or np.inf))
        labels[inside] = f"{low}-{high}" if high else f"{low}+"
    return labels.astype(str)


def groups_of(examples: list[dict], scales, config) -> dict[str, np.ndarray]:
    """`rows_by_scales` groups of MNIST house numbers test `examples`: the scale of `scales`
    that brings each one's digits nearest to the training digit height, its length, and
    its coarse map positions at that scale (`position_bins`)."""
    return {"error_by_nearest_scale": nearest_scales(examples, scales),
            "error_by_length": np.array([int(e["length"]) for e in examples]),
            "error_by_positions": position_bins(fitting_positions(examples, config, scales))}


def _row(name: str, scales: int, wrong: np.ndarray, lengths: np.ndarray,
         groups: dict[str, np.ndarray], patches=None, label=None) -> dict:
    """A Table 2 row from the `[images]` bool wrong marks of model `name` at `scales` scales
    with `patches` fine patches in all (`label`, default name and patches, heads it), and
    its error per sequence length of the images (`lengths` `[images]`) and within each of
    `groups` (`grouped`: the scale that fits the digits, the map positions there)."""
    error = float(wrong.mean()) if len(wrong) else 0.0
    label = label or (name if patches is None else f"{name}, {patches} patches")
    lengths = lengths[:len(wrong)]
    return {"model": f"{label}, {scales} scale{'s' if scales > 1 else ''}", "name": name,
            "scales": scales, "patches": patches, "test_error": error,
            "standard_error": measure.standard_error(error, len(wrong)), "images": len(wrong),
            "error_by_length": {int(n): float(wrong[lengths == n].mean())
                                for n in np.unique(lengths)},
            "images_by_length": {int(n): int((lengths == n).sum()) for n in np.unique(lengths)},
            **grouped(wrong, groups)}


def batch_one_times(functions: dict, images) -> dict[str, dict[str, float]]:
    """Mean and median ms of one batch-1 call per image of `images`, for each of `functions`
    (`measure.time_per_input`: interleaved image by image, after one warm-up call each)."""
    inputs = [(tf.constant(image[None]), tf.constant([image.shape[:2]], tf.int32))
              for image in images]
    times = measure.time_per_input(functions, inputs)
    return {"mean_ms": {name: 1e3 * statistics.fmean(v) for name, v in times.items()},
            "median_ms": measure.medians_ms(times)}


PAPER_DCN = ("entropy_gradient", "inverse_entropy")  # the paper's (attention, combination)
ALL_PATCHES = 2**30  # num_patches that takes every position of any image
ALL_PATCHES_BATCH = 256  # crops per fine-model call when reading all of them


def paper_patches(num_patches: int, scales: int) -> int:
    """Patches per scale of the DCN as Table 2 counts it: k at one scale, k / 2 per scale
    at more (6, 3 + 3 and 3 + 3 + 3 for k = 6; sec. 4.2.4)."""
    return num_patches if scales == 1 else max(1, num_patches // 2)


def table_2_rows(dcn: MultiDigitDCN, examples: list[dict], scales,
                 all_patches_images: int = 0, functions: dict | None = None,
                 progress_dir=None) -> list[dict]:
    """Table 2's rows on `examples`, each with its standard error: coarse, fine and soft
    attention at 1, 2, ... len(`scales`) scales; the DCN with k = `dcn.num_patches` per
    scale; the DCN as the paper counts it (k patches at one scale, k / 2 per scale at more:
    6, 6 and 9 patches for k = 6, sec. 4.2.4), and so counted with the paper's attention
    and combination too (`PAPER_DCN`) where `dcn` has others; and, on the first
    `all_patches_images` examples, the DCN with every patch at all scales (the paper's
    11.6%), whose row also gives the paper-style DCN's error on the same images and the
    paired difference.
    `functions`: `predictors(dcn)`, where the caller has them already.
    `progress_dir`: where each row's marks are saved as they come, for a rerun after a kill
    (`sequence_wrong_by_scales`); it must be this call's own (`compare` keys it by the
    models, images and scales)."""
    coarse, fine, k = dcn.coarse, dcn.fine, dcn.num_patches
    crop = coarse.config.crop_size
    functions = functions or predictors(dcn)
    dcn_name = f"DCN, {k} patches"
    wrong = {name: sequence_wrong_by_scales(predict, examples, scales, crop, desc=name,
                                            progress_dir=progress_dir)
             for name, predict in functions.items() if name != dcn_name}
    wrong[dcn_name] = dcn_wrong_by_scales(dcn, examples, scales, desc=dcn_name,
                                          progress_dir=progress_dir)
    groups = groups_of(examples, scales, coarse.config)
    # Table 2's rows keep error_by_length in the form the pipeline's report also writes.
    lengths = groups.pop("error_by_length")
    rows = [_row(name, n, wrong[name][n - 1], lengths, groups)
            for name in ("Coarse model", "Fine model", "Soft-attention")
            for n in range(1, len(scales) + 1)]
    rows += [_row("DCN, k per scale", n, wrong[dcn_name][n - 1], lengths, groups, k * n,
                  f"DCN, {k} patches per scale") for n in range(2, len(scales) + 1)]
    paper = _paper_counted(coarse, fine, k, scales, (dcn.attention, dcn.combination),
                           examples, first=wrong[dcn_name][0], progress_dir=progress_dir)
    half = paper_patches(k, len(scales))
    rows += [_row("DCN", n, paper[n - 1], lengths, groups, k if n == 1 else half * n)
             for n in range(1, len(scales) + 1)]
    if (dcn.attention, dcn.combination) != PAPER_DCN:
        name = "DCN as in the paper"
        rows += [_row(name, n, marks, lengths, groups, k if n == 1 else half * n)
                 for n, marks in enumerate(_paper_counted(coarse, fine, k, scales, PAPER_DCN,
                                                          examples,
                                                          progress_dir=progress_dir), 1)]
    if all_patches_images:
        subset = examples[:all_patches_images]
        every = MultiDigitDCN(coarse, fine, ALL_PATCHES, scales,
                              patch_batch=ALL_PATCHES_BATCH, combination=dcn.combination)
        every_wrong = dcn_wrong_by_scales(every, subset, scales, batch_size=1,
                                          desc="DCN, all patches",
                                          progress_dir=progress_dir)[-1]
        reference = paper[-1][:len(subset)]
        difference, spread = measure.paired_difference(every_wrong, reference)
        rows.append(_row("DCN, all patches", len(scales), every_wrong, lengths, groups, "all",
                         "DCN, all patches")
                    | {"same_images_dcn_error": float(reference.mean()),
                       "same_images_dcn_standard_error": measure.standard_error(
                           float(reference.mean()), len(subset)),
                       "paired_difference": difference,
                       "paired_difference_standard_error": spread})
    return rows


def _paper_counted(coarse, fine, k: int, scales, method: tuple[str, str],
                   examples: list[dict], first: np.ndarray | None = None,
                   progress_dir=None) -> list[np.ndarray]:
    """Wrong marks `[images]` of the DCN with `method` (attention, combination) as Table 2
    counts it, at 1, 2, ... len(`scales`) scales: k patches at one scale (`first`, where
    known), k / 2 per scale at more (`paper_patches`)."""
    attention, combination = method
    if first is None:
        one = MultiDigitDCN(coarse, fine, k, scales, attention=attention,
                            combination=combination)
        first = dcn_wrong_by_scales(one, examples, scales[:1],
                                    desc=f"DCN, {k} patches, {attention}, {combination}",
                                    progress_dir=progress_dir)[0]
    if len(scales) == 1:
        return [first]
    half = paper_patches(k, len(scales))
    split = MultiDigitDCN(coarse, fine, half, scales, attention=attention,
                          combination=combination)
    return [first, *dcn_wrong_by_scales(split, examples, scales,
                                        desc=f"DCN, {half} patches, {attention}, "
                                             f"{combination}",
                                        progress_dir=progress_dir)[1:]]


def dcn_wrong_by_scales(dcn: MultiDigitDCN, examples: list[dict], scales,
                        batch_size: int = 8, desc: str = "", progress_dir=None) -> np.ndarray:
    """`sequence_wrong_by_scales` of `dcn`, its picks merged over the scales as it merges
    them (`MultiDigitDCN.merge_scales`)."""
    return sequence_wrong_by_scales(graph_function(dcn.picks_one_scale, dcn.coarse), examples,
                                    scales, dcn.config.crop_size, batch_size, desc,
                                    merge=dcn.merge_scales, progress_dir=progress_dir)


def graph_function(function, coarse):
    """`function` (padded images, sizes) as a graph function for any batch of `coarse`'s
    images."""
    # Wrapped in a `functools.partial`: TensorFlow counts traces per code object, and the
    # same method of each DCN a report builds, traced once each, would read as retracing.
    return tf.function(functools.partial(function), input_signature=[
        tf.TensorSpec([None, None, None, coarse.config.channels], tf.float32),
        tf.TensorSpec([None, 2], tf.int32)])


def markdown_rows(rows: list[dict]) -> list[str]:
    """Table 2 as Markdown lines: model, sequence error, standard error, images."""
    lines = ["| Model | Sequence error | Standard error | Test images |", "|---|---:|---:|---:|"]
    for row in rows:
        note = ""
        if "same_images_dcn_error" in row:
            note = (f" (DCN as the paper counts it, on the same images: "
                    f"{100 * row['same_images_dcn_error']:.1f}%; difference "
                    f"{100 * row['paired_difference']:+.1f} ± "
                    f"{100 * row['paired_difference_standard_error']:.1f} points, paired)")
        lines.append(f"| {row['model']}{note} | {100 * row['test_error']:.1f}% | "
                     f"{100 * row['standard_error']:.1f} | {row['images']} |")
    return lines


def compare(dcn: MultiDigitDCN, examples: list[dict], data: str, machine: str, out_dir,
            largest: int = 100, scales: tuple[float, ...] | None = None,
            all_patches_images: int = 0, progress_dir=None) -> dict:
    """Table 2 (`table_2_rows`) for the DCN and the coarse and fine models it holds, on
    `examples` (original-size test images), averaged over the first 1, 2, ... of `scales`
    (default: the DCN's), with times on the `largest` of them, written to `out_dir` as
    results.json, results.md and patches.png.
    A killed run, rerun, resumes from the marks saved under `progress_dir` (default
    `out_dir`/.progress), in a folder keyed by the models' weights, the images and the
    settings, which is removed once the results are written."""
    scales = tuple(scales or dcn.scales)
    out_dir = pathlib.Path(out_dir)
    progress = pathlib.Path(progress_dir or out_dir / ".progress") / run_digest(
        dcn, examples, scales, all_patches_images)
    functions = predictors(dcn)
    rows = table_2_rows(dcn, examples, scales, all_patches_images, functions, progress)
    big = sorted(examples, key=lambda e: e["image"].shape[0] * e["image"].shape[1])[-largest:]
    times = batch_one_times(functions, [e["image"] for e in big])
    sizes = [list(e["image"].shape[:2]) for e in big]
    result = {"data": data, "machine": machine, "num_patches": dcn.num_patches,
              "scales": list(scales), "test_images": len(examples),
              "rows": rows, "timing": {"images": len(big), "smallest": min(sizes),
                                       "largest": max(sizes), **times}}
    lines = markdown_rows(rows)
    lines += ["", f"Mean inference time, batch 1, one scale, on the {len(big)} largest test "
              f"images ({min(sizes)[0]}x{min(sizes)[1]} to {max(sizes)[0]}x{max(sizes)[1]}):", ""]
    lines += [f"- {name}: {ms:.1f} ms" for name, ms in times["mean_ms"].items()]
    lines += ["", f"Data: {data}", f"Machine: {machine}"]
    text = "\n".join(lines) + "\n"
    shown = examples[:6]
    # The reading of every scale; the boxes are the picks of the first.
    seen = [dcn(e["image"][None]) for e in shown]
    visualize.plot_sequence_patches(
        shown, [outputs["boxes"] for outputs in seen],
        [sequences.readings(outputs["length"], outputs["digits"])[0] for outputs in seen],
        out_dir / "patches.png",
        f"at {len(dcn.scales)} scale{'s' if len(dcn.scales) > 1 else ''} "
        f"(boxes: its picks at scale {dcn.scales[0]:g})")
    written = results.write(out_dir, result, text)
    shutil.rmtree(progress, ignore_errors=True)
    with contextlib.suppress(OSError):  # left where other runs' progress waits
        progress.parent.rmdir()
    return written


# Raise it when the way an image is read changes (decoding, picks, merging scales, which
# images share a padded batch): a rerun must not resume from marks read the old way.
READING_VERSION = 2


def run_digest(dcn: MultiDigitDCN, examples: list[dict], scales, all_patches_images: int
               ) -> str:
    """`resumable.digest` of what Table 2's marks depend on: the reading's version, both
    models' weights, the DCN's config and settings, the `examples` and their labels, the
    `scales`."""
    weights = [np.asarray(w) for model in (dcn.coarse, dcn.fine) for w in model.weights]
    settings = (READING_VERSION, dcn.config.to_dict(), dcn.num_patches, dcn.attention,
                dcn.combination, tuple(scales), all_patches_images)
    images = [array for e in examples for array in (e["image"], e["length"], e["digits"])]
    return resumable.digest(*weights, settings, *images)
