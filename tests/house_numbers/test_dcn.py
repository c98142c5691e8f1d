import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from dcn_keras import presets
from dcn_keras.core import patches
from dcn_keras.house_numbers import dcn as multi_digit_dcn
from dcn_keras.house_numbers.model import MultiDigitModel
from tests.helpers import run_model_saving_test


@pytest.fixture(scope="module")
def models():
    config = presets.house_numbers()
    keras.utils.set_random_seed(0)
    return (MultiDigitModel(config, "coarse"),
            MultiDigitModel(config, "fine"))


def _images(height=70, width=142, batch=2):
    return np.random.default_rng(1).random((batch, height, width, 1), dtype=np.float32)


def test_crops_are_exact_pixels_with_zeros_beyond_the_border():
    images = _images(60, 120, 1)
    positions = tf.constant([[[0, 0], [1, 1]]])
    crops = patches.cut_patches(tf.constant(images), positions,
                                presets.house_numbers().grid()).numpy()[0]
    np.testing.assert_array_equal(crops[0], images[0, :54, :110])
    expected = np.zeros((54, 110, 1), np.float32)
    expected[:52, :104] = images[0, 8:, 16:]
    np.testing.assert_array_equal(crops[1], expected)


def test_a_patch_box_holds_everything_its_coarse_position_sees(models):
    coarse, _ = models
    image = tf.constant(_images(batch=1))
    with tf.GradientTape() as tape:
        tape.watch(image)
        logits = coarse(image)
        target = tf.reduce_sum(logits[0, 1, 1])
    support = np.abs(tape.gradient(target, image).numpy()[0, ..., 0]) > 0
    top, left, bottom, right = patches.patch_boxes(
        tf.constant([[[1, 1]]]), coarse.config.grid()).numpy()[0, 0]
    rows, cols = np.nonzero(support)
    assert top <= rows.min() and rows.max() < bottom and left <= cols.min() and cols.max() < right
    assert (bottom - top, right - left) == (54, 110)


def test_dcn_with_one_patch_is_the_fine_model_on_that_crop(models):
    coarse, fine = models
    dcn = multi_digit_dcn.MultiDigitDCN(coarse, fine, num_patches=1)
    images = _images()
    seen = dcn.attend(images)
    assert seen["saliency"].shape == (2, 3, 3) and seen["positions"].shape == (2, 1, 2)
    for b in range(2):
        top, left, bottom, right = seen["boxes"].numpy()[b, 0]
        crop = images[b:b + 1, top:bottom, left:right]
        length, digits = fine.predict_sequence_probabilities(crop)
        np.testing.assert_allclose(seen["length"][b], length[0], atol=1e-5)
        np.testing.assert_allclose(seen["digits"][b], digits[0], atol=1e-5)
    flat = seen["saliency"].numpy().reshape(2, -1)
    picked = seen["positions"].numpy()[:, 0]
    assert (picked[:, 0] * 3 + picked[:, 1] == flat.argmax(axis=1)).all()


