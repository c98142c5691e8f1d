"""The house-numbers comparison (paper Table 2): coarse, fine, soft attention and DCN at 1-3
scales on original-size test images, inference times, and the selected patches (Figure 6)."""

from __future__ import annotations

import contextlib
import functools
import math
import pathlib
import re
import shutil
import statistics

import numpy as np
import tensorflow as tf

from dcn_keras import measure, progress, results, resumable, visualize
from dcn_keras.core import patches
from dcn_keras.data import house_numbers
from dcn_keras.house_numbers import sequences
from dcn_keras.house_numbers.dcn import (
    ATTENTION,
    COMBINATION,
    MultiDigitDCN,
    merge_scales,
    pad_batch,
    rescale,
)


def predictors(dcn: MultiDigitDCN) -> dict:
    """{model name: graph function (`[b, H, W, C]` zero-padded images, `[b, 2]` sizes) ->
    (length, digits)} at one scale, for the DCN's coarse and fine models, soft attention
    and the DCN."""
    functions = {name: graph_function(read, dcn.coarse) for name, read in _baselines(dcn).items()}
    functions[f"DCN, {dcn.num_patches} patches"] = graph_function(dcn.predict_one_scale,
                                                                  dcn.coarse)
    return functions


def _baselines(dcn: MultiDigitDCN) -> dict:
    """{`BASELINES` name: (images, sizes) -> (length, digits)} at one scale."""
    coarse, fine = dcn.coarse, dcn.fine
    return {"Coarse model": coarse.predict_sequence_probabilities,
            "Fine model": fine.predict_sequence_probabilities,
            "Soft-attention": lambda images, sizes: coarse.predict_sequence_probabilities(
                images, sizes, top="soft_attention")}


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


def mean_of_scales(outputs: list) -> tuple[tf.Tensor, tf.Tensor]:
    """(length `[b, L]`, digits `[b, L, C]`) averaged over the (length, digits) `outputs` of
    each scale."""
    return tuple(tf.add_n(list(parts)) / len(outputs) for parts in zip(*outputs))


def sequence_wrong_by_scales(predict, examples: list[dict], scales, minimum_size,
                             batch_size: int = 8, desc: str = "", merges: dict | None = None,
                             progress_dir=None) -> np.ndarray | dict[str, np.ndarray]:
    """`[len(scales), len(examples)]` bool: row n - 1 marks the `examples` (original sizes,
    batched padded) that `predict` reads wrong with its outputs at the first n scales
    merged (`mean_of_scales`). Each scale is predicted once.
    `merges`: {name: function (a list of `predict` outputs -> (length, digits))}; with
    them, {name: such marks} for each, all from the same predictions.
    `progress_dir`: where the marks are saved as they come (`resumable.SavedMarks`, one
    file per `desc` and merge), so that a rerun after a kill reads only the batches left."""
    named = merges or {"": mean_of_scales}
    marks = {name: _saved_marks(progress_dir, f"{desc} {name}", len(scales), batch_size,
                                (len(scales), len(examples)))
             for name in named}
    batches = size_batches(examples, batch_size)
    left = [batch for batch in batches if any(m.pending(batch) for m in marks.values())]
    for batch in progress.bar(left, len(batches), desc, "batches",
                              done=len(batches) - len(left)):
        images, sizes = pad_batch([examples[i]["image"] for i in batch])
        length = tf.constant([examples[i]["length"] for i in batch])
        digits = tf.constant(np.stack([examples[i]["digits"] for i in batch]))
        outputs = [predict(*rescale(images, sizes, scale, minimum_size)) for scale in scales]
        for name, merge in named.items():
            wrong = [sequences.sequence_errors(*sequences.best_sequence(*merge(outputs[:n])),
                                               length, digits).numpy()
                     for n in range(1, len(scales) + 1)]
            marks[name].record(batch, np.stack(wrong))
    values = {name: saved.values for name, saved in marks.items()}
    return values if merges else values[""]


