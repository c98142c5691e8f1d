import dataclasses
import json

from dcn_keras.cluttered_mnist import multiplications
from dcn_keras_cli import cli


def test_counts_layer_by_layer(config):
    counts = multiplications.count(config, 8)
    coarse = 47 * 47 * 7 * 7 * 1 * 12 + 23 * 23 * 3 * 3 * 12 * 24
    top = 10 * 10 * 4 * 4 * 24 * 96 + 96 * 10
    patch = 12 * 12 * 9 * 24 + 12 * 12 * 9 * 24 * 24 + 2 * 6 * 6 * 9 * 24 * 24 + 9 * 24 * 24
    fine_image = (100 * 100 * 9 * 24 + 100 * 100 * 9 * 24 * 24 + 2 * 50 * 50 * 9 * 24 * 24
                  + 23 * 23 * 9 * 24 * 24)
    assert counts["coarse_model"]["total"] == coarse + top
    assert counts["fine_layers_per_patch"] == patch
    assert counts["fine_model"]["total"] == fine_image + top
    sparse_top = 8 * 4 * 4 * 24 * 96 + 96 * 10
    assert counts["dcn"]["total"] == coarse + 2 * top + 8 * patch + sparse_top
    assert counts["dcn_paper_accounting"]["total"] == coarse + 3 * top + 8 * patch


def test_agreement_with_paper(config):
    comparison = multiplications.compare_with_paper(multiplications.count(config, 8))
    assert abs(comparison["fine_model"]["relative_difference"]) < 0.03
    # With 14x14 patches DCN needs 17% fewer multiplications than the paper reports;
    # the appendix's 11x11 field plus 3 pixels on each side (17x17) accounts for all of it.
    assert -0.18 < comparison["dcn"]["relative_difference"] < -0.16
    wide = multiplications.compare_with_paper(
        multiplications.count(dataclasses.replace(config, patch_size=17), 8))
    assert abs(wide["dcn"]["relative_difference"]) < 0.01


def test_the_fine_models_view_costs_its_receptive_field_per_patch(config):
    view = multiplications.count(dataclasses.replace(config, fine_view="fine_model"), 8)
    paper = multiplications.count(config, 8)
    # The cone of valid convolutions under one 24 x 24 window.
    cone = (22 * 22 * 9 * 24 + 20 * 20 * 9 * 24 * 24 + 8 * 8 * 9 * 24 * 24
            + 6 * 6 * 9 * 24 * 24 + 9 * 24 * 24)
    assert view["fine_layers_per_patch"] == cone and view["patch_size"] == 24
    assert view["fine_model"] == paper["fine_model"]
    assert view["dcn"]["total"] - paper["dcn"]["total"] == 8 * (cone - paper[
        "fine_layers_per_patch"])


def test_the_unpadded_fine_model_has_a_smaller_map_and_count(config):
    counts = multiplications.count(config)
    # 100 -> 98 (3x3, valid) -> 49 -> 24 (two 2x2 pools) -> 22 (3x3, valid).
    assert counts["fine_model_unpadded"]["map_size"] == [22, 22]
    assert counts["fine_model_unpadded"]["total"] < counts["fine_model"]["total"]


def test_cost_grows_with_k(config):
    totals = [multiplications.count(config, k)["dcn"]["total"] for k in (1, 2, 4, 8, 16)]
    assert totals == sorted(totals) and len(set(totals)) == 5


def test_multiplications_command_prints_json(capsys):
    assert cli.main(["multiplications", "--preset", "cluttered_mnist", "--patches", "8",
                     "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dcn"]["total"] < out["fine_model"]["total"] / 3
    assert set(out["paper_comparison"]) == {"fine_model", "dcn"}


def test_flops_command_rejects_too_many_patches(capsys):
    assert cli.main(["multiplications", "--patches", "600"]) == 2
    assert "from 1 to 529" in capsys.readouterr().err
