"""The pipeline runner checks its own flags: Beam gets only Beam's pipeline options, and a
misspelled or unknown flag, or a pipeline name that would leave the pipeline root, is a
parser error before anything runs."""

import json

import pytest

from pipeline import configs
from pipeline import dcn_pipeline as runner


def _refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_:
        runner.parse_args(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_beam_options_go_to_beam():
    beam = ["--direct_num_workers=2", "--direct_running_mode=multi_processing", "--runner",
            "DirectRunner"]
    args, beam_args = runner.parse_args(["--profile", "smoke", *beam])
    assert args.profile == "smoke" and beam_args == beam


@pytest.mark.parametrize("argv, unknown", [
    (["--proflie", "smoke", "--num-patches", "0"], "--proflie smoke --num-patches 0"),
    (["--profile", "smoke", "--direct_num_workerz=2"], "--direct_num_workerz=2"),
    (["smoke"], "smoke"),
])
def test_unknown_flags_are_refused_with_the_runners_own(capsys, argv, unknown):
    err = _refused(argv, capsys)
    assert f"error: unrecognized arguments: {unknown}. They are neither flags of this runner" \
        in err
    assert "--profile, --mnist-dir" in err and "--pipeline-name" in err
    assert "nor Beam pipeline options" in err


@pytest.mark.parametrize("name", ["a/../../b", "..", "/tmp/x", "a.b", "dcn_smoke", "-x",
                                  "x-", "a b", "x" * 129])
def test_pipeline_names_that_leave_the_root_or_kubeflow_refuses(capsys, tmp_path, name):
    err = _refused([f"--pipeline-name={name}"], capsys)
    assert f"argument --pipeline-name: Pipeline name {name!r} is not usable" in err
    assert "letters, digits and hyphens" in err
    with pytest.raises(ValueError, match="Pass another --pipeline-name"):
        configs.PipelineConfig(pipeline_name=name, pipeline_root=str(tmp_path))
    with pytest.raises(SystemExit):
        runner.main(["--orchestrator", "kubeflow_v2", f"--pipeline-name={name}",
                     "--pipeline-root", str(tmp_path / "inside" / "root")])
    assert list(tmp_path.rglob("*")) == []  # "a/../../b" would have written tmp_path/b.json


@pytest.mark.parametrize("name", ["dcn-smoke", "Run7", "a", "x" * 128])
def test_kubeflow_safe_names_are_kept(name):
    assert configs.PipelineConfig(pipeline_name=name).name == name
    assert runner.parse_args(["--pipeline-name", name])[0].pipeline_name == name


def test_the_runner_compiles_with_beam_options_and_refuses_before_writing(tmp_path, capsys):
    runner.main(["--orchestrator", "kubeflow_v2", "--profile", "smoke", "--pipeline-root",
                 str(tmp_path), "--pipeline-name", "flags", "--direct_num_workers=2"])
    spec = json.loads((tmp_path / "flags.json").read_text())
    assert "--direct_num_workers=2" in json.dumps(spec)
    with pytest.raises(SystemExit):
        runner.main(["--orchestrator", "kubeflow_v2", "--proflie", "smoke", "--pipeline-root",
                     str(tmp_path / "typo")])
    assert "unrecognized arguments: --proflie smoke" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("seed", ["-1", "4294967296", "x"])
def test_seeds_the_trainers_cannot_take_are_a_parser_error(capsys, seed):
    err = _refused(["--seed", seed], capsys)
    assert f"argument --seed: expected an integer from 0 to 4294967295, got {seed!r}" in err
