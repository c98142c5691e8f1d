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
