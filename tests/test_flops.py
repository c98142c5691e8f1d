import dataclasses
import json

import pytest

from dcn_keras import cli, flops


def test_counts_layer_by_layer(config):
    counts = flops.count(config, 8)
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
    comparison = flops.compare_with_paper(flops.count(config, 8))
    assert abs(comparison["fine_model"]["relative_difference"]) < 0.03
    # With 14x14 patches DCN needs 17% fewer multiplications than the paper reports;
    # the appendix's 11x11 field plus 3 pixels on each side (17x17) accounts for all of it.
    assert -0.18 < comparison["dcn"]["relative_difference"] < -0.16
    wide = flops.compare_with_paper(flops.count(dataclasses.replace(config, patch_size=17), 8))
    assert abs(wide["dcn"]["relative_difference"]) < 0.01


def test_cost_grows_with_k(config):
    totals = [flops.count(config, k)["dcn"]["total"] for k in (1, 2, 4, 8, 16)]
    assert totals == sorted(totals) and len(set(totals)) == 5


def test_flops_command_prints_json(capsys):
    assert cli.main(["flops", "--preset", "cluttered_mnist", "--patches", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dcn"]["total"] < out["fine_model"]["total"] / 3
    assert set(out["paper_comparison"]) == {"fine_model", "dcn"}


def test_flops_command_rejects_too_many_patches(capsys):
    assert cli.main(["flops", "--patches", "600"]) == 2
    assert "from 1 to 529" in capsys.readouterr().err


def test_svhn_counts_layer_by_layer_and_grow_with_the_input():
    from dcn_keras import presets

    svhn = presets.svhn()
    crop = flops.count_multi_digit(svhn, 6, 54, 110)
    # One crop, one position: coarse layers by hand (valid convolutions).
    coarse = (25 * 53 * 25 * 1 * 24 + 11 * 25 * 25 * 24 * 48 + 4 * 11 * 25 * 48 * 128
              + 1 * 4 * 20 * 128 * 192 + 1 * 1 * 4 * 192 * 192 + 1024 * 192 + 1024 * 1024
              + 1024 * 60)
    assert crop["coarse_model"]["total"] == coarse
    assert crop["scales"][0]["patches"] == 1  # k is capped by the positions there are
    assert crop["dcn"]["total"] == coarse + 1024 * 60 + crop["fine_layers_per_patch"]
    sizes = [(108, 220), (216, 440), (442, 1083)]
    counts = [flops.count_multi_digit(svhn, 6, *size) for size in sizes]
    for name in ("coarse_model", "fine_model", "dcn"):
        totals = [c[name]["total"] for c in counts]
        assert totals == sorted(totals)
    # The fine model grows with the pixels, DCN mostly with k: on the largest SVHN test
    # image DCN costs a small fraction of the fine model.
    assert counts[-1]["dcn"]["total"] < 0.2 * counts[-1]["fine_model"]["total"]
    with pytest.raises(ValueError, match="at least one 54x110 patch"):
        flops.count_multi_digit(svhn, 6, 40, 200)


def test_flops_cli_for_svhn_sizes_writes_json_and_figure_5(tmp_path, capsys):
    plot = tmp_path / "fig5.png"
    assert cli.main(["flops", "--preset", "svhn", "--input-size", "64x128", "363x735",
                     "--json", "--plot", str(plot)]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert [c["input_size"] for c in counts] == [[64, 128], [363, 735]]
    assert {"coarse_model", "soft_attention", "fine_model", "dcn"} <= set(counts[0])
    assert plot.stat().st_size > 1000
