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

    rows = [{"name": name, "scales": n, "test_error": error}
            for name, errors in (("Fine model", (0.30, 0.20)), ("DCN", (0.1, 0.1)),
                                 ("DCN, k per scale", (0.10, 0.25)))
            for n, error in enumerate(errors, start=1)]
    decision = house_numbers_blessing(rows, max_error_gap=0.01)
    assert decision["scales"] == 2 and not decision["blessed"]
    assert abs(decision["error_gap"] - 0.05) < 1e-12
    assert house_numbers_blessing(rows, max_error_gap=0.05)["blessed"]
