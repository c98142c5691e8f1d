import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.core import patches
from dcn_keras.house_numbers import report as house_numbers_report
from dcn_keras.house_numbers import sequences
from dcn_keras.house_numbers.dcn import MultiDigitDCN
from dcn_keras.house_numbers.model import MultiDigitModel


def _example(digits, height=70, width=150):
    padded = np.array([*digits, *[10] * (5 - len(digits))], np.int32)
    image = np.random.default_rng(len(digits)).random((height, width, 1), dtype=np.float32)
    # The number's box (top, left, bottom, right): 40 rows, digits of 35, read at scale 1.
    box = np.array([10, 20, 50, 20 + 25 * len(digits)], np.int64)
    return {"image": image, "length": np.int32(len(digits)), "digits": padded, "box": box}


def _oracle(answer):
    """A predictor that is sure of `answer`, whatever the images."""
    def predict(images, sizes):
        batch = tf.shape(images)[0]
        length = tf.one_hot([len(answer) - 1], 5) * 0.98 + 0.004
        rows = [tf.one_hot(d, 11) * 0.98 + 0.002 for d in [*answer, *[10] * (5 - len(answer))]]
        return tf.tile(length, [batch, 1]), tf.tile(tf.stack(rows)[None], [batch, 1, 1])
    return predict


def test_wrong_marks_whole_sequences_per_image_and_number_of_scales():
    examples = [_example([1, 2]), _example([7]), _example([1, 2], 90, 200)]
    wrong = house_numbers_report.sequence_wrong_by_scales(_oracle([1, 2]), examples, (1.0,),
                                                        (54, 110), batch_size=2)
    assert wrong.tolist() == [[False, True, False]]  # in example order, across batches
    wrong = house_numbers_report.sequence_wrong_by_scales(_oracle([1, 3]), examples,
                                                        (1.0, 0.5), (54, 110))
    assert wrong.shape == (2, 3) and wrong.all()