def test_k_is_capped_by_the_positions_and_scales_are_merged(models):
    coarse, fine = models
    images = _images()
    for combination in multi_digit_dcn.COMBINATION:
        dcn = multi_digit_dcn.MultiDigitDCN(coarse, fine, num_patches=50, scales=(1.0, 0.75),
                                            combination=combination)
        assert dcn.attend(images)["positions"].shape == (2, 9, 2)
        length, digits = dcn.predict_sequence_probabilities(images)
        assert length.shape == (2, 5) and digits.shape == (2, 5, 11)
        np.testing.assert_allclose(tf.reduce_sum(digits, -1), 1.0, atol=1e-5)
        picks = [dcn.picks(dcn.attend(*multi_digit_dcn.rescale(
            images, multi_digit_dcn.batch_sizes(images), scale, (54, 110))))
            for scale in dcn.scales]
        if combination == "inverse_entropy":  # the paper: each scale combined, then averaged
            expected = [(a + b) / 2 for a, b in zip(dcn.combine(*picks[0]),
                                                    dcn.combine(*picks[1]))]
        else:  # one vote over the picks of both scales
            expected = multi_digit_dcn.sequences.sequence_vote(
                *(tf.concat(parts, axis=1) for parts in zip(*picks)))
        np.testing.assert_allclose(length, expected[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(digits, expected[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("patch_batch", [5, 6, 64])
def test_reading_patches_in_batches_changes_nothing(models, patch_batch):
    """`patch_batch` bounds memory for large k (Table 2's all-patches row): 18 crops read
    at most 5 at a time (4 calls of 5, padded with 2 blank crops), 6 at a time (3 calls, no
    padding) or in one call give what reading them at once gives."""
    coarse, fine = models
    image = np.random.default_rng(2).random((1, 70, 190, 1), np.float32)
    at_once = multi_digit_dcn.MultiDigitDCN(coarse, fine, 23).attend(image)
    batched = multi_digit_dcn.MultiDigitDCN(coarse, fine, 23,
                                            patch_batch=patch_batch).attend(image)
    assert at_once["positions"].shape == (1, 3 * 6, 2)  # k capped by the 3 x 6 positions
    np.testing.assert_array_equal(at_once["positions"], batched["positions"])
    for key in ("length", "digits"):
        np.testing.assert_allclose(at_once[key], batched[key], rtol=1e-5, atol=1e-6)


def test_baseline_trains_on_crops_and_round_trips(models, tmp_path):
    config = presets.house_numbers()
    model = MultiDigitModel(config, "coarse")
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    images = _images(54, 110, 8)
    targets = (np.full(8, 2, np.int32), np.tile([[3, 7, 10, 10, 10]], (8, 1)).astype(np.int32))
    history = model.fit(images, targets, batch_size=8, epochs=15, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    run_model_saving_test(model, (images,), tmp_path, atol=1e-5)


def test_a_padded_batch_of_mixed_sizes_predicts_as_each_image_alone(models):
    coarse, fine = models
    dcn = multi_digit_dcn.MultiDigitDCN(coarse, fine, num_patches=3)
    rng = np.random.default_rng(2)
    # The last image has 1 x 2 coarse positions: fewer than k.
    shapes = [(70, 142), (86, 190), (54, 126)]
    images = [rng.random((h, w, 1), dtype=np.float32) for h, w in shapes]
    batch, sizes = multi_digit_dcn.pad_batch(images)
    assert batch.shape == (3, 86, 190, 1) and sizes.numpy().tolist() == [list(s) for s in shapes]
    predictors = {
        "average": lambda x, s: coarse.predict_sequence_probabilities(x, s),
        "soft attention": lambda x, s: coarse.predict_sequence_probabilities(
            x, s, top="soft_attention"),
        "dcn": dcn.predict_one_scale,
    }
    for name, predict in predictors.items():
        together = predict(batch, sizes)
        for index, image in enumerate(images):
            alone = predict(image[None], None)
            for part_together, part_alone in zip(together, alone):
                np.testing.assert_allclose(part_together[index], part_alone[0], atol=1e-5,
                                           err_msg=name)
    seen = dcn.attend(batch, sizes)
    assert seen["valid"].numpy()[2].tolist() == [1.0, 1.0, 0.0]
    assert seen["saliency"].numpy()[2, 1:].max() == 0.0


def test_images_smaller_than_a_crop_are_padded_not_stretched(models):
    coarse, _ = models
    small = _images(40, 90, 1)
    padded = np.zeros((1, 54, 110, 1), np.float32)
    padded[:, :40, :90] = small
    images, sizes = multi_digit_dcn.rescale(tf.constant(small), [[40, 90]], 1.0, (54, 110))
    np.testing.assert_array_equal(images, padded)
    length, _ = coarse.predict_sequence_probabilities(images, sizes)
    expected, _ = coarse.predict_sequence_probabilities(padded)
    np.testing.assert_allclose(length, expected, atol=1e-6)
    _, halved = multi_digit_dcn.rescale(tf.constant(small), [[40, 90]], 0.5, (54, 110))
    assert halved.numpy().tolist() == [[20, 45]]


def test_composed_dcn_round_trips_as_one_keras_file(models, tmp_path):
    coarse, fine = models
    dcn = multi_digit_dcn.MultiDigitDCN(coarse, fine, num_patches=2, scales=(1.0, 0.75),
                                        attention="confidence")
    loaded = run_model_saving_test(dcn, (_images(),), tmp_path, atol=1e-5)
    assert (loaded.num_patches, loaded.scales, loaded.attention) == (2, (1.0, 0.75),
                                                                     "confidence")


def test_confidence_attention_picks_the_most_certain_coarse_positions(models):
    _, fine = models
    images = _images(78, 190, 2)
    # An untrained coarse model is near maximum entropy everywhere (spread ~1e-5 nats), so
    # which positions are most certain would be float noise; sharpened logits make it a fact.
    keras.utils.set_random_seed(3)
    coarse = MultiDigitModel(presets.house_numbers(), "coarse")
    coarse(images)
    logits = next(w for w in coarse.weights if w.path.endswith("coarse_logits/kernel"))
    logits.assign(logits * 200.0)
    dcn = multi_digit_dcn.MultiDigitDCN(coarse, fine, num_patches=3, attention="confidence")
    length, digits = (p.numpy() for p in
                      multi_digit_dcn.sequences.probabilities(coarse(images)))
    entropy = (-(length * np.log(length)).sum(-1)
               - (digits * np.log(digits)).sum(-1).sum(-1))
    confidence, mask = dcn.confidence(images)
    np.testing.assert_allclose(confidence, np.exp(-entropy), rtol=1e-4)
    assert mask.numpy().all()
    seen = dcn.attend(images)
    flat = entropy.reshape(2, -1)
    for b in range(2):
        picked = [row * entropy.shape[2] + col for row, col in seen["positions"].numpy()[b]]
        assert np.sort(flat[b])[3] - np.sort(flat[b])[2] > 1e-3, "a tie would make this noise"
        assert sorted(picked) == sorted(np.argsort(flat[b])[:3].tolist())
    # The house_numbers preset's DCN picks by confidence; the paper's saliency is a choice.
    assert multi_digit_dcn.MultiDigitDCN(coarse, fine).attention == "confidence"
    with pytest.raises(ValueError, match="attention must be one of"):
        multi_digit_dcn.MultiDigitDCN(coarse, fine, attention="random")


def test_composing_needs_a_coarse_and_a_fine_model(models):
    coarse, fine = models
    with pytest.raises(ValueError, match="coarse and a fine"):
        multi_digit_dcn.MultiDigitDCN(fine, coarse)


def test_models_trained_on_other_windows_compose_other_presets_do_not(models):
    coarse, fine = models
    framed = MultiDigitModel(dataclasses.replace(fine.config, cut_window_share=0.5), "fine")
    framed.set_weights(fine.get_weights())
    dcn = multi_digit_dcn.MultiDigitDCN(coarse, framed, 2)
    for have, want in zip(tf.nest.flatten(dcn(_images())),
                          tf.nest.flatten(multi_digit_dcn.MultiDigitDCN(coarse, fine, 2)(
                              _images())), strict=True):
        np.testing.assert_allclose(have, want, atol=1e-6)
    other = MultiDigitModel(dataclasses.replace(fine.config, crop_size=(54, 100)), "fine")
    with pytest.raises(ValueError, match="different presets"):
        multi_digit_dcn.MultiDigitDCN(coarse, other)


def test_entropy_gradient_picks_the_one_unsure_position_at_every_scale(models):
    """The paper's attention (Eq. 10) through the real probability head: a coarse model that
    is sure everywhere but where a bright square lies picks the position there, at every
    scale, and cuts the window of that position's box."""
    _, fine = models
    config = presets.house_numbers()
    keras.utils.set_random_seed(5)
    coarse = MultiDigitModel(config, "coarse")
    image = np.zeros((1, 96, 240, 1), np.float32)
    image[0, 40:72, 120:168] = 1.0  # the square the coarse model is unsure about
    coarse(image)
    head = coarse.network.layers[-1]
    kernel = np.zeros(head.kernel.shape, np.float32)
    # Feature 0 makes one class of every softmax certain (logit 20); without it every
    # logit is 0, a uniform prediction.
    kernel[0, 0, 0, :config.max_length] = 20.0 * (np.arange(config.max_length) == 1)
    for slot in range(config.max_length):
        start = config.max_length + slot * config.digit_classes
        kernel[0, 0, 0, start + slot] = 20.0
    head.kernel.assign(kernel)
    head.bias.assign(np.zeros(head.bias.shape, np.float32))

    def box_centres(height, width):
        rows, cols = config.map_size(height, width)
        grid = np.stack(np.meshgrid(range(rows), range(cols), indexing="ij"), -1)
        boxes = patches.patch_boxes(tf.constant(grid.reshape(1, -1, 2)), config.grid())
        boxes = boxes.numpy()[0].reshape(rows, cols, 4)
        return (boxes[..., 0] + boxes[..., 2]) // 2, (boxes[..., 1] + boxes[..., 3]) // 2

    def features_and_logits(images, training=False):
        images = np.asarray(images)
        centre_y, centre_x = box_centres(*images.shape[1:3])
        inside = (centre_y < images.shape[1]) & (centre_x < images.shape[2])
        values = images[:, np.minimum(centre_y, images.shape[1] - 1),
                        np.minimum(centre_x, images.shape[2] - 1), 0] * inside
        features = np.zeros((*values.shape, head.kernel.shape[2]), np.float32)
        features[..., 0] = values < 0.5  # sure where the square is not
        features = tf.constant(features)
        return features, head(features)

    coarse.features_and_logits = features_and_logits
    dcn = multi_digit_dcn.MultiDigitDCN(coarse, fine, num_patches=1,
                                        attention="entropy_gradient")
    sizes = multi_digit_dcn.batch_sizes(image)
    for scale in config.scales:
        scaled, scaled_sizes = multi_digit_dcn.rescale(image, sizes, scale, config.crop_size)
        seen = dcn.attend(scaled, scaled_sizes)
        saliency = seen["saliency"].numpy()[0]
        row, col = seen["positions"].numpy()[0, 0]
        unsure = features_and_logits(scaled)[0].numpy()[0, ..., 0] == 0
        assert unsure.sum() >= 1 and unsure[row, col], scale
        # The gradient is near zero wherever the model is sure.
        assert saliency[~unsure].max() < 1e-3 * saliency[row, col], scale
        top, left, bottom, right = seen["boxes"].numpy()[0, 0]
        crop = patches.cut_patches(tf.constant(scaled), seen["positions"],
                                   config.grid()).numpy()[0, 0]
        window = np.asarray(scaled)[0, top:bottom, left:right]
        np.testing.assert_array_equal(crop[:window.shape[0], :window.shape[1]], window)
        assert top <= 40 * scale < bottom and left <= 120 * scale < right, scale
