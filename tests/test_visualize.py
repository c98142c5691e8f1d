import matplotlib.image
import pytest

from dcn_keras import visualize


def test_error_versus_scales_draws_one_panel_per_top(tmp_path):
    path = tmp_path / "scales.png"
    visualize.plot_error_versus_scales(
        {"coarse model, average top": {"preset": [0.8, 0.75, 0.72], "wrong sizes": [0.8, 0.6]},
         "coarse model, soft-attention top": {"preset": [0.65, 0.56, 0.61]}}, path, "title")
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    # Two panels side by side: wider than high, and not blank.
    assert width > 1.5 * height and image[..., :3].std() > 0.05
    assert not list(tmp_path.glob(".*"))  # written atomically, no temporary left


def test_error_versus_scales_needs_a_panel(tmp_path):
    with pytest.raises(ValueError, match="at least one panel"):
        visualize.plot_error_versus_scales({}, tmp_path / "none.png", "title")
