import numpy as np
import pytest

from dcn_keras import presets
from dcn_keras.data import sequence_inputs, tfrecords


@pytest.fixture
def records(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "seq.tfrecord"
    tfrecords.write(path, [
        tfrecords.serialize_sequence(rng.integers(0, 256, (40 + 10 * i, 90 + 30 * i),
                                                  dtype=np.uint8), [i + 1] * (i + 1),
                                     (1, 2, 30, 80))
        for i in range(3)])
    return path


def test_training_crops_have_the_crop_size_and_targets(records):
    config = presets.svhn()
    images, (length, digits) = next(iter(sequence_inputs.crops(records, config, 3, True)))
    assert images.shape == (3, 54, 110, 1)
    # Shuffled: the order depends on the global seed that earlier tests may have set.
    assert sorted(length.numpy().tolist()) == [1, 2, 3]
    two = length.numpy().tolist().index(2)
    assert digits.numpy()[two].tolist() == [2, 2, 10, 10, 10]
    first = next(iter(sequence_inputs.crops(records, config, 3, False)))[0].numpy()
    again = next(iter(sequence_inputs.crops(records, config, 3, False)))[0].numpy()
    np.testing.assert_array_equal(first, again)  # validation crops are central, fixed


def test_full_images_keep_their_sizes(records):
    examples = sequence_inputs.full_images(records)
    assert [e["image"].shape for e in examples] == [(40, 90, 1), (50, 120, 1), (60, 150, 1)]
    assert sequence_inputs.full_images(records, limit=2)[1]["length"] == 2
