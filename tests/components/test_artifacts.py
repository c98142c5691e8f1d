import types

import pytest

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


def test_model_kind_is_the_trainers_property_else_the_file_beside_the_model(tmp_path):
    from tfx.types.standard_artifacts import Model

    model = Model()
    model.uri = str(tmp_path)
    with pytest.raises(ValueError, match=r"names no model kind: train it with DcnTrainer"):
        artifacts.model_kind(model)
    (tmp_path / artifacts.KIND_FILE).write_text("small_cnn\n")
    assert artifacts.model_kind(model) == "small_cnn"
    model.set_string_custom_property("model_kind", "dcn")
    assert artifacts.model_kind(model) == "dcn"
