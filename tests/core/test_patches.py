import numpy as np
import pytest
import tensorflow as tf

from dcn_keras.classifier import networks
from dcn_keras.core import patches, refine


def test_patches_are_the_pixels_of_their_boxes(config, images):
    geometry = config.geometry()
    positions = tf.constant([[[0, 0], [22, 22], [5, 17]]] * 3, tf.int32)
    cut = patches.cut_patches(images, positions, geometry.grid).numpy()
    boxes = patches.patch_boxes(positions, geometry.grid).numpy()
    assert cut.shape == (3, 3, 14, 14, 1)
    padded = np.pad(images, [(0, 0), (1, 1), (1, 1), (0, 0)])
    for b in range(3):
        for k in range(3):
            top, left, bottom, right = boxes[b, k]
            assert (bottom - top, right - left) == (14, 14)
            np.testing.assert_array_equal(cut[b, k], padded[b, top + 1:bottom + 1,
                                                             left + 1:right + 1])


def test_patch_contains_receptive_field_of_its_coarse_position(config):
    """A coarse vector sees only pixels inside its patch: place content and look."""
    coarse = networks.coarse_network(config)
    for layer in coarse.layers:
        if hasattr(layer, "beta"):  # keep every ReLU open, so no path of the field is cut
            layer.beta.assign(np.full(layer.beta.shape, 100.0, np.float32))
    geometry = config.geometry()
    image = tf.Variable(np.zeros((1, 100, 100, 1), np.float32))
    for row, col in [(0, 0), (10, 3), (22, 22)]:
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(coarse(image, training=False)[0, row, col])
        support = np.argwhere(np.abs(tape.gradient(value, image).numpy()[0, ..., 0]) > 0)
        top, left, bottom, right = patches.patch_boxes(
            tf.constant([[[row, col]]]), geometry.grid).numpy()[0, 0]
        assert support[:, 0].min() >= top and support[:, 0].max() < bottom
        assert support[:, 1].min() >= left and support[:, 1].max() < right
        # And the receptive field is the 11x11 square starting at 4 * position.
        assert support[:, 0].min() == 4 * row and support[:, 0].max() == 4 * row + 10
        assert support[:, 1].min() == 4 * col and support[:, 1].max() == 4 * col + 10


def test_synthetic_digit_lands_in_the_selected_patch(config):
    """A bright square at a known place is cut out exactly for the position covering it."""
    image = np.zeros((1, 100, 100, 1), np.float32)
    image[0, 41:45, 61:65] = 1.0  # covered by coarse position (10, 15): pixels 40-50, 60-70
    cut = patches.cut_patches(image, tf.constant([[[10, 15]]]), config.geometry().grid).numpy()
    assert cut.sum() == 16
    np.testing.assert_array_equal(np.argwhere(cut[0, 0, ..., 0] > 0).min(0), [2, 2])


def test_refined_map_differs_exactly_at_selected_positions():
    rng = np.random.default_rng(4)
    coarse = rng.random((2, 23, 23, 24), dtype=np.float32)
    fine = rng.random((2, 3, 24), dtype=np.float32) + 2.0
    positions = tf.constant([[[0, 0], [4, 7], [22, 1]], [[3, 3], [3, 4], [9, 9]]], tf.int32)
    refined = refine.refine(coarse, fine, positions).numpy()
    changed = np.any(refined != coarse, axis=-1)
    expected = np.zeros((2, 23, 23), bool)
    for b in range(2):
        for k, (row, col) in enumerate(positions.numpy()[b]):
            expected[b, row, col] = True
            np.testing.assert_array_equal(refined[b, row, col], fine[b, k])
    np.testing.assert_array_equal(changed, expected)
    np.testing.assert_array_equal(refine.gather_vectors(refined, positions).numpy(), fine)


@pytest.mark.parametrize("preset", ["cluttered_mnist", "house_numbers"])
def test_gather_equals_the_windows_of_tf_image_extract_patches(preset):
    """The fast path cuts exactly the windows `tf.image.extract_patches` gives at the
    selected positions, corners included, for both families' patch grids."""
    from dcn_keras import presets

    config = presets.get(preset)
    if preset == "house_numbers":
        grid, (height, width), (rows, cols) = config.grid(), (90, 200), config.map_size(90, 200)
        channels = config.channels
    else:
        geometry = config.geometry()
        grid, (height, width, channels) = geometry.grid, config.image_shape
        rows, cols = geometry.map_height, geometry.map_width
    rng = np.random.default_rng(5)
    images = tf.constant(rng.random((2, height, width, channels), dtype=np.float32))
    flat = np.stack([rng.choice(rows * cols, 4, replace=False) for _ in range(2)])
    flat[0, :2] = [0, rows * cols - 1]  # the first and the last position
    positions = tf.constant(np.stack([flat // cols, flat % cols], -1), tf.int32)
    gathered = patches.cut_patches(images, positions, grid, "gather")
    reference = patches.cut_patches(images, positions, grid, "extract_patches")
    assert gathered.shape == (2, 4, *grid.size, channels)
    np.testing.assert_array_equal(gathered.numpy(), reference.numpy())


def test_unknown_patch_method_is_named():
    grid = patches.PatchGrid((4, 4), (1, 1), (14, 14))
    with pytest.raises(ValueError, match="gather"):
        patches.cut_patches(tf.zeros((1, 20, 20, 1)), tf.zeros((1, 1, 2), tf.int32), grid,
                            "loop")


@pytest.mark.parametrize("preset", ["cluttered_mnist", "house_numbers"])
def test_models_predict_the_same_with_either_patch_method(preset):
    from dcn_keras import MultiDigitDCN, MultiDigitModel, presets

    config = presets.get(preset)
    rng = np.random.default_rng(6)
    if preset == "house_numbers":
        parts = [MultiDigitModel(config, part) for part in ("coarse", "fine")]
        models = [MultiDigitDCN(*parts, num_patches=3, patch_method=method)
                  for method in patches.METHODS]
        images = rng.random((2, 70, 150, 1), dtype=np.float32)
        outputs = [model(images)["digits"] for model in models]
    else:
        from dcn_keras import DynamicCapacityNetwork

        models = [DynamicCapacityNetwork(config, patch_method=method)
                  for method in patches.METHODS]
        models[1].set_weights(models[0].get_weights())
        images = rng.random((2, 100, 100, 1), dtype=np.float32)
        outputs = [model(images) for model in models]
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)


@pytest.mark.parametrize("method", patches.METHODS)
def test_patches_that_start_inside_their_field_are_cut_where_they_lie(method):
    """A negative offset (a patch smaller than its receptive field, centred on it) cuts the
    pixels at position * stride - offset, as `patch_boxes` says."""
    image = np.arange(30 * 30, dtype=np.float32).reshape(1, 30, 30, 1)
    grid = patches.PatchGrid((4, 4), (-2, -3), (4, 5))
    positions = tf.constant([[[0, 0], [3, 5]]])
    cut = patches.cut_patches(image, positions, grid, method).numpy()
    for (top, left, bottom, right), patch in zip(
            patches.patch_boxes(positions, grid).numpy()[0], cut[0]):
        np.testing.assert_array_equal(patch, image[0, top:bottom, left:right])
