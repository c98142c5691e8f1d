import dataclasses
import json

import pytest

from dcn_keras import presets
from dcn_keras.house_numbers import multiplications
from dcn_keras_cli import cli


def test_house_numbers_counts_layer_by_layer_and_grow_with_the_input():
    house = presets.house_numbers()
    crop = multiplications.count(house, 6, 54, 110)
    # One crop, one position: coarse layers by hand (valid convolutions).
    coarse = (25 * 53 * 25 * 1 * 24 + 11 * 25 * 25 * 24 * 48 + 4 * 11 * 25 * 48 * 128
              + 1 * 4 * 20 * 128 * 192 + 1 * 1 * 4 * 192 * 192 + 1024 * 192 + 1024 * 1024
              + 1024 * 60)
    assert crop["coarse_model"]["total"] == coarse
    assert crop["scales"][0]["patches"] == 1  # k is capped by the positions there are
    # Confidence attention (the preset's) reads the coarse output: no backward pass.
    assert crop["dcn"]["total"] == coarse + crop["fine_layers_per_patch"]
    # The paper's saliency adds the output layer's backward pass at each position.
    paper = multiplications.count(dataclasses.replace(house, attention="entropy_gradient"),
                                  6, 54, 110)
    assert paper["dcn"]["total"] == coarse + 1024 * 60 + crop["fine_layers_per_patch"]
    sizes = [(108, 220), (216, 440), (442, 1083)]
    counts = [multiplications.count(house, 6, *size) for size in sizes]
    for name in ("coarse_model", "fine_model", "dcn"):
        totals = [c[name]["total"] for c in counts]
        assert totals == sorted(totals)
    # The fine model grows with the pixels, DCN mostly with k: on the largest SVHN test
    # image DCN costs a small fraction of the fine model.
    assert counts[-1]["dcn"]["total"] < 0.2 * counts[-1]["fine_model"]["total"]
    with pytest.raises(ValueError, match="at least one 54x110 patch"):
        multiplications.count(house, 6, 40, 200)


def test_multiplications_cli_for_house_number_sizes_writes_json_and_figure_5(tmp_path, capsys):
    plot = tmp_path / "fig5.png"
    assert cli.main(["multiplications", "--preset", "house_numbers", "--input-size", "64x128",
                     "363x735", "--json", "--plot", str(plot)]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert [c["input_size"] for c in counts] == [[64, 128], [363, 735]]
    assert {"coarse_model", "soft_attention", "fine_model", "dcn"} <= set(counts[0])
    assert plot.stat().st_size > 1000
