import pytest

from dcn_keras import seeds


def test_one_seed_keeps_plain_names_several_add_the_seed(tmp_path):
    assert seeds.model_path(tmp_path, "dcn", 0, (0,)).name == "dcn.keras"
    assert seeds.model_path(tmp_path, "dcn", 2, (0, 2)).name == "dcn_s2.keras"


def test_find_models_prefers_seeded_files_and_falls_back_to_plain_ones(tmp_path):
    for name in ("dcn.keras", "fine.keras"):
        (tmp_path / name).touch()
    assert seeds.find_models(tmp_path, ("fine", "dcn"), (0, 1, 2)) == {
        0: {"fine": tmp_path / "fine.keras", "dcn": tmp_path / "dcn.keras"}}
    for name in ("dcn_s1.keras", "fine_s2.keras"):
        (tmp_path / name).touch()
    assert seeds.find_models(tmp_path, ("fine", "dcn"), (0, 1, 2)) == {
        1: {"dcn": tmp_path / "dcn_s1.keras"}, 2: {"fine": tmp_path / "fine_s2.keras"}}
    assert seeds.find_models(tmp_path / "none", ("fine",), (0,)) == {}


def test_first_complete_is_the_first_seed_with_every_kind(tmp_path):
    for name in ("coarse_s0.keras", "coarse_s1.keras", "dcn_s1.keras", "dcn_s2.keras"):
        (tmp_path / name).touch()
    assert seeds.seeds_in(tmp_path) == (0, 1, 2)
    assert seeds.first_complete(tmp_path, ("coarse", "dcn")) == {
        "coarse": tmp_path / "coarse_s1.keras", "dcn": tmp_path / "dcn_s1.keras"}
    with pytest.raises(FileNotFoundError, match="no complete set of coarse, fine"):
        seeds.first_complete(tmp_path, ("coarse", "fine"))
