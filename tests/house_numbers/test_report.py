import json
import math

import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.house_numbers import report as house_numbers_report
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


def test_table_2_rows_put_each_models_marks_in_its_rows(monkeypatch):
    """Known wrong-marks per (model, scales): each row's error, standard error, errors per
    length and the all-patches comparison come from its own marks."""
    lengths = [1, 2, 2, 3]
    # 70x150 images have 3 x 3 coarse positions at scale 1, the scale that fits their
    # digits; the last image, one window large, has one.
    examples = [_example(list(range(1, n + 1))) for n in lengths[:3]] + [
        _example([1, 2, 3], 54, 110)]
    marks = {  # per model: rows for 1, 2, 3 scales, over the 4 images
        "Coarse model": [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]],
        "Fine model": [[0, 1, 1, 1], [0, 1, 1, 0], [0, 1, 0, 0]],
        "Soft-attention": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
        "DCN, 4 patches": [[0, 0, 0, 1], [0, 0, 1, 1], [0, 1, 1, 1]],
        # k / 2 per scale
        "DCN, 2 patches, entropy_gradient, inverse_entropy": [[1, 1, 1, 1], [1, 0, 0, 0],
                                                              [0, 0, 0, 0]],
        "DCN, all patches": [[1, 1, 1, 1], [1, 1, 1, 1], [0, 1, 1, 1]],
    }

    def fake(predict, examples, scales, minimum_size, batch_size=8, desc="", merge=None,
             progress_dir=None):
        return np.array(marks[desc], bool)[:, :len(examples)]

    monkeypatch.setattr(house_numbers_report, "sequence_wrong_by_scales", fake)
    config = presets.house_numbers()
    dcn = MultiDigitDCN(MultiDigitModel(config, "coarse"), MultiDigitModel(config, "fine"), 4,
                        attention="entropy_gradient", combination="inverse_entropy")
    rows = {row["model"]: row for row in house_numbers_report.table_2_rows(
        dcn, examples, (1.0, 0.75, 0.5), all_patches_images=3,
        functions={name: None for name in marks if name.startswith(("C", "F", "S", "DCN, 4"))})}
    assert rows["Coarse model, 2 scales"]["test_error"] == 0.75
    assert rows["Fine model, 1 scale"]["error_by_length"] == {1: 0.0, 2: 1.0, 3: 1.0}
    assert rows["Soft-attention, 3 scales"]["error_by_length"] == {1: 0.0, 2: 0.5, 3: 0.0}
    assert rows["Soft-attention, 3 scales"]["images_by_length"] == {1: 1, 2: 2, 3: 1}
    assert rows["Fine model, 1 scale"]["error_by_positions"] == {
        "1-4": {"test_error": 1.0, "images": 1}, "5-16": {"test_error": 2 / 3, "images": 3}}
    # Digits of 35 pixels: scale 1 brings them nearest to the training height.
    assert rows["Fine model, 1 scale"]["error_by_nearest_scale"] == {
        "1.0": {"test_error": 0.75, "images": 4}}
    assert rows["DCN, 4 patches per scale, 3 scales"]["test_error"] == 0.75
    # The paper's counting: k at one scale, k / 2 per scale at 2 and 3 scales.
    assert rows["DCN, 4 patches, 1 scale"]["test_error"] == 0.25
    assert rows["DCN, 4 patches, 2 scales"]["test_error"] == 0.25
    assert rows["DCN, 6 patches, 3 scales"]["test_error"] == 0.0
    assert rows["DCN, 6 patches, 3 scales"]["standard_error"] == 0.0
    assert rows["Coarse model, 3 scales"]["standard_error"] == pytest.approx(0.25)
    every = rows["DCN, all patches, 3 scales"]
    assert every["images"] == 3 and every["test_error"] == pytest.approx(2 / 3)
    assert every["error_by_positions"] == {"5-16": {"test_error": 2 / 3, "images": 3}}
    assert every["same_images_dcn_error"] == 0.0  # the 3-scale paper DCN on those 3 images
    assert every["paired_difference"] == pytest.approx(2 / 3)
    assert every["paired_difference_standard_error"] == pytest.approx(
        np.std([0, 1, 1], ddof=1) / math.sqrt(3))
    assert not any("as in the paper" in name for name in rows)

    # The preset's DCN (confidence, vote) also gets the paper's, counted the same way.
    paper_split = "DCN, 2 patches, entropy_gradient, inverse_entropy"
    marks["DCN, 2 patches, confidence, sequence_vote"] = marks.pop(paper_split)
    marks["DCN, 4 patches, entropy_gradient, inverse_entropy"] = [[1, 1, 0, 0]]
    marks[paper_split] = [[1, 1, 1, 1], [1, 1, 1, 0], [1, 0, 0, 0]]
    dcn = MultiDigitDCN(dcn.coarse, dcn.fine, 4)
    rows = {row["model"]: row for row in house_numbers_report.table_2_rows(
        dcn, examples, (1.0, 0.75, 0.5),
        functions={name: None for name in marks if name.startswith(("C", "F", "S", "DCN, 4"))})}
    assert rows["DCN, 6 patches, 3 scales"]["test_error"] == 0.0
    paper = "DCN as in the paper"
    assert [rows[f"{paper}, {k} patches, {n}"]["test_error"]
            for k, n in ((4, "1 scale"), (4, "2 scales"), (6, "3 scales"))] == [0.5, 0.75, 0.25]


