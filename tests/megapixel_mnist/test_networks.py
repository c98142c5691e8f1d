import keras
import numpy as np
import pytest

from dcn_keras.megapixel_mnist import config, networks, speed


def test_the_dcn_reads_the_whole_image_at_a_stride_of_16_and_60_pixel_patches():
    dcn = networks.dcn(config.megapixel_mnist())
    geometry = dcn.geometry
    assert (geometry.map_height, geometry.stride, geometry.receptive_field) == (91, 16, 60)
    assert geometry.patch_size == 60 and dcn.num_patches == 10
    assert dcn._top_conv is not None  # the sparse refined pass


@pytest.mark.parametrize("kind", networks.MODEL_KINDS)
def test_every_model_maps_a_full_size_image_to_class_probabilities(kind):
    small = config.megapixel_mnist().resized(200)
    images = speed.image(small)
    probabilities = speed.inference_function(small, kind)(images).numpy()
    assert probabilities.shape == (1, 10)
    np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-5)


def test_a_patch_holds_any_digit_whole():
    """Patches every 16 pixels, 60 wide: some patch holds each 28-pixel digit, wherever it
    lies, the image's edges included."""
    geometry = networks.dcn(config.megapixel_mnist().resized(300)).geometry
    grid = geometry.grid
    starts = np.arange(geometry.map_height) * grid.stride[0] - grid.offset[0]
    for start in range(0, 300 - 28 + 1):
        assert ((starts <= start) & (starts + grid.size[0] >= start + 28)).any(), start


def test_the_dcn_saves_and_loads(tmp_path):
    small = config.megapixel_mnist().resized(200)
    dcn = networks.dcn(small)
    dcn.save(tmp_path / "dcn.keras")
    loaded = keras.models.load_model(tmp_path / "dcn.keras")
    images = speed.image(small)
    np.testing.assert_allclose(loaded(images), dcn(images), atol=1e-6)


def test_an_unknown_model_is_named():
    with pytest.raises(ValueError, match="choose one of"):
        networks.build(config.megapixel_mnist(), "medium_resolution")


def test_the_tensor_probe_counts_what_a_model_holds():
    from dcn_keras import measure

    probe = measure.probe_in_fresh_process("dcn_keras.megapixel_mnist.speed", "200",
                                           "full_resolution", command="tensor-probe")
    # Its first convolution's output alone, 100 x 100 x 32 floats, is held at once.
    assert probe["tensor_added_mb"] >= 100 * 100 * 32 * 4 / 2**20
    # The peak also holds the 200 x 200 input image and the weights, counted by their sizes.
    weights = networks.build(config.megapixel_mnist().resized(200), "full_resolution")
    held = 200 * 200 * 4 + sum(int(np.prod(w.shape)) * 4 for w in weights.weights)
    assert probe["tensor_peak_mb"] == pytest.approx(probe["tensor_added_mb"] + held / 2**20)