def _saved_marks(progress_dir, desc: str, scales: int, batch_size: int, shape,
                 dtype=bool) -> resumable.SavedMarks:
    """The `resumable.SavedMarks` of the reading `desc` at `scales` scales in batches of
    `batch_size`, in its own file under `progress_dir` (None: kept in memory only)."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", desc).strip("_") or "marks"
    return resumable.SavedMarks(
        progress_dir and pathlib.Path(progress_dir) /
        f"{name}-{scales}scales-batch{batch_size}.npz", shape, dtype)


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
         groups: dict[str, np.ndarray], patches=None, label=None, **fields) -> dict:
    """A Table 2 row from the `[images]` bool wrong marks of model `name` at `scales` scales
    with `patches` fine patches in all (`label`, default name and patches, heads it), and
    its error per sequence length of the images (`lengths` `[images]`) and within each of
    `groups` (`grouped`: the scale that fits the digits, the map positions there).
    `fields`: more of the row (a DCN's "attention" and "combination"; "served", default
    False, on the rows of the model that is pushed)."""
    error = float(wrong.mean()) if len(wrong) else 0.0
    label = label or (name if patches is None else f"{name}, {patches} patches")
    lengths = lengths[:len(wrong)]
    return {"model": f"{label}, {scales} scale{'s' if scales > 1 else ''}", "name": name,
            "scales": scales, "patches": patches, "test_error": error,
            "standard_error": measure.standard_error(error, len(wrong)), "images": len(wrong),
            "error_by_length": {int(n): float(wrong[lengths == n].mean())
                                for n in np.unique(lengths)},
            "images_by_length": {int(n): int((lengths == n).sum()) for n in np.unique(lengths)},
            **grouped(wrong, groups), "served": False, **fields}


def batch_one_times(functions: dict, images) -> dict[str, dict[str, float]]:
    """Mean and median ms of one batch-1 call per image of `images`, for each of `functions`
    (`measure.time_per_input`: interleaved image by image, after one warm-up call each)."""
    inputs = [(tf.constant(image[None]), tf.constant([image.shape[:2]], tf.int32))
              for image in images]
    times = measure.time_per_input(functions, inputs)
    return {"mean_ms": {name: 1e3 * statistics.fmean(v) for name, v in times.items()},
            "median_ms": measure.medians_ms(times)}


PAPER_DCN = ("entropy_gradient", "inverse_entropy")  # the paper's (attention, combination)
EXTENSION_DCN = ("confidence", "sequence_vote")  # the preset's, beyond the paper
ALL_PATCHES = 2**30  # num_patches that takes every position of any image
ALL_PATCHES_BATCH = 256  # crops per fine-model call when reading all of them
BASELINES = ("Coarse model", "Fine model", "Soft-attention")  # `predictors`' models
SERVED = "DCN, k per scale"  # the model that is pushed, at 2, 3, ... scales
SERVED_TIMED = "As served"  # `timed_readings`' name of the pushed model
EVERY_WINDOW = "Fine network on every window"
# Table 2's words for the DCN's attention (`ATTENTION`) and combination (`COMBINATION`).
ATTENTION_NAMES = {"entropy_gradient": "entropy-gradient picks",
                   "confidence": "confidence picks"}
COMBINATION_NAMES = {"inverse_entropy": "Eq. 12-14", "sequence_vote": "sequence vote"}


def timed_readings(dcn: MultiDigitDCN, scales) -> dict:
    """{name: graph function (`[b, H, W, C]` zero-padded images, `[b, 2]` sizes) ->
    (length, digits)} of what Table 2 compares, each reading all of `scales` as its rows
    do: the coarse and fine models and soft attention averaged over the scales, the DCN as
    in the paper and the extension with `paper_patches` per scale, and `dcn` as it is
    served (its own attention and combination, k per scale)."""
    scales, coarse = tuple(scales), dcn.coarse

    def averaged(read):
        return lambda images, sizes: mean_of_scales(
            [read(*rescale(images, sizes, scale, dcn.config.crop_size)) for scale in scales])

    count = f"{len(scales)} scale{'s' if len(scales) > 1 else ''}"
    functions = {f"{name}, {count}": graph_function(averaged(read), coarse)
                 for name, read in _baselines(dcn).items()}
    half = paper_patches(dcn.num_patches, len(scales))
    for attention, combination in (PAPER_DCN, EXTENSION_DCN):
        reader = _reader(dcn, attention, half, combination, scales)
        functions[f"{dcn_name(attention, combination)}, "
                  f"{' + '.join([str(half)] * len(scales))} patches"] = graph_function(
            reader.predict_sequence_probabilities, coarse)
    served = _reader(dcn, dcn.attention, dcn.num_patches, scales=scales)
    functions[f"{SERVED_TIMED}: {dcn_name(dcn.attention, dcn.combination)}, "
              f"{dcn.num_patches} patches per scale"] = graph_function(
        served.predict_sequence_probabilities, coarse)
    return functions


def dcn_name(attention: str, combination: str) -> str:
    """The name of Table 2's rows of the DCN that picks by `attention` and combines by
    `combination`, its patches counted as the paper counts them."""
    if (attention, combination) == PAPER_DCN:
        return "DCN as in the paper"
    return f"DCN, {ATTENTION_NAMES[attention]}, {COMBINATION_NAMES[combination]}"


def every_window_name(combination: str) -> str:
    """The name of Table 2's row of the fine network on every window under `combination`."""
    return f"{EVERY_WINDOW}, {COMBINATION_NAMES[combination]}"