def test_a_killed_reading_resumes_from_the_batches_it_had_saved(tmp_path):
    examples = [_example([1, 2]), _example([7]), _example([1, 2], 90, 200),
                _example([4], 60, 120), _example([1, 2], 54, 110)]
    scales = (1.0, 0.5)
    whole = house_numbers_report.sequence_wrong_by_scales(_oracle([1, 2]), examples, scales,
                                                        (54, 110), batch_size=2)
    calls = []

    def dies_on_the_second_batch(images, sizes):
        calls.append(int(images.shape[0]))
        if len(calls) > len(scales):
            raise KeyboardInterrupt
        return _oracle([1, 2])(images, sizes)

    with pytest.raises(KeyboardInterrupt):
        house_numbers_report.sequence_wrong_by_scales(
            dies_on_the_second_batch, examples, scales, (54, 110), batch_size=2,
            desc="Coarse model", progress_dir=tmp_path)
    calls.clear()

    def counted(images, sizes):
        calls.append(int(images.shape[0]))
        return _oracle([1, 2])(images, sizes)

    resumed = house_numbers_report.sequence_wrong_by_scales(
        counted, examples, scales, (54, 110), batch_size=2, desc="Coarse model",
        progress_dir=tmp_path)
    # Batches of 2, 2 and 1 images; the first was saved, so 3 images are read at 2 scales.
    assert calls == [2, 2, 1, 1]
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
    assert [row["model"] for row in rows] == [
        *[f"{name}, {n} scale{'s' if n > 1 else ''}"
          for name in ("Coarse model", "Fine model", "Soft-attention") for n in (1, 2, 3)],
        "DCN, 2 patches per scale, 2 scales", "DCN, 2 patches per scale, 3 scales",
        # The paper's counting: k patches at one scale, k / 2 per scale at more.
        "DCN, 2 patches, 1 scale", "DCN, 2 patches, 2 scales", "DCN, 3 patches, 3 scales",
        # The preset's DCN (confidence, vote); the paper's, counted the same way.
        *[f"DCN as in the paper, {k}" for k in (
            "2 patches, 1 scale", "2 patches, 2 scales", "3 patches, 3 scales")],
        "DCN, all patches, 3 scales"]
    for row in rows:
        assert 0.0 <= row["test_error"] <= 1.0
        images = 2 if row["name"] == "DCN, all patches" else 3
        assert row["images"] == images
        assert row["standard_error"] == pytest.approx(
            math.sqrt(row["test_error"] * (1 - row["test_error"]) / images))
    assert 0.0 <= rows[-1]["same_images_dcn_error"] <= 1.0
    # Error per number length: lengths 1, 2 and 3 here, one image each.
    assert rows[0]["images_by_length"] == {1: 1, 2: 1, 3: 1}
    assert set(rows[0]["error_by_length"]) == {1, 2, 3}
    assert rows[-1]["images_by_length"] == {1: 1, 2: 1}
    timing = json.loads((tmp_path / "results.json").read_text())["timing"]
    assert timing["images"] == 1 and timing["largest"] == [80, 180]
    assert set(timing["mean_ms"]) == {"Coarse model", "Fine model", "Soft-attention",
                                      "DCN, 2 patches"}
    assert "toy data" in (tmp_path / "results.md").read_text()
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
