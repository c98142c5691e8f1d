import numpy as np
import pytest

from dcn_keras.cluttered_mnist import report


def test_paired_with_fine_subtracts_the_fine_model_of_the_same_seed_image_by_image():
    fine = {0: np.array([1, 0, 0, 0], bool), 1: np.array([0, 0, 0, 0], bool)}
    dcn = {0: np.array([1, 1, 0, 0], bool), 1: np.array([0, 0, 0, 1], bool)}
    marks = {(seed, "fine"): fine[seed] for seed in fine}
    marks.update({(seed, "dcn"): dcn[seed] for seed in dcn})
    marks[2, "dcn"] = dcn[0]  # no fine model of seed 2: left out
    [line] = report.paired_with_fine(marks)
    assert line["kind"] == "dcn" and sorted(line["per_seed"]) == [0, 1]
    # Per-image differences 0, 1, 0, 0 in both seeds: 0.25 ± 0.5 / 2.
    for seed in (0, 1):
        assert line["per_seed"][seed] == {"difference": 0.25, "standard_error": 0.25}
    assert line["mean"] == 0.25 and line["stdev"] == 0.0 and line["se_of_mean"] == 0.0
    table = report.paired_markdown([line])
    assert "| DCN with hints | +25.00 ± 25.00 | +25.00 ± 25.00 | +25.00 ± 0.00 |" in table


def test_paired_with_fine_is_empty_without_a_fine_model():
    assert report.paired_with_fine({(0, "dcn"): np.zeros(3, bool)}) == []
    with pytest.raises(ValueError):  # marks of different images cannot be paired
        report.paired_with_fine({(0, "dcn"): np.zeros(3, bool), (0, "fine"): np.zeros(2, bool)})