def paper_patches(num_patches: int, scales: int) -> int:
    """Patches per scale of the DCN as Table 2 counts it: k at one scale, k / 2 per scale
    at more (6, 3 + 3 and 3 + 3 + 3 for k = 6; sec. 4.2.4)."""
    return num_patches if scales == 1 else max(1, num_patches // 2)


def table_2_rows(dcn: MultiDigitDCN, examples: list[dict], scales,
                 all_patches_images: int = 0, functions: dict | None = None,
                 progress_dir=None) -> list[dict]:
    """Table 2's rows on `examples`, each with its standard error: coarse, fine and soft
    attention at 1, 2, ... len(`scales`) scales; `SERVED`, `dcn` with k = `dcn.num_patches`
    per scale at 2, 3, ... scales; the DCN with each attention and combination
    (`dcn_name`) as the paper counts it (k patches at one scale, k / 2 per scale at more:
    6, 6 and 9 patches for k = 6, sec. 4.2.4); and, on the first `all_patches_images`
    examples, the fine network on every window at all scales under each combination
    (`every_window_name`; the paper's 11.6% is Eq. 12-14's).
    Rows of `dcn`'s own method are "served" where the pushed model computes them (k per
    scale at 2, 3, ... scales; its paper-counted row at one scale, k patches). DCN rows
    carry "attention" and "combination". An every-window row also gives, on the same
    images, the error of the paper-counted DCN at all scales with `dcn`'s attention and
    the row's combination, and the paired difference: the gain of reading every window
    over the picks, the pooling held equal.
    `functions`: `predictors(dcn)`, where the caller has them already.
    `progress_dir`: where each reading's marks are saved as they come, for a rerun after a
    kill (`sequence_wrong_by_scales`); it must be this call's own (`compare` keys it by
    the models, images and scales)."""
    functions = functions or predictors(dcn)
    wrong = {name: sequence_wrong_by_scales(functions[name], examples, scales,
                                            dcn.config.crop_size, desc=name,
                                            progress_dir=progress_dir)
             for name in BASELINES}
    groups = groups_of(examples, scales, dcn.config)
    # Table 2's rows keep error_by_length in the form the pipeline's report also writes.
    lengths = groups.pop("error_by_length")
    rows = [_row(name, n, wrong[name][n - 1], lengths, groups)
            for name in BASELINES for n in range(1, len(scales) + 1)]
    counted, served = _paper_counted(dcn, examples, scales, progress_dir)
    k, own = dcn.num_patches, (dcn.attention, dcn.combination)
    rows += [_row(SERVED, n, served[n - 1], lengths, groups, k * n,
                  f"DCN, {k} patches per scale", served=True, attention=own[0],
                  combination=own[1]) for n in range(2, len(scales) + 1)]
    rows += [_row(dcn_name(*method), n, marks[n - 1], lengths, groups,
                  paper_patches(k, n) * n, served=n == 1 and method == own,
                  attention=method[0], combination=method[1])
             for method, marks in counted.items() for n in range(1, len(scales) + 1)]
    if all_patches_images:
        rows += _every_window_rows(dcn, examples[:all_patches_images], scales, counted,
                                   lengths, groups, progress_dir)
    return rows


def _paper_counted(dcn: MultiDigitDCN, examples: list[dict], scales, progress_dir
                   ) -> tuple[dict[tuple[str, str], np.ndarray], np.ndarray]:
    """({(attention, combination): `[len(scales), images]` wrong marks of the DCN so
    made, as Table 2 counts it: k patches at one scale, k / 2 per scale at more
    (`paper_patches`)} for every pair of `ATTENTION` and `COMBINATION`, `[len(scales),
    images]` marks of `dcn` with k per scale). Each attention's picks are read once for
    k patches (at every scale for `dcn`'s own, which `dcn` serves; at the first for the
    other) and once for k / 2 per scale, each reading scored under both combinations."""
    k, half = dcn.num_patches, paper_patches(dcn.num_patches, len(scales))
    counted, served = {}, None
    for attention in ATTENTION:
        own = attention == dcn.attention
        full = _wrong_by_combination(dcn, attention, k, examples,
                                     scales if own else scales[:1], progress_dir)
        split = (_wrong_by_combination(dcn, attention, half, examples, scales, progress_dir)
                 if len(scales) > 1 else full)
        served = full[dcn.combination] if own else served
        counted |= {(attention, combination): np.concatenate([full[combination][:1],
                                                              split[combination][1:]])
                    for combination in COMBINATION}
    return counted, served


def _wrong_by_combination(dcn: MultiDigitDCN, attention: str, num_patches: int,
                          examples: list[dict], scales, progress_dir, batch_size: int = 8,
                          desc: str | None = None) -> dict[str, np.ndarray]:
    """{combination: `[len(scales), images]` wrong marks} for each of `COMBINATION`, from
    one reading of `num_patches` picks per scale by `attention` (`dcn_wrong_by_scales`)."""
    return dcn_wrong_by_scales(_reader(dcn, attention, num_patches), examples, scales,
                               batch_size, desc or f"DCN, {num_patches} patches, {attention}",
                               progress_dir, COMBINATION)


def _reader(dcn: MultiDigitDCN, attention: str, num_patches: int,
            combination: str | None = None, scales=None) -> MultiDigitDCN:
    """`dcn`'s models and patch cutting with `attention` and `num_patches` per scale (and
    `combination` and `scales`, default `dcn`'s), at most `ALL_PATCHES_BATCH` crops per
    fine-model call when that is every window."""
    patch_batch = ALL_PATCHES_BATCH if num_patches == ALL_PATCHES else dcn.patch_batch
    return MultiDigitDCN(dcn.coarse, dcn.fine, num_patches, scales or dcn.scales,
                         dcn.patch_method, patch_batch, attention=attention,
                         combination=combination or dcn.combination)


def _every_window_rows(dcn: MultiDigitDCN, examples: list[dict], scales, counted: dict,
                       lengths: np.ndarray, groups: dict, progress_dir) -> list[dict]:
    """Table 2's rows of the fine network on every window of `examples` at all `scales`,
    one per combination from one reading, each paired with the paper-counted DCN of
    `dcn`'s attention and that combination (`counted`, as from `_paper_counted`)."""
    wrong = _wrong_by_combination(dcn, dcn.attention, ALL_PATCHES, examples, scales,
                                  progress_dir, batch_size=1, desc=EVERY_WINDOW)
    rows = []
    for combination in COMBINATION:
        marks = wrong[combination][-1]
        reference = counted[dcn.attention, combination][-1][:len(examples)]
        difference, spread = measure.paired_difference(marks, reference)
        name = every_window_name(combination)
        rows.append(_row(name, len(scales), marks, lengths, groups, "all", name,
                         combination=combination,
                         same_images_dcn=dcn_name(dcn.attention, combination),
                         same_images_dcn_error=float(reference.mean()),
                         same_images_dcn_standard_error=measure.standard_error(
                             float(reference.mean()), len(examples)),
                         paired_difference=difference,
                         paired_difference_standard_error=spread))
    return rows


def dcn_wrong_by_scales(dcn: MultiDigitDCN, examples: list[dict], scales,
                        batch_size: int = 8, desc: str = "", progress_dir=None,
                        combinations=None) -> np.ndarray | dict[str, np.ndarray]:
    """`sequence_wrong_by_scales` of `dcn`, its picks merged over the scales as it merges
    them (`MultiDigitDCN.merge_scales`); with `combinations` (of `COMBINATION`),
    {combination: marks} of each, all from one reading of the picks."""
    merges = {combination: functools.partial(merge_scales, combination=combination)
              for combination in combinations or (dcn.combination,)}
    wrong = sequence_wrong_by_scales(graph_function(dcn.picks_one_scale, dcn.coarse), examples,
                                     scales, dcn.config.crop_size, batch_size, desc, merges,
                                     progress_dir)
    return wrong if combinations else wrong[dcn.combination]


def picks_holding_the_number(dcn: MultiDigitDCN, examples: list[dict], scales,
                             batch_size: int = 8, progress_dir=None) -> dict:
    """How often the DCN's picks hold the whole number, for each of `ATTENTION` against
    picks at random: at each image's `nearest_scales`, the share of `examples` where one of
    its j picks (k / 2 per scale, as Table 2 counts them: `paper_patches`) has a window
    (`MultiDigitDCN.select`'s boxes) that holds the number's `box` so scaled.
    Returns {"picks": j, "scales", "images", "share" and "standard_error": {attention or
    "random": value}}: binomial standard errors for the attentions; for "random", the
    expectation (`random_share`) and the standard error of the mean of its per-image
    values."""
    j = paper_patches(dcn.num_patches, len(scales))
    selects = [graph_function(_reader(dcn, attention, j).select, dcn.coarse)
               for attention in ATTENTION]
    near = nearest_scales(examples, scales)
    # Table 2's batches and scales: the picks are those of its k / 2 per scale readings.
    # The coarse model alone, at most once per scale of a batch, is cheap beside them;
    # its marks are saved per batch all the same.
    shares = _saved_marks(progress_dir, "picks holding the number", len(scales), batch_size,
                          (len(selects) + 1, len(examples)), float)
    batches = size_batches(examples, batch_size)
    left = [batch for batch in batches if shares.pending(batch)]
    for batch in progress.bar(left, len(batches), "Picks holding the number", "batches",
                              done=len(batches) - len(left)):
        images, sizes = pad_batch([examples[i]["image"] for i in batch])
        values = np.zeros((len(selects) + 1, len(batch)))
        for scale in np.unique(near[batch]):
            at = near[batch] == scale
            scaled = rescale(images, sizes, scale, dcn.config.crop_size)
            number = np.stack([examples[i]["box"] for i in batch]) * scale
            for row, select in enumerate(selects):
                picked = select(*scaled)
                hold = holds(picked["boxes"].numpy(), number) & (picked["valid"].numpy() > 0)
                values[row, at] = hold.any(axis=1)[at]
            # Any attention's mask: the positions inside each image.
            values[-1, at] = random_share(picked["mask"].numpy(), number, dcn.config.grid(),
                                          j)[at]
        shares.record(batch, values)
    names = [*ATTENTION, "random"]
    share = {name: float(marks.mean()) for name, marks in zip(names, shares.values)}
    spread = {name: measure.standard_error(share[name], len(examples)) for name in ATTENTION}
    spread["random"] = (statistics.stdev(shares.values[-1]) / math.sqrt(len(examples))
                        if len(examples) > 1 else 0.0)
    return {"picks": j, "scales": list(scales), "images": len(examples), "share": share,
            "standard_error": spread}


def holds(windows: np.ndarray, number: np.ndarray) -> np.ndarray:
    """`[b, k]` bool: whether each of `windows` `[b, k, 4]` (or `[1, k, 4]`, the same for
    every image) holds its image's `number` `[b, 4]`, all (top, left, bottom, right) half
    open in the same pixels."""
    number = number[:, None]
    return ((windows[..., :2] <= number[..., :2]).all(-1) &
            (windows[..., 2:] >= number[..., 2:]).all(-1))


def random_share(mask: np.ndarray, number: np.ndarray, grid, picks: int) -> np.ndarray:
    """`[b]`: the chance that `picks` positions drawn at random among each image's own
    (`mask` `[b, s1, s2]`) hold its `number` `[b, 4]`, their windows placed by `grid` as
    the DCN's are (`core.patches.patch_boxes`): 1 - C(n - m, j) / C(n, j) with n positions,
    m of them holding the number, j = min(`picks`, n)."""
    rows, columns = mask.shape[1:]
    everywhere = np.stack(np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij"), -1)
    windows = patches.patch_boxes(tf.constant(everywhere.reshape(1, -1, 2), tf.int32),
                                  grid).numpy()
    inside = mask.reshape(len(mask), -1) > 0
    holding = (holds(windows, number) & inside).sum(-1)
    return np.array([1 - math.comb(n - m, min(picks, n)) / math.comb(n, min(picks, n))
                     for n, m in zip(inside.sum(-1), holding)])


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
            note = (f" ({row['same_images_dcn']}, on the same images: "
                    f"{100 * row['same_images_dcn_error']:.1f}%; difference "
                    f"{100 * row['paired_difference']:+.1f} ± "
                    f"{100 * row['paired_difference_standard_error']:.1f} points, paired)")
        lines.append(f"| {row['model']}{note} | {100 * row['test_error']:.1f}% | "
                     f"{100 * row['standard_error']:.1f} | {row['images']} |")
    return lines


def like_for_like(rows: list[dict], picks: dict) -> list[str]:
    """Markdown lines: at the most scales of Table 2's `rows`, the error ± standard error
    of the paper-counted DCN of each attention (rows) under each combination (columns),
    and of the fine network on every window where `rows` have it; then how often each
    attention's picks hold the number (`picks`, from `picks_holding_the_number`)."""
    scales = max(row["scales"] for row in rows)
    found = {row["name"]: row for row in rows if row["scales"] == scales}

    def line(label: str, cells: list[dict]) -> str:
        return f"| {label} | " + " | ".join(
            f"{100 * row['test_error']:.1f} ± {100 * row['standard_error']:.1f}%"
            for row in cells) + " |"

    lines = [f"Like for like, {scales} scale{'s' if scales > 1 else ''}, the DCN's patches "
             "counted as in the paper:", "",
             "| Picks | " + " | ".join(COMBINATION_NAMES.values()) + " |",
             "|---|" + "---:|" * len(COMBINATION)]
    lines += [line(ATTENTION_NAMES[attention].capitalize(),
                   [found[dcn_name(attention, combination)] for combination in COMBINATION])
              for attention in ATTENTION]
    every = [found.get(every_window_name(combination)) for combination in COMBINATION]
    if all(every):
        lines.append(line(f"{EVERY_WINDOW} (first {every[0]['images']} images)", every))
    where = ", ".join(f"{scale:g}" for scale in picks["scales"])
    lines += ["", f"Images where a window picked at the image's nearest scale (of {where}; "
              f"{picks['picks']} picks there, as Table 2 counts them) holds the whole "
              f"number, of {picks['images']}:", ""]
    lines += [f"- {ATTENTION_NAMES.get(name, 'random picks (expected)')}: "
              f"{100 * share:.1f} ± {100 * picks['standard_error'][name]:.1f}%"
              for name, share in picks["share"].items()]
    return lines


def compare(dcn: MultiDigitDCN, examples: list[dict], data: str, machine: str, out_dir,
            largest: int = 100, scales: tuple[float, ...] | None = None,
            all_patches_images: int = 0, progress_dir=None) -> dict:
    """Table 2 (`table_2_rows`) for the DCN and the coarse and fine models it holds, on
    `examples` (original-size test images), averaged over the first 1, 2, ... of `scales`
    (default: the DCN's), with how often each attention's picks hold the number
    (`picks_holding_the_number`) and times on the `largest` of them, written to `out_dir`
    as results.json, results.md (with the `like_for_like` table) and patches.png.
    A killed run, rerun, resumes from the marks saved under `progress_dir` (default
    `out_dir`/.progress), in a folder keyed by the models' weights, the images and the
    settings, which is removed once the results are written."""
    scales = tuple(scales or dcn.scales)
    out_dir = pathlib.Path(out_dir)
    progress = pathlib.Path(progress_dir or out_dir / ".progress") / run_digest(
        dcn, examples, scales)
    rows = table_2_rows(dcn, examples, scales, all_patches_images, progress_dir=progress)
    picks = picks_holding_the_number(dcn, examples, scales, progress_dir=progress)
    big = sorted(examples, key=lambda e: e["image"].shape[0] * e["image"].shape[1])[-largest:]
    times = batch_one_times(timed_readings(dcn, scales), [e["image"] for e in big])
    sizes = [list(e["image"].shape[:2]) for e in big]
    result = {"data": data, "machine": machine, "num_patches": dcn.num_patches,
              "scales": list(scales), "test_images": len(examples),
              "rows": rows, "picks_holding_the_number": picks,
              "timing": {"images": len(big), "scales": list(scales), "smallest": min(sizes),
                         "largest": max(sizes), **times}}
    lines = [*markdown_rows(rows), "", *like_for_like(rows, picks)]
    lines += ["", f"Mean inference time, batch 1, each model reading {len(scales)} "
              f"scale(s) as in Table 2, on the {len(big)} largest test images "
              f"({min(sizes)[0]}x{min(sizes)[1]} to {max(sizes)[0]}x{max(sizes)[1]}):", ""]
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
READING_VERSION = 3


def run_digest(dcn: MultiDigitDCN, examples: list[dict], scales) -> str:
    """`resumable.digest` of what Table 2's marks depend on: the reading's version, both
    models' weights, the DCN's config and settings, the `examples` and their labels, the
    `scales`. Not how many images the every-window rows read: those are the first ones,
    and marks of another count have another shape, which `resumable.SavedMarks` does not load."""
    weights = [np.asarray(w) for model in (dcn.coarse, dcn.fine) for w in model.weights]
    settings = (READING_VERSION, dcn.config.to_dict(), dcn.num_patches, dcn.attention,
                dcn.combination, tuple(scales))
    images = [array for e in examples for array in (e["image"], e["length"], e["digits"])]
    return resumable.digest(*weights, settings, *images)
