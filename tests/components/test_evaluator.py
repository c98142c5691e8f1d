from components.evaluator import blessing_decision

ROWS = [{"kind": "coarse", "test_error": 0.05}, {"kind": "fine", "test_error": 0.02},
        {"kind": "dcn", "test_error": 0.025}]


def test_dcn_is_blessed_only_within_the_allowed_gap_to_the_fine_model():
    assert blessing_decision(ROWS, max_error_gap=0.01)["blessed"]
    refused = blessing_decision(ROWS, max_error_gap=0.001)
    assert not refused["blessed"]
    assert abs(refused["error_gap"] - 0.005) < 1e-12
