import json
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from dcn_keras_cli import cli


def test_experiment_writes_models_table_and_plots(experiment):
    for kind in ("coarse", "fine", "dcn_no_hints", "dcn"):
        assert (experiment / "models" / f"{kind}.keras").stat().st_size > 0
        assert (experiment / "models" / f"{kind}_history.csv").exists()
    for name in ("patches.png", "error_vs_patches.png", "hint_distance.png"):
        assert (experiment / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads((experiment / "report" / "results.json").read_text())
    assert [row["model"] for row in result["rows"]] == [
        "Coarse model", "Fine model", "DCN w/o hints", "DCN with hints"]
    assert set(result["images_per_second"]) == {"coarse", "fine", "dcn_no_hints", "dcn"}
    assert all(value > 0 for value in result["images_per_second"].values())
    for row in result["rows"]:
        assert 0 <= row["test_error"] <= 1 and row["seed"] == 0
        assert row["test_images"] == 48 and row["epochs"] == 1  # --epochs 1, every model
        # Clustered by digit; the 48 canvases show 48 digits, so it is the sample
        # standard deviation over sqrt(48).
        assert row["standard_error"] == pytest.approx(
            (row["test_error"] * (1 - row["test_error"]) / 47) ** 0.5)
    assert result["standard_errors"] == "clustered by test digit (48 digits)"
    assert set(result["error_versus_patches"]["DCN with hints"]) == \
        {"1", "2", "4", "8", "12", "16", "24", "32"}
    assert "test pool" in result["data"] and "CPU cores" in result["machine"]
    # Paired on the same 48 canvases, each DCN's mean difference from the fine model is
    # the difference of their error rates.
    errors = {row["kind"]: row["test_error"] for row in result["rows"]}
    paired = {line["kind"]: line["per_seed"]["0"] for line in result["paired_with_fine"]}
    assert set(paired) == {"dcn_no_hints", "dcn"}
    for kind, seed0 in paired.items():
        assert seed0["difference"] == pytest.approx(errors[kind] - errors["fine"])
        assert seed0["standard_error"] >= 0
    # Where each DCN looked: the share of the digit inside its patches, and its errors on
    # the canvases where they hold nearly all of it and on the others, which add up.
    looked = {line["kind"]: line for line in result["where_it_looked"]}
    assert set(looked) == {"dcn_no_hints", "dcn"}
    for kind, line in looked.items():
        assert 0 <= line["ink_inside"] <= 1
        groups = (line["nearly_all"], line["less"])
        assert sum(group["images"] for group in groups) == 48
        assert sum(group["images"] * (group["test_error"] or 0) for group in groups) == \
            pytest.approx(48 * errors[kind])
    table = (experiment / "report" / "results.md").read_text()
    assert table.count("\n| ") >= 4 + 5 + 3 and "Minus the fine model" in table
    assert "Where the DCNs looked" in table and "Epochs trained (each model's history): 1 " \
        "for every model" in table


def test_experiment_resumes_without_retraining(experiment, mnist_dir, capsys):
    before = (experiment / "models" / "fine.keras").stat().st_mtime_ns
    assert cli.main(["experiment", "--out", str(experiment), "--mnist-dir", str(mnist_dir),
                     "--epochs", "1", "--batch-size", "32", "--seeds", "0",
                     "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "skipping" in out
    assert (experiment / "models" / "fine.keras").stat().st_mtime_ns == before
    # What it prints leads somewhere: the report, and the commands it suggests run as
    # printed (the export, then the inspection that the export suggests).
    report, = re.findall(r"Report: (\S+) ", out)
    assert "| DCN with hints" in pathlib.Path(report).read_text()
    export, = re.findall(r"`(dcn export [^`]+)`", out)
    assert cli.main(shlex.split(export)[1:]) == 0
    inspect, = re.findall(r"Inspect it with: (saved_model_cli .+)", capsys.readouterr().out)
    command = shlex.split(inspect)
    command[0] = str(pathlib.Path(sys.executable).with_name(command[0]))
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert "serving_images" in shown


def test_evaluate_reports_every_seed_as_table_1(experiment, tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    for seed in (0, 2):  # the same models as two seeds: a spread of zero
        for kind in ("coarse", "fine", "dcn"):
            shutil.copy(experiment / "models" / f"{kind}.keras",
                        models / f"{kind}_s{seed}.keras")
    assert cli.main(["evaluate", "--data", str(experiment / "data"), "--models", str(models),
                     "--out", str(tmp_path / "report")]) == 0
    assert "seed 0 / 2" in capsys.readouterr().out
    result = json.loads((tmp_path / "report" / "results.json").read_text())
    # The Table 1 JSON: one row per model and seed.
    assert [(row["kind"], row["seed"]) for row in result["rows"]] == [
        ("coarse", 0), ("fine", 0), ("dcn", 0), ("coarse", 2), ("fine", 2), ("dcn", 2)]
    for row in result["rows"]:
        assert {"model", "seed", "test_error", "test_images", "multiplications"} <= set(row)
        assert row["test_images"] == 48 and row["multiplications"] > 1e6
    summary = {line["kind"]: line for line in result["summary"]}
    assert summary["fine"]["seeds"] == [0, 2] and summary["fine"]["stdev"] == 0.0
    assert summary["dcn"]["mean"] == result["rows"][2]["test_error"]
    assert set(result["error_versus_patches"]) == {"DCN with hints"}


def test_evaluate_without_models_fails_clearly(experiment, tmp_path, capsys):
    code = cli.main(["evaluate", "--data", str(experiment / "data"), "--models",
                     str(tmp_path), "--out", str(tmp_path / "report")])
    assert code == 2
    assert "dcn train" in capsys.readouterr().err


def test_data_without_mnist_says_what_to_pass(tmp_path, capsys):
    code = cli.main(["data", "--out", str(tmp_path / "d"), "--mnist-dir", str(tmp_path / "x")])
    assert code == 2
    assert "--mnist-dir" in capsys.readouterr().err


def test_house_numbers_experiment_end_to_end_on_tiny_data(house_numbers):
    result = json.loads((house_numbers / "report" / "results.json").read_text())
    # 3 x 3 baseline rows, the served DCN with k per scale at 2 and 3 scales, the DCN as the
    # paper counts it at 1-3 scales with each of 2 attentions and 2 combinations, and the
    # fine network on every window under each combination (on test only).
    assert len(result["rows"]) == 25 and "MNIST house numbers" in result["data"]
    assert [row["model"] for row in result["rows"][-2:]] == [
        "Fine network on every window, Eq. 12-14, 3 scales",
        "Fine network on every window, sequence vote, 3 scales"]
    assert sum(row["served"] for row in result["rows"]) == 3
    assert result["picks_holding_the_number"]["images"] == 3
    large = json.loads((house_numbers / "report" / "test_large" / "results.json").read_text())
    assert len(large["rows"]) == 23 and large["test_images"] == 3
    for name in ("coarse", "fine", "dcn"):
        assert (house_numbers / "models" / f"{name}.keras").exists()


def test_compose_then_fine_tune_from_the_command_line(experiment, tmp_path, capsys):
    models = experiment / "models"
    composed = tmp_path / "composed.keras"
    assert cli.main(["compose", "--data", str(experiment / "data"), "--coarse",
                     str(models / "coarse.keras"), "--fine", str(models / "fine.keras"),
                     "--out", str(composed), "--num-patches", "2"]) == 0
    assert "Bridge: 3x3 linear map" in capsys.readouterr().out
    report = json.loads((tmp_path / "composed_composition" / "results.json").read_text())
    assert set(report["valid_error_versus_patches"]) == \
        {"1", "2", "4", "8", "12", "16", "24", "32"}
    tuned = tmp_path / "tuned.keras"
    assert cli.main(["train", "--data", str(experiment / "data"), "--model", "dcn", "--start",
                     str(composed), "--out", str(tuned), "--epochs", "1", "--batch-size", "32",
                     "--num-patches", "2", "--verbose", "0"]) == 0
    model = keras.models.load_model(tuned)
    assert model.bridge == 3 and model.num_patches == 2
    assert list((tmp_path / "tuned_logs").rglob("events.out.tfevents.*"))
    # A coarse model cannot start from a composed DCN.
    assert cli.main(["train", "--data", str(experiment / "data"), "--model", "coarse",
                     "--start", str(composed), "--out", str(tmp_path / "c.keras")]) == 2
    assert "Only DCN kinds" in capsys.readouterr().err


def test_old_names_work_for_one_release_and_say_the_new_one(capsys):
    assert cli.main(["flops", "--preset", "svhn", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["preset"] == "house_numbers"
    assert "command name 'flops' is deprecated" in out.err and "`dcn multiplications`" in out.err
    assert "preset name 'svhn' is deprecated" in out.err and "'house_numbers'" in out.err
    args = cli.parse_args(["data", "--out", "d", "--dataset", "mnist_house_numbers"])
    assert args.dataset == "house_numbers"
    assert "data set name 'mnist_house_numbers' is deprecated" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.parse_args(["multiplications", "--preset", "svnh"])
    assert ("invalid choice: 'svnh' (choose from cluttered_mnist, house_numbers, "
            "megapixel_mnist)") in \
        capsys.readouterr().err


def test_warm_start_trains_the_papers_dcn_from_a_coarse_and_a_fine_model(experiment, tmp_path,
                                                                          capsys):
    from dcn_keras import presets

    models = experiment / "models"
    family = presets.family("cluttered_mnist")
    coarse, fine = (keras.models.load_model(models / f"{kind}.keras")
                    for kind in ("coarse", "fine"))
    start = family.warm_start(coarse, fine, 4)
    assert start.bridge == 0 and start.config.fine_view == "patch" and start.num_patches == 4
    for part, source in ((start.coarse, coarse.get_layer("coarse")),
                         (start.fine, fine.get_layer("fine")), (start.top, fine.get_layer("top"))):
        for got, want in zip(part.get_weights(), source.get_weights(), strict=True):
            np.testing.assert_array_equal(got, want)
    out = tmp_path / "dcn.keras"
    args = ["train", "--data", str(experiment / "data"), "--model", "dcn", "--warm-start",
            str(models / "coarse.keras"), str(models / "fine.keras"), "--out", str(out),
            "--epochs", "1", "--batch-size", "32", "--verbose", "0"]
    assert cli.main(args) == 0
    trained = keras.models.load_model(out)
    assert trained.bridge == 0 and trained.hint_weight == family.config.hint_weight
    # What it prints leads somewhere: the history has the epoch, and the TensorBoard logs
    # hold where the DCN looked and its error versus k.
    history, logdir = re.search(r"History: (\S+); TensorBoard: tensorboard --logdir (\S+)",
                                capsys.readouterr().out).groups()
    assert len(pathlib.Path(history).read_text().splitlines()) == 2
    assert list(pathlib.Path(logdir, "attention").glob("events.out.tfevents.*"))
    assert cli.main([*args, "--start", str(models / "dcn.keras")]) == 2
    assert "not both" in capsys.readouterr().err


def test_every_flag_of_every_command_says_what_it_is():
    import argparse

    commands = next(action for action in cli.build_parser()._actions
                    if isinstance(action, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        for action in command._actions:
            assert action.help, f"dcn {name} {action.option_strings} has no help"
        text = command.format_help()
        assert "(default: None)" not in text, name
    assert "(default: 20)" in commands.choices["bench"].format_help()


def test_an_unknown_preset_is_refused_as_a_bad_choice(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["multiplications", "--preset", "imagenet"])
    assert exit_.value.code == 2
    assert ("invalid choice: 'imagenet' (choose from cluttered_mnist, house_numbers, "
            "megapixel_mnist)") in \
        capsys.readouterr().err


def test_cut_window_share_trains_house_numbers_as_the_paper_does_and_refuses_elsewhere(
        tmp_path, capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--preset", "house_numbers", "--model", "fine",
                              "--data", "d", "--out", "m.keras", "--cut-window-share", "0"])
    family = cli._family(args)
    assert family.config.cut_window_share == 0.0
    assert family.config.without_training_data() == \
        cli._family(parser.parse_args(["train", "--preset", "house_numbers", "--model",
                                       "fine", "--data", "d", "--out", "m.keras"])
                    ).config.without_training_data()
    assert cli.main(["train", "--model", "dcn", "--data", str(tmp_path), "--out",
                     str(tmp_path / "m.keras"), "--cut-window-share", "0"]) == 2
    assert "--cut-window-share shapes house_numbers training windows" in \
        capsys.readouterr().err