# Wrong marks per reading (`sequence_wrong_by_scales`' desc, then the merge where it has
# several): rows for 1, 2, 3 scales over 4 images.
MARKS = {
    "Coarse model": [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]],
    "Fine model": [[0, 1, 1, 1], [0, 1, 1, 0], [0, 1, 0, 0]],
    "Soft-attention": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
    # k = 4 per scale
    "DCN, 4 patches, confidence, inverse_entropy": [[0, 0, 1, 1], [1, 1, 1, 1], [1, 1, 1, 0]],
    "DCN, 4 patches, confidence, sequence_vote": [[0, 0, 0, 1], [0, 0, 1, 1], [0, 1, 1, 1]],
    "DCN, 4 patches, entropy_gradient, inverse_entropy": [[1, 1, 0, 0], [1, 1, 1, 0],
                                                          [0, 0, 0, 0]],
    "DCN, 4 patches, entropy_gradient, sequence_vote": [[1, 0, 0, 0], [1, 1, 0, 0],
                                                        [1, 1, 1, 1]],
    # k / 2 per scale
    "DCN, 2 patches, confidence, inverse_entropy": [[1, 1, 1, 1], [0, 1, 1, 1], [0, 0, 1, 1]],
    "DCN, 2 patches, confidence, sequence_vote": [[1, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
    "DCN, 2 patches, entropy_gradient, inverse_entropy": [[1, 1, 1, 1], [1, 1, 1, 0],
                                                          [1, 0, 0, 0]],
    "DCN, 2 patches, entropy_gradient, sequence_vote": [[1, 1, 1, 1], [1, 1, 0, 0],
                                                        [0, 1, 0, 0]],
    "Fine network on every window, inverse_entropy": [[1, 1, 1, 1], [1, 1, 1, 1],
                                                      [0, 1, 1, 1]],
    "Fine network on every window, sequence_vote": [[1, 1, 1, 1], [1, 1, 1, 1],
                                                    [0, 0, 1, 0]],
}


@pytest.mark.parametrize("method", [("confidence", "sequence_vote"),
                                    ("entropy_gradient", "inverse_entropy")])
def test_table_2_rows_put_each_models_marks_in_its_rows(monkeypatch, method):
    """Known wrong marks per reading: each row's error, standard error, errors per length,
    the 2 x 2 of attention and combination, the served rows and the every-window rows'
    comparisons come from their own marks, for a DCN of either method."""
    lengths = [1, 2, 2, 3]
    # 70x150 images have 3 x 3 coarse positions at scale 1, the scale that fits their
    # digits; the last image, one window large, has one.
    examples = [_example(list(range(1, n + 1))) for n in lengths[:3]] + [
        _example([1, 2, 3], 54, 110)]
    readings = []

    def fake(predict, examples, scales, minimum_size, batch_size=8, desc="", merges=None,
             progress_dir=None):
        readings.append((desc, len(scales), merges and sorted(merges)))

        def marks(name):
            return np.array(MARKS[name], bool)[:len(scales), :len(examples)]
        return {name: marks(f"{desc}, {name}") for name in merges} if merges else marks(desc)

    monkeypatch.setattr(house_numbers_report, "sequence_wrong_by_scales", fake)
    config = presets.house_numbers()
    attention, combination = method
    dcn = MultiDigitDCN(MultiDigitModel(config, "coarse"), MultiDigitModel(config, "fine"), 4,
                        attention=attention, combination=combination)
    rows = {row["model"]: row for row in house_numbers_report.table_2_rows(
        dcn, examples, (1.0, 0.75, 0.5), all_patches_images=3,
        functions=dict.fromkeys(("Coarse model", "Fine model", "Soft-attention")))}
    assert rows["Coarse model, 2 scales"]["test_error"] == 0.75
    assert rows["Fine model, 1 scale"]["error_by_length"] == {1: 0.0, 2: 1.0, 3: 1.0}
    assert rows["Soft-attention, 3 scales"]["error_by_length"] == {1: 0.0, 2: 0.5, 3: 0.0}
    assert rows["Soft-attention, 3 scales"]["images_by_length"] == {1: 1, 2: 2, 3: 1}
    assert rows["Fine model, 1 scale"]["error_by_positions"] == {
        "1-4": {"test_error": 1.0, "images": 1}, "5-16": {"test_error": 2 / 3, "images": 3}}
    # Digits of 35 pixels: scale 1 brings them nearest to the training height.
    assert rows["Fine model, 1 scale"]["error_by_nearest_scale"] == {
        "1.0": {"test_error": 0.75, "images": 4}}
    assert rows["Coarse model, 3 scales"]["standard_error"] == pytest.approx(0.25)

    # Per attention, one reading of k picks (at every scale for the DCN's own, which it
    # serves; at one scale for the other) and one of k / 2 per scale; then every window.
    # Each reading is scored under both combinations.
    other = "confidence" if attention == "entropy_gradient" else "entropy_gradient"
    both = ["inverse_entropy", "sequence_vote"]
    assert readings == [*[(name, 3, None) for name in ("Coarse model", "Fine model",
                                                       "Soft-attention")],
                        *[(f"DCN, {k} patches, {a}", n, both) for a, k, n in (
                            ("entropy_gradient", 4, 3 if other == "confidence" else 1),
                            ("entropy_gradient", 2, 3),
                            ("confidence", 4, 3 if other == "entropy_gradient" else 1),
                            ("confidence", 2, 3))],
                        ("Fine network on every window", 3, both)]

    # The 2 x 2 as the paper counts patches: k at one scale (that reading's first row),
    # k / 2 per scale at 2 and 3 scales; the same whichever method the DCN serves.
    cells = {"DCN as in the paper": [0.5, 0.75, 0.25],
             "DCN, entropy-gradient picks, sequence vote": [0.25, 0.5, 0.25],
             "DCN, confidence picks, Eq. 12-14": [0.5, 0.75, 0.5],
             "DCN, confidence picks, sequence vote": [0.25, 0.25, 0.0]}
    for name, errors in cells.items():
        assert [rows[f"{name}, {patches}"]["test_error"] for patches in (
            "4 patches, 1 scale", "4 patches, 2 scales", "6 patches, 3 scales")] == errors
    methods = {(row["attention"], row["combination"]) for row in rows.values()
               if row["name"] in cells}
    assert methods == {(a, c) for a in ("entropy_gradient", "confidence") for c in both}
    assert rows["DCN, confidence picks, sequence vote, 6 patches, 3 scales"][
        "standard_error"] == 0.0

    # The served model: k per scale at 2 and 3 scales (its own k reading), and its own
    # method's row at one scale.
    own = house_numbers_report.dcn_name(attention, combination)
    served = {"confidence": [0.5, 0.75], "entropy_gradient": [0.75, 0.0]}[attention]
    assert {name for name, row in rows.items() if row["served"]} == {
        "DCN, 4 patches per scale, 2 scales", "DCN, 4 patches per scale, 3 scales",
        f"{own}, 4 patches, 1 scale"}
    assert [rows[f"DCN, 4 patches per scale, {n} scales"]["test_error"]
            for n in (2, 3)] == served
    assert rows["DCN, 4 patches per scale, 3 scales"]["attention"] == attention

    # Every window on the first 3 images, under each combination, paired with the
    # paper-counted DCN of the DCN's own attention and the same combination at 3 scales.
    reference = {("confidence", "inverse_entropy"): [0, 0, 1],
                 ("confidence", "sequence_vote"): [0, 0, 0],
                 ("entropy_gradient", "inverse_entropy"): [1, 0, 0],
                 ("entropy_gradient", "sequence_vote"): [0, 1, 0]}
    for label, combination, marks in (("Eq. 12-14", "inverse_entropy", [0, 1, 1]),
                                      ("sequence vote", "sequence_vote", [0, 0, 1])):
        every = rows[f"Fine network on every window, {label}, 3 scales"]
        same = reference[attention, combination]
        assert every["images"] == 3 and every["patches"] == "all"
        assert every["combination"] == combination and not every["served"]
        assert every["test_error"] == pytest.approx(np.mean(marks))
        assert every["error_by_positions"] == {
            "5-16": {"test_error": pytest.approx(np.mean(marks)), "images": 3}}
        assert every["same_images_dcn"] == house_numbers_report.dcn_name(attention,
                                                                         combination)
        assert every["same_images_dcn_error"] == pytest.approx(np.mean(same))
        difference = np.subtract(marks, same)
        assert every["paired_difference"] == pytest.approx(difference.mean())
        assert every["paired_difference_standard_error"] == pytest.approx(
            np.std(difference, ddof=1) / math.sqrt(3))
    assert len(rows) == 9 + 2 + 4 * 3 + 2


def _first_scale(outputs):
    return outputs[0]


@pytest.mark.parametrize("merges", [None, {"mean": house_numbers_report.mean_of_scales,
                                           "first": _first_scale}])
def test_a_killed_reading_resumes_from_the_batches_it_had_saved(tmp_path, merges):
    examples = [_example([1, 2]), _example([7]), _example([1, 2], 90, 200),
                _example([4], 60, 120), _example([1, 2], 54, 110)]
    scales = (1.0, 0.5)
    whole = house_numbers_report.sequence_wrong_by_scales(_oracle([1, 2]), examples, scales,
                                                        (54, 110), batch_size=2,
                                                        merges=merges)
    calls = []

    def dies_on_the_second_batch(images, sizes):
        calls.append(int(images.shape[0]))
        if len(calls) > len(scales):
            raise KeyboardInterrupt
        return _oracle([1, 2])(images, sizes)

    with pytest.raises(KeyboardInterrupt):
        house_numbers_report.sequence_wrong_by_scales(
            dies_on_the_second_batch, examples, scales, (54, 110), batch_size=2,
            desc="Coarse model", merges=merges, progress_dir=tmp_path)
    # One file per merge.
    assert len(list(tmp_path.glob("*.npz"))) == len(merges or [None])
    calls.clear()

    def counted(images, sizes):
        calls.append(int(images.shape[0]))
        return _oracle([1, 2])(images, sizes)

    resumed = house_numbers_report.sequence_wrong_by_scales(
        counted, examples, scales, (54, 110), batch_size=2, desc="Coarse model",
        merges=merges, progress_dir=tmp_path)
    # Batches of 2, 2 and 1 images; the first was saved, so 3 images are read at 2 scales.
    assert calls == [2, 2, 1, 1]
    if merges:
        assert set(resumed) == set(merges)
        resumed, whole = np.stack(list(resumed.values())), np.stack(list(whole.values()))
    assert resumed.tolist() == whole.tolist()


def test_batches_group_images_of_similar_size():
    examples = [_example([1], h, w) for h, w in [(300, 600), (60, 120), (310, 620), (70, 130)]]
    assert house_numbers_report.size_batches(examples, 2) == [[1, 3], [0, 2]]


def test_the_same_images_in_another_order_fall_into_the_same_batches():
    # Images of equal area, as a split's shards hold them in another order: the pipeline's
    # test split and the CLI's hold the same images, and a table must not depend on which.
    examples = [_example(digits, h, w) for digits, (h, w) in zip(
        ([1], [2, 3], [4, 5, 6], [7], [8, 9], [1, 2, 3], [4]),
        [(60, 120), (60, 120), (120, 60), (60, 120), (80, 90), (120, 60), (60, 120)])]
    for seed, example in enumerate(examples):  # `_example` draws by number length
        example["image"] = np.random.default_rng(seed).random(example["image"].shape,
                                                               dtype=np.float32)

    def batches(order):
        shuffled = [examples[i] for i in order]
        return [[order[i] for i in batch]
                for batch in house_numbers_report.size_batches(shuffled, 3)]

    first = batches(list(range(len(examples))))
    assert [len(batch) for batch in first] == [3, 3, 1]
    for seed in range(5):
        order = np.random.default_rng(seed).permutation(len(examples)).tolist()
        assert [sorted(batch) for batch in batches(order)] == [sorted(b) for b in first]


def test_compare_writes_table_2_times_and_patches(tmp_path):
    config = presets.house_numbers()
    coarse, fine = MultiDigitModel(config, "coarse"), MultiDigitModel(config, "fine")
    examples = [_example([3, 4]), _example([5], 64, 120), _example([7, 1, 2], 80, 180)]
    dcn = MultiDigitDCN(coarse, fine, num_patches=2)
    out = house_numbers_report.compare(dcn, examples, "toy data", "toy machine", tmp_path,
                                     largest=1, scales=(1.0, 0.75, 0.5), all_patches_images=2)
    rows = out["result"]["rows"]
    paper_counted = ("2 patches, 1 scale", "2 patches, 2 scales", "3 patches, 3 scales")
    assert [row["model"] for row in rows] == [
        *[f"{name}, {n} scale{'s' if n > 1 else ''}"
          for name in ("Coarse model", "Fine model", "Soft-attention") for n in (1, 2, 3)],
        # The served DCN (confidence, vote) with k per scale.
        "DCN, 2 patches per scale, 2 scales", "DCN, 2 patches per scale, 3 scales",
        # Each attention under each combination, patches counted as the paper counts them.
        *[f"{name}, {count}" for name in (
            "DCN as in the paper", "DCN, entropy-gradient picks, sequence vote",
            "DCN, confidence picks, Eq. 12-14", "DCN, confidence picks, sequence vote")
          for count in paper_counted],
        "Fine network on every window, Eq. 12-14, 3 scales",
        "Fine network on every window, sequence vote, 3 scales"]
    assert [row["model"] for row in rows if row["served"]] == [
        "DCN, 2 patches per scale, 2 scales", "DCN, 2 patches per scale, 3 scales",
        "DCN, confidence picks, sequence vote, 2 patches, 1 scale"]
    for row in rows:
        assert 0.0 <= row["test_error"] <= 1.0
        images = 2 if row["patches"] == "all" else 3
        assert row["images"] == images
        assert row["standard_error"] == pytest.approx(
            math.sqrt(row["test_error"] * (1 - row["test_error"]) / images))
    assert 0.0 <= rows[-1]["same_images_dcn_error"] <= 1.0
    # Error per number length: lengths 1, 2 and 3 here, one image each.
    assert rows[0]["images_by_length"] == {1: 1, 2: 1, 3: 1}
    assert set(rows[0]["error_by_length"]) == {1, 2, 3}
    assert rows[-1]["images_by_length"] == {1: 1, 2: 1}
    picks = out["result"]["picks_holding_the_number"]
    assert (picks["picks"], picks["scales"], picks["images"]) == (1, [1.0, 0.75, 0.5], 3)
    assert set(picks["share"]) == set(picks["standard_error"]) == {
        "entropy_gradient", "confidence", "random"}
    assert all(0.0 <= share <= 1.0 for share in picks["share"].values())
    text = (tmp_path / "results.md").read_text()
    like = text[text.index("Like for like, 3 scales"):].splitlines()
    assert like[2] == "| Picks | Eq. 12-14 | sequence vote |"
    cells = {row["name"]: row for row in rows if row["scales"] == 3}
    for line, names in zip(like[4:7], (
            ("DCN as in the paper", "DCN, entropy-gradient picks, sequence vote"),
            ("DCN, confidence picks, Eq. 12-14", "DCN, confidence picks, sequence vote"),
            ("Fine network on every window, Eq. 12-14",
             "Fine network on every window, sequence vote"))):
        assert line.endswith(" | ".join(
            f"{100 * cells[name]['test_error']:.1f} ± {100 * cells[name]['standard_error']:.1f}%"
            for name in names) + " |")
    assert like[4].startswith("| Entropy-gradient picks |")
    assert like[6].startswith("| Fine network on every window (first 2 images) |")
    assert "- random picks (expected): " in text
    timing = json.loads((tmp_path / "results.json").read_text())["timing"]
    assert timing["images"] == 1 and timing["largest"] == [80, 180]
    # Each model timed as Table 2 reads it at all scales; the paper's DCN and the extension
    # with k / 2 per scale, the served DCN with k.
    assert timing["scales"] == [1.0, 0.75, 0.5]
    assert set(timing["mean_ms"]) == {
        "Coarse model, 3 scales", "Fine model, 3 scales", "Soft-attention, 3 scales",
        "DCN as in the paper, 1 + 1 + 1 patches",
        "DCN, confidence picks, sequence vote, 1 + 1 + 1 patches",
        "As served: DCN, confidence picks, sequence vote, 2 patches per scale"}
    assert "toy data" in text
    assert (tmp_path / "patches.png").stat().st_size > 1000
    assert not (tmp_path / ".progress").exists()  # removed once the results are written


def test_all_patches_reads_every_position_of_the_coarse_map():
    """The all-patches DCN cuts a crop at every position of the coarse map: 2 x 3 here."""
    config = presets.house_numbers()
    coarse, fine = MultiDigitModel(config, "coarse"), MultiDigitModel(config, "fine")
    every = MultiDigitDCN(coarse, fine, house_numbers_report.ALL_PATCHES)
    image = np.random.default_rng(0).random((1, 62, 142, 1), np.float32)
    seen = every.attend(image)
    assert seen["positions"].shape == (1, 6, 2) and bool(tf.reduce_all(seen["valid"] > 0))
    assert sorted(map(tuple, seen["positions"][0].numpy().tolist())) == [
        (i, j) for i in range(2) for j in range(3)]


def test_rows_by_scales_split_the_error_by_group():
    wrong = np.array([[1, 0, 1, 0], [0, 0, 1, 1]], bool)
    rows = house_numbers_report.rows_by_scales(wrong, {"error_by_length": np.array([1, 1, 2, 2])})
    assert [row["scales"] for row in rows] == [1, 2]
    assert rows[0]["test_error"] == 0.5 and rows[1]["error_by_length"]["2"] == {
        "test_error": 1.0, "images": 2}
    assert rows[0]["error_by_length"]["1"]["test_error"] == 0.5


def test_one_reading_scores_both_combinations_as_each_alone(monkeypatch):
    """The picks of one attention are read once for both combinations, and each one's
    marks are those of a DCN that combines only so."""
    config = presets.house_numbers()
    keras.utils.set_random_seed(0)
    coarse, fine = MultiDigitModel(config, "coarse"), MultiDigitModel(config, "fine")
    # Untrained models read most images alike; images of other brightness read otherwise,
    # and images of one size read in one batch as one by one.
    images = np.random.default_rng(0).random((3, 70, 150, 1), np.float32) * np.array(
        [0, 1, 1000], np.float32)[:, None, None, None]
    scales = (1.0, 0.75)
    seen = MultiDigitDCN(coarse, fine, 2, scales, combination="inverse_entropy")(images)
    examples = []
    for image, reading in zip(images, sequences.readings(seen["length"], seen["digits"])):
        examples.append(_example([int(d) for d in reading]) | {"image": image})
    calls = []
    graph_function = house_numbers_report.graph_function

    def counted(function, coarse):
        traced = graph_function(function, coarse)

        def predict(images, sizes):
            calls.append(int(images.shape[0]))
            return traced(images, sizes)
        return predict

    monkeypatch.setattr(house_numbers_report, "graph_function", counted)
    combinations = ("inverse_entropy", "sequence_vote")
    both = house_numbers_report.dcn_wrong_by_scales(MultiDigitDCN(coarse, fine, 2),
                                                    examples, scales,
                                                    combinations=combinations)
    assert calls == [3, 3]  # one batch, each scale predicted once
    alone = {combination: house_numbers_report.dcn_wrong_by_scales(
        MultiDigitDCN(coarse, fine, 2, combination=combination), examples, scales)
        for combination in combinations}
    assert set(both) == set(combinations)
    for combination in combinations:
        np.testing.assert_array_equal(both[combination], alone[combination])
    # The labels are Eq. 12-14's readings at 2 scales, which the vote reads otherwise on
    # some image: the two marks differ.
    assert not alone["inverse_entropy"][-1].any()
    assert alone["sequence_vote"][-1].any()


def test_random_picks_hold_the_number_by_counting_positions():
    """1 - C(n - m, j) / C(n, j), with n positions inside an image and m holding its
    number. A 70x150 image has 3 x 3 windows of 54x110, 8 rows and 16 columns apart:
    rows from 0, 8 and 16, columns from 0, 16 and 32."""
    grid = presets.house_numbers().grid()
    mask = np.ones((3, 3, 3))
    mask[2] = [[1, 0, 0], [0, 0, 0], [1, 1, 0]]  # an image with three windows
    number = np.array([[10, 20, 50, 100],  # held by the windows of rows 0-1, columns 0-1
                       [10, 0, 50, 140],  # wider than a window: held by none
                       [10, 20, 50, 100]], float)
    shares = house_numbers_report.random_share(mask, number, grid, picks=2)
    # 9 positions, 4 holding: 1 - C(5, 2) / C(9, 2) = 1 - 10 / 36; one of 3 holding:
    # 1 - C(2, 2) / C(3, 2) = 2 / 3.
    np.testing.assert_allclose(shares, [26 / 36, 0.0, 2 / 3])
    # Picks beyond an image's positions: all of them are drawn.
    assert house_numbers_report.random_share(mask[2:], number[2:], grid, picks=5)[0] == 1.0


def test_picks_hold_the_number_where_their_windows_contain_its_box(monkeypatch):
    """Each attention's picks (here chosen) at each image's nearest scale, against the
    number's box scaled to that scale, and random picks by counting positions."""
    config = presets.house_numbers()
    coarse, fine = MultiDigitModel(config, "coarse"), MultiDigitModel(config, "fine")
    held = _example([1, 2, 3])  # box (10, 20, 50, 95): windows of rows 0-1, columns 0-1
    wide = _example([1, 2, 3]) | {"box": np.array([10, 0, 50, 140])}  # no window holds it
    # Twice the size: scale 0.5 brings its digits nearest, where it is the first image.
    large = _example([1, 2, 3], 140, 300) | {"box": held["box"] * 2}
    examples = [held, wide, large]
    assert house_numbers_report.nearest_scales(examples, (1.0, 0.5)).tolist() == [1, 1, 0.5]
    chosen = {"entropy_gradient": [[2, 2], [0, 2]],  # neither holds the number
              "confidence": [[2, 2], [1, 1]]}  # (1, 1) does
    select = MultiDigitDCN.select

    def choose(self, images, sizes=None):
        positions = tf.tile(tf.constant([chosen[self.attention]]), [tf.shape(images)[0], 1, 1])
        return select(self, images, sizes) | {
            "positions": positions, "boxes": patches.patch_boxes(positions, config.grid())}

    monkeypatch.setattr(MultiDigitDCN, "select", choose)
    picks = house_numbers_report.picks_holding_the_number(
        MultiDigitDCN(coarse, fine, 4), examples, (1.0, 0.5))
    assert (picks["picks"], picks["images"]) == (2, 3)  # k / 2 per scale
    random = [26 / 36, 0.0, 26 / 36]
    assert picks["share"] == pytest.approx({"entropy_gradient": 0.0, "confidence": 2 / 3,
                                            "random": np.mean(random)})
    assert picks["standard_error"] == pytest.approx({
        "entropy_gradient": 0.0, "confidence": math.sqrt(2 / 9 / 3),
        "random": np.std(random, ddof=1) / math.sqrt(3)})
