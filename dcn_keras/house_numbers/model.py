"""The coarse and fine models of the house-numbers transfer setting (paper sec. 4.2), each
trained apart on crops, and the masks that let images of different sizes share a batch."""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from dcn_keras.core import conv_stack, train_step
from dcn_keras.core.layers import output_size
from dcn_keras.house_numbers import networks, sequences
from dcn_keras.house_numbers.config import MultiDigitConfig


@keras.saving.register_keras_serializable(package="dcn_keras")
class MultiDigitModel(keras.Model):
    """The coarse or fine baseline: a fully convolutional part network whose probability
    map the top layer averages (Eq. 11). Trained on crops by minimising -log p(S | x) of the
    averaged prediction (`fit` on `(images, (length, digits))`, digits padded with 10); a
    length of 0 marks a window that holds no whole number, where every position's target
    is the uniform distribution (`sequences.position_distance_to_uniform`).

    Calling it maps `[batch, H, W, C]` images of any size >= the crop size to the logits map
    `[batch, s1, s2, num_logits]`. Images of different sizes share a batch by zero padding
    at the bottom and right; `sizes` `[batch, 2]` then gives each one's (height, width) so
    that only the positions inside it are pooled.
    """

    def __init__(self, config: MultiDigitConfig | dict, part: str, **kwargs):
        kwargs.setdefault("name", f"{part}_model")
        super().__init__(**kwargs)
        self.config = (config if isinstance(config, MultiDigitConfig)
                       else MultiDigitConfig.from_dict(config))
        self.part = part
        self.network = networks.part_network(self.config, part)
        self._loss = keras.metrics.Mean(name="loss")
        self._error = keras.metrics.Mean(name="sequence_error")
        self.built = True

    @property
    def metrics(self):
        return [self._loss, self._error]

    def call(self, images, training=False):
        return self.network(images, training=training)

    def features_and_logits(self, images, training=False) -> tuple[tf.Tensor, tf.Tensor]:
        """(features below the probability map `[b, s1, s2, D]`, logits `[b, s1, s2, n]`)."""
        *body, head = self.network.layers
        features = images
        for layer in body:
            features = layer(features, training=training)
        return features, head(features)

    def folded(self) -> MultiDigitModel:
        """This model for inference only: its batch normalisations folded into their
        convolutions (`conv_stack.fold_batch_norm`), so its config says `batch_norm=False`.
        Same outputs to float rounding, fewer passes over the activations (measured in
        docs/house_numbers.md). Itself where it has no batch normalisation."""
        if not self.config.batch_norm:
            return self
        model = MultiDigitModel(dataclasses.replace(self.config, batch_norm=False), self.part,
                                name=self.name)
        conv_stack.fold_batch_norm(self.network, model.network)
        return model

    def position_mask(self, sizes, map_shape) -> tf.Tensor:
        """`[b, s1, s2]` float: 1 where a map position lies inside its image of
        (height, width) `sizes` `[b, 2]` in a padded batch whose map is `map_shape`."""
        layers = {"coarse": self.config.coarse_layers, "fine": self.config.fine_layers}
        return position_mask(layers[self.part], sizes, map_shape)

    def predict_sequence_probabilities(self, images, sizes=None, top: str = "average"):
        """(length `[b, L]`, digits `[b, L, C]`) with the average (Eq. 11) or
        soft-attention (Eq. 12-14) top, over the positions inside each image."""
        logits = self(images)
        mask = None if sizes is None else self.position_mask(sizes, tf.shape(logits)[1:3])
        maps = sequences.probabilities(logits, self.config.max_length,
                                         self.config.digit_classes)
        return (sequences.soft_attention if top == "soft_attention"
                else sequences.average_pool)(*maps, mask)

    def _step_values(self, data, training):
        """Per example of a batch: (loss `[b]`, 1.0 where the sequence is misread `[b]`,
        1.0 where the window holds a whole number, which the error counts `[b]`)."""
        images, (length, digits), _ = keras.utils.unpack_x_y_sample_weight(data)
        # NumPy labels arrive as int64; the decoded sequences are int32.
        length, digits = tf.cast(length, tf.int32), tf.cast(digits, tf.int32)
        logits = self(images, training=training)
        maps = sequences.probabilities(logits, self.config.max_length,
                                       self.config.digit_classes)
        length_p, digit_p = sequences.average_pool(*maps)
        whole = length > 0  # length 0: a window that cuts a number (`cut_windows`)
        log_p = sequences.sequence_log_probability(length_p, digit_p,
                                                   tf.maximum(length, 1), digits)
        loss = tf.where(whole, -log_p, sequences.position_distance_to_uniform(*maps))
        predicted = sequences.best_sequence(length_p, digit_p)
        wrong = tf.cast(sequences.sequence_errors(*predicted, length, digits) & whole,
                        tf.float32)
        return loss, wrong, tf.cast(whole, tf.float32)

    def train_step(self, data):
        values = train_step.minimise(self, lambda: self._loss_and_values(data, True))
        return self._update(*values)

    def test_step(self, data):
        return self._update(*self._step_values(data, training=False))

    def _loss_and_values(self, data, training):
        values = self._step_values(data, training)
        return tf.reduce_mean(values[0]), values

    def _update(self, loss, wrong, whole):
        # Per example, so that an epoch's figures are over its examples: a short last
        # batch counts as many examples as it holds, not as a whole batch.
        self._loss.update_state(loss)
        self._error.update_state(wrong, sample_weight=whole)
        return {"loss": self._loss.result(), "sequence_error": self._error.result()}

    def get_config(self):
        return {"config": self.config.to_dict(), "part": self.part, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def position_mask(layers, sizes, map_shape) -> tf.Tensor:
    """`[b, s1, s2]` float: 1 at the map positions of `layers` that lie inside images of
    (height, width) `sizes` `[b, 2]` zero padded to a common size whose map is `map_shape`.
    An image smaller than one position's view keeps its first position, as if padded alone.
    """
    sizes = tf.cast(sizes, tf.int32)
    rows = tf.maximum(1, output_size(layers, sizes[:, 0], 0))
    cols = tf.maximum(1, output_size(layers, sizes[:, 1], 1))
    inside = tf.logical_and(tf.range(map_shape[0])[None, :, None] < rows[:, None, None],
                            tf.range(map_shape[1])[None, None, :] < cols[:, None, None])
    return tf.cast(inside, tf.float32)
