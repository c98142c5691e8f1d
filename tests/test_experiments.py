"""`dcn experiment`'s loop: which models of which seeds it trains."""

import pytest

from dcn_keras import experiments
from dcn_keras.family import Family
from dcn_keras.recipe import Recipe


class Twins(Family):
    experiment_kinds = ("dcn", "baseline")
    first_seed_kinds = ("baseline",)
    titles = {"dcn": "DCN", "baseline": "Baseline"}

    def report(self, data_dir, models_dir, out_dir, recipe):
        return {"models": sorted(path.name for path in models_dir.iterdir())}


def test_first_seed_kinds_train_for_the_first_seed_only(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "metadata.json").write_text("{}")
    trained = []

    def train_model(family, kind, data_dir, path, recipe, verbose):
        trained.append((kind, recipe.seed))
        path.parent.mkdir(exist_ok=True)
        path.write_text("")

    monkeypatch.setattr(experiments, "train_model", train_model)
    recipe = Recipe(train_images=1, valid_images=1, test_images=1, epochs=1, seeds=(3, 4, 5))
    report = experiments.run(Twins(config=object()), recipe, tmp_path)
    assert trained == [("dcn", 3), ("baseline", 3), ("dcn", 4), ("dcn", 5)]
    assert report["models"] == ["baseline_s3.keras", "dcn_s3.keras", "dcn_s4.keras",
                                "dcn_s5.keras"]
    trained.clear()  # a rerun finds every model and trains nothing
    experiments.run(Twins(config=object()), recipe, tmp_path)
    assert trained == []


def test_a_finished_model_of_another_epoch_count_is_refused_not_mixed_in(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "metadata.json").write_text("{}")
    models = tmp_path / "models"
    models.mkdir()
    (models / "dcn.keras").write_text("")
    (models / "dcn_history.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n")  # 2 epochs
    monkeypatch.setattr(experiments, "train_model", lambda *args: None)
    recipe = Recipe(train_images=1, valid_images=1, test_images=1, epochs=3, seeds=(0,))
    with pytest.raises(ValueError, match=r"dcn.keras was trained for 2 epochs .* for 3"):
        experiments.run(Twins(config=object()), recipe, tmp_path)
    experiments.run(Twins(config=object()), recipe.replace(epochs=2), tmp_path)  # it matches
