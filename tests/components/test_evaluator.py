from components.evaluator import blessing_decision

ROWS = [{"kind": "coarse", "test_error": 0.05}, {"kind": "fine", "test_error": 0.02},
        {"kind": "dcn", "test_error": 0.025}]


def test_dcn_is_blessed_only_within_the_allowed_gap_to_the_fine_model():
    assert blessing_decision(ROWS, max_error_gap=0.01)["blessed"]
    refused = blessing_decision(ROWS, max_error_gap=0.001)
    assert not refused["blessed"]
    assert abs(refused["error_gap"] - 0.005) < 1e-12


def test_house_numbers_blessing_compares_the_served_dcn_and_fine_at_the_most_scales():
    from components.evaluator import house_numbers_blessing

    # The served DCN's rows are flagged, whatever their names: its own method at one
    # scale, k per scale at more; the other DCN rows are not what is pushed.
    rows = [{"name": name, "scales": n, "test_error": error, "served": n in served}
            for name, errors, served in (
                ("Fine model", (0.30, 0.20), ()),
                ("DCN as in the paper", (0.40, 0.10), ()),
                ("DCN, confidence picks, sequence vote", (0.15, 0.12), (1,)),
                ("DCN, k per scale", (None, 0.25), (2,)))
            for n, error in enumerate(errors, start=1) if error is not None]
    decision = house_numbers_blessing(rows, max_error_gap=0.01)
    assert decision["scales"] == 2 and not decision["blessed"]
    assert abs(decision["error_gap"] - 0.05) < 1e-12
    assert house_numbers_blessing(rows, max_error_gap=0.05)["blessed"]
    one_scale = house_numbers_blessing([row for row in rows if row["scales"] == 1], 0.0)
    assert one_scale["scales"] == 1 and one_scale["blessed"]
    assert abs(one_scale["error_gap"] + 0.15) < 1e-12
