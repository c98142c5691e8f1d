import numpy as np
import tensorflow as tf

from dcn_keras import networks, patches


def test_patches_are_the_pixels_of_their_boxes(config, images):
    geometry = config.geometry()
    positions = tf.constant([[[0, 0], [22, 22], [5, 17]]] * 3, tf.int32)
    cut = patches.extract_patches(images, positions, geometry).numpy()
    boxes = patches.patch_boxes(positions, geometry).numpy()
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
            tf.constant([[[row, col]]]), geometry).numpy()[0, 0]
        assert support[:, 0].min() >= top and support[:, 0].max() < bottom
        assert support[:, 1].min() >= left and support[:, 1].max() < right
        # And the receptive field is the 11x11 square starting at 4 * position.
        assert support[:, 0].min() == 4 * row and support[:, 0].max() == 4 * row + 10
        assert support[:, 1].min() == 4 * col and support[:, 1].max() == 4 * col + 10


def test_synthetic_digit_lands_in_the_selected_patch(config):
    """A bright square at a known place is cut out exactly for the position covering it."""
    image = np.zeros((1, 100, 100, 1), np.float32)
    image[0, 41:45, 61:65] = 1.0  # covered by coarse position (10, 15): pixels 40-50, 60-70
    cut = patches.extract_patches(image, tf.constant([[[10, 15]]]), config.geometry()).numpy()
    assert cut.sum() == 16
    np.testing.assert_array_equal(np.argwhere(cut[0, 0, ..., 0] > 0).min(0), [2, 2])


def test_refined_map_differs_exactly_at_selected_positions():
    rng = np.random.default_rng(4)
    coarse = rng.random((2, 23, 23, 24), dtype=np.float32)
    fine = rng.random((2, 3, 24), dtype=np.float32) + 2.0
    positions = tf.constant([[[0, 0], [4, 7], [22, 1]], [[3, 3], [3, 4], [9, 9]]], tf.int32)
    refined = patches.refine(coarse, fine, positions).numpy()
    changed = np.any(refined != coarse, axis=-1)
    expected = np.zeros((2, 23, 23), bool)
    for b in range(2):
        for k, (row, col) in enumerate(positions.numpy()[b]):
            expected[b, row, col] = True
            np.testing.assert_array_equal(refined[b, row, col], fine[b, k])
    np.testing.assert_array_equal(changed, expected)
    np.testing.assert_array_equal(patches.gather_vectors(refined, positions).numpy(), fine)
