import json

import numpy as np
import pytest

from dcn_keras import presets
from dcn_keras.cluttered_mnist import multiplications, report
from dcn_keras.cluttered_mnist.config import DCN_KINDS, TITLES
from dcn_keras_cli import cli


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


def test_paired_with_fine_clusters_the_standard_error_by_digit():
    fine, dcn = np.zeros(4, bool), np.array([1, 1, 0, 0], bool)
    marks = {(0, "fine"): fine, (0, "dcn"): dcn}
    [apart] = report.paired_with_fine(marks, np.arange(4))
    [together] = report.paired_with_fine(marks, np.array([0, 0, 1, 1]))
    # The two differences on one digit count as one case: a wider standard error.
    assert apart["per_seed"][0]["difference"] == together["per_seed"][0]["difference"] == 0.5
    assert together["per_seed"][0]["standard_error"] > apart["per_seed"][0]["standard_error"]


def test_merge_refuses_reports_whose_standard_errors_differ(tmp_path):
    row = {"model": "Fine model", "kind": "fine", "test_error": 0.1, "standard_error": 0.01,
           "test_images": 10, "multiplications": 1}
    reports = [{"data": "d", "test_images": 10, "machine": "m", "batch_size": 2,
                "rows": [dict(row, seed=seed)], "paired_with_fine": [],
                "error_versus_patches_per_seed": {}, "images_per_second": {},
                "multiplications": {}, "standard_errors": errors}
               for seed, errors in ((0, "binomial over the test images"),
                                    (1, "clustered by test digit (5 digits)"))]
    with pytest.raises(ValueError, match="computed differently"):
        report.merge(reports, tmp_path)


def test_where_it_looked_splits_the_errors_by_how_much_of_the_digit_the_patches_hold():
    shares = {(0, "dcn"): np.array([1.0, 0.96, 0.5, 0.9])}
    marks = {(0, "dcn"): np.array([0, 1, 1, 0], bool), (0, "fine"): np.array([0, 0, 1, 1], bool)}
    [line] = report.where_it_looked(shares, marks)
    assert line["ink_inside"] == pytest.approx(0.84)
    assert line["ink_inside_when_wrong"] == pytest.approx(0.73)
    # At least 95%: canvases 0 and 1; less: canvases 2 and 3.
    assert line["nearly_all"] == {"images": 2, "test_error": 0.5, "fine_test_error": 0.0}
    assert line["less"] == {"images": 2, "test_error": 0.5, "fine_test_error": 1.0}
    table = report.where_it_looked_markdown([line])
    assert "| DCN with hints, seed 0 | 84.0% (73.0%) | 2: 50.00% / 0.00% | 2: 50.00% / 100.00% |" \
        in table


ERRORS = {"coarse": 0.03, "fine": 0.015, "dcn_no_hints": 0.016, "dcn": 0.017}


def _seed_report(seed: int, shift: float) -> dict:
    """A Table 1 results.json of one `seed`, as `dcn evaluate` writes it, every error moved
    by `shift`."""
    rows = [{"model": TITLES[kind], "kind": kind, "seed": seed, "test_error": error + shift,
             "standard_error": 0.001, "test_images": 10000, "multiplications": 1}
            for kind, error in ERRORS.items()]
    paired = [{"model": TITLES[kind], "kind": kind,
               "per_seed": {str(seed): {"difference": ERRORS[kind] - ERRORS["fine"] + shift,
                                        "standard_error": 0.001}}}
              for kind in DCN_KINDS if kind in ERRORS]
    curves = {TITLES[kind]: {str(seed): {str(k): ERRORS[kind] * 8 / k + shift
                                         for k in (1, 8, 16)}}
              for kind in DCN_KINDS if kind in ERRORS}
    return {"data": "toy canvases", "machine": f"machine {seed}", "test_images": 10000,
            "batch_size": 64, "rows": rows, "paired_with_fine": paired,
            "images_per_second": dict.fromkeys(ERRORS, 100.0 * (seed + 1)),
            "error_versus_patches_per_seed": curves,
            "multiplications": multiplications.count(presets.cluttered_mnist())}


def test_merge_makes_one_table_of_runs_scored_apart(tmp_path):
    first, second = _seed_report(1, 0.0), _seed_report(0, 0.01)
    out = report.merge([first, second], tmp_path)["result"]
    assert [(row["kind"], row["seed"]) for row in out["rows"]] == [
        (kind, seed) for kind in ("coarse", "fine", "dcn_no_hints", "dcn") for seed in (0, 1)]
    for line in out["summary"]:
        assert line["seeds"] == [0, 1]
        assert line["mean"] == pytest.approx(ERRORS[line["kind"]] + 0.005)
        assert line["stdev"] == pytest.approx(0.01 / 2 ** 0.5)
    paired = {line["kind"]: line for line in out["paired_with_fine"]}
    assert set(paired["dcn"]["per_seed"]) == {0, 1}
    assert paired["dcn"]["mean"] == pytest.approx(0.002 + 0.005)
    assert paired["dcn"]["se_of_mean"] == pytest.approx(0.005)
    assert out["error_versus_patches"]["DCN with hints"][8] == pytest.approx(0.017 + 0.005)
    # The first report gives the speed; both machines are named.
    assert out["images_per_second"] == first["images_per_second"]
    assert out["images_per_second_seed"] == 1
    assert out["machine"] == "machine 1; machine 0"
    text = (tmp_path / "results.md").read_text()
    assert "seed 0 / 1" in text and "Mean ± s.e. of seeds" in text
    assert "Images/s: seed 1's models timed side by side" in text
    assert (tmp_path / "error_vs_patches.png").stat().st_size > 1000


def test_merge_refuses_a_seed_twice_and_other_test_sets(tmp_path):
    with pytest.raises(ValueError, match="Coarse model, seed 0, is in reports 1 and 2"):
        report.merge([_seed_report(0, 0.0), _seed_report(0, 0.01)], tmp_path)
    other = _seed_report(1, 0.0)
    other["test_images"] = 2000
    with pytest.raises(ValueError, match="different test sets"):
        report.merge([_seed_report(0, 0.0), other], tmp_path)
    assert not (tmp_path / "results.json").exists()


def test_dcn_evaluate_merge_writes_the_merged_table(tmp_path, capsys):
    paths = []
    for seed in (0, 1):
        paths.append(tmp_path / f"seed{seed}.json")
        paths[-1].write_text(json.dumps(_seed_report(seed, 0.001 * seed)))
    out = tmp_path / "table"
    assert cli.main(["evaluate", "--merge", *map(str, paths), "--out", str(out)]) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert sorted({row["seed"] for row in rows}) == [0, 1]
    assert cli.main(["evaluate", "--merge", str(paths[0]), "--data", "d", "--out",
                     str(out)]) == 2
    assert "--merge combines Cluttered MNIST Table 1 reports" in capsys.readouterr().err
    assert cli.main(["evaluate", "--out", str(out)]) == 2
    assert "give --data and --models" in capsys.readouterr().err
    (tmp_path / "not.json").write_text("{}")
    assert cli.main(["evaluate", "--merge", str(tmp_path / "not.json"), "--out",
                     str(out)]) == 2
    assert "is not a Table 1 results.json" in capsys.readouterr().err
