import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from dcn_keras.cluttered_mnist.evaluation import PATCH_COUNTS
from dcn_keras.cluttered_mnist.family import ClutteredMnistFamily
from dcn_keras.cluttered_mnist.summaries import AttentionSummaries


def test_each_epoch_writes_the_patches_and_error_versus_k_to_tensorboard(tmp_path):
    model = ClutteredMnistFamily().build("dcn", num_patches=2)
    rng = np.random.default_rng(0)
    valid = tf.data.Dataset.from_tensor_slices(
        (rng.random((20, 100, 100, 1), np.float32), np.arange(20, dtype=np.int32) % 10)).batch(8)
    callback = AttentionSummaries(valid, tmp_path, pictured=2, scored=8)
    callback.set_model(model)
    callback.on_train_begin()
    for epoch in range(2):
        callback.on_epoch_end(epoch)
    events = event_accumulator.EventAccumulator(str(tmp_path / "attention"),
                                                size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert {"selected_patches_and_saliency", "error_versus_k"} <= tags
    assert {f"error_at_k/{k}" for k in PATCH_COUNTS} <= tags
    pictures = events.Tensors("selected_patches_and_saliency")
    assert [event.step for event in pictures] == [0, 1]
    # An image summary holds width, height and the PNG bytes.
    png = tf.make_ndarray(pictures[0].tensor_proto)[2]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    errors = [float(tf.make_ndarray(event.tensor_proto))
              for event in events.Tensors("error_at_k/8")]
    assert len(errors) == 2 and all(0 <= error <= 1 for error in errors)
