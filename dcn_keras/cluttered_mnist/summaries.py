"""TensorBoard pictures of where a Cluttered MNIST DCN looks, written as it trains."""

from __future__ import annotations

import pathlib
import tempfile

import keras
import tensorflow as tf

from dcn_keras import visualize
from dcn_keras.cluttered_mnist import evaluation


class AttentionSummaries(keras.callbacks.Callback):
    """After every epoch, writes to `<log_dir>/attention` (TensorBoard's Images and Scalars
    tabs): the selected patches and saliency maps of the first `pictured` validation images,
    and the validation error at k = 1 ... 32 on the first `scored` validation images, as
    scalars `error_at_k/<k>` and as a plot.

    Args:
      valid: batched `(images, labels)` validation data.
      log_dir: the run's TensorBoard folder.
    """

    def __init__(self, valid: tf.data.Dataset, log_dir, pictured: int = 8, scored: int = 256):
        super().__init__()
        self.images, self.labels = evaluation.first_batch(valid, scored)
        self.pictured = min(pictured, len(self.images))
        self.scored = tf.data.Dataset.from_tensor_slices(
            (self.images, self.labels.astype("int32"))).batch(128)
        self.writer = tf.summary.create_file_writer(str(pathlib.Path(log_dir) / "attention"))
        self.predict = None  # traced once for the whole run

    def on_train_begin(self, logs=None):
        self.predict = evaluation.patch_count_function(self.model)

    def on_epoch_end(self, epoch, logs=None):
        model = self.model
        images = self.images[:self.pictured]
        attention = {key: value.numpy() for key, value in model.attend(images).items()}
        curve = evaluation.errors_at_every_k(self.predict, self.scored)
        with tempfile.TemporaryDirectory() as folder:
            patches, curve_plot = pathlib.Path(folder, "p.png"), pathlib.Path(folder, "k.png")
            visualize.plot_patches(images, attention, self.labels[:self.pictured], patches)
            visualize.plot_error_versus_patches(
                {model.name: curve}, {}, curve_plot,
                f"epoch {epoch + 1}: error on {len(self.labels)} validation images")
            pictures = [tf.io.decode_png(tf.io.read_file(str(path)), channels=3)[None]
                        for path in (patches, curve_plot)]
        with self.writer.as_default(step=epoch):
            tf.summary.image("selected_patches_and_saliency", pictures[0])
            tf.summary.image("error_versus_k", pictures[1])
            for k, error in curve.items():
                tf.summary.scalar(f"error_at_k/{k}", error)
        self.writer.flush()
