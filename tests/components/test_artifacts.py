import types

from components import artifacts


def test_a_rerun_of_a_trainer_finds_the_state_of_the_killed_run():
    first = types.SimpleNamespace(uri="/root/pipe/FineTrainer/model/7")
    rerun = types.SimpleNamespace(uri="/root/pipe/FineTrainer/model/9/")
    settings = {"examples": "/root/pipe/Gen/examples/1", "epochs": 4, "seed": 0}
    folder = artifacts.resume_dir(first, settings)
    assert folder.startswith("/root/pipe/FineTrainer/.resume/")
    assert artifacts.resume_dir(rerun, dict(settings)) == folder
    # Other inputs or settings never resume from this state.
    assert artifacts.resume_dir(rerun, {**settings, "epochs": 5}) != folder
    assert artifacts.resume_dir(rerun, {**settings, "examples": "/root/pipe/Gen/examples/2"}) \
        != folder
