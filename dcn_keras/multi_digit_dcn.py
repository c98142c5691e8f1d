"""Multi-digit models of the transfer setting (paper sec. 4.2): coarse and fine models
trained apart, soft attention, and DCN composed from them at test time.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from dcn_keras import multi_digit, networks
from dcn_keras.config import MultiDigitConfig


@keras.saving.register_keras_serializable(package="dcn_keras")
class MultiDigitModel(keras.Model):
    """The coarse or fine baseline: a fully convolutional part network whose probability
    map the top layer averages (Eq. 11). Trained on crops by minimising -log p(S | x) of the
    averaged prediction (`fit` on `(images, (length, digits))`, digits padded with 10).

    Calling it maps `[batch, H, W, C]` images of any size >= the crop size to the logits map
    `[batch, s1, s2, num_logits]`.
    """

    def __init__(self, config: MultiDigitConfig | dict, part: str, **kwargs):
        kwargs.setdefault("name", f"{part}_model")
        super().__init__(**kwargs)
        self.config = (config if isinstance(config, MultiDigitConfig)
                       else MultiDigitConfig.from_dict(config))
        self.part = part
        self.network = networks.multi_digit_network(self.config, part)
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

    def predict_sequence_probabilities(self, images, top: str = "average"):
        """(length `[b, L]`, digits `[b, L, C]`) with the average (Eq. 11) or
        soft-attention (Eq. 12-14) top."""
        maps = multi_digit.probabilities(self(images), self.config.max_length,
                                         self.config.digit_classes)
        return (multi_digit.soft_attention if top == "soft_attention"
                else multi_digit.average_pool)(*maps)

    def _step_values(self, data, training):
        images, (length, digits) = data
        logits = self(images, training=training)
        length_p, digit_p = multi_digit.average_pool(*multi_digit.probabilities(
            logits, self.config.max_length, self.config.digit_classes))
        log_p = multi_digit.sequence_log_probability(length_p, digit_p, length, digits)
        predicted = multi_digit.best_sequence(length_p, digit_p)
        errors = multi_digit.sequence_errors(*predicted, length, digits)
        return -tf.reduce_mean(log_p), tf.reduce_mean(tf.cast(errors, tf.float32))

    def train_step(self, data):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss, error = self._step_values(data, training=True)
            replica_loss = loss / replicas
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(replica_loss, variables), variables))
        return self._update(loss, error)

    def test_step(self, data):
        return self._update(*self._step_values(data, training=False))

    def _update(self, loss, error):
        self._loss.update_state(loss)
        self._error.update_state(error)
        return {"loss": self._loss.result(), "sequence_error": self._error.result()}

    def get_config(self):
        return {"config": self.config.to_dict(), "part": self.part, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def saliency_map(coarse: MultiDigitModel, images) -> tuple[tf.Tensor, tuple]:
    """Eq. 10: the L2 norm, per position, of the gradient of the summed digit entropy of
    the averaged coarse prediction with respect to the features below the probability map.

    Returns (`[b, s1, s2]` saliency, the coarse probability maps (length, digits)).
    """
    config = coarse.config
    features, _ = coarse.features_and_logits(images)
    *_, head = coarse.network.layers
    with tf.GradientTape() as tape:
        tape.watch(features)
        maps = multi_digit.probabilities(head(features), config.max_length,
                                         config.digit_classes)
        entropy = multi_digit.digit_entropy(multi_digit.average_pool(*maps)[1])
    gradient = tape.gradient(entropy, features)
    return tf.norm(gradient, axis=-1), maps


def patch_boxes(positions: tf.Tensor, config: MultiDigitConfig) -> tf.Tensor:
    """`[b, k, 2]` coarse positions -> `[b, k, 4]` pixel boxes (top, left, bottom, right),
    half open: the crop that one coarse position sees."""
    stride = tf.constant(config.stride(), tf.int32)
    top_left = positions * stride
    return tf.concat([top_left, top_left + tf.constant(config.crop_size, tf.int32)], axis=-1)


def crop_patches(images: tf.Tensor, boxes: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """`[b, H, W, C]` images, `[b, k, 4]` boxes of `size` (P_h, P_w) -> `[b * k, P_h, P_w, C]`
    exact pixel crops (zeros beyond the border): two gathers, no loop over patches."""
    padded = tf.pad(images, [[0, 0], [0, size[0]], [0, size[1]], [0, 0]])
    rows = boxes[..., :1] + tf.range(size[0])  # [b, k, P_h]
    cols = boxes[..., 1:2] + tf.range(size[1])  # [b, k, P_w]
    strips = tf.gather(padded, rows, axis=1, batch_dims=1)  # [b, k, P_h, W + P_w, C]
    crops = tf.gather(strips, cols, axis=3, batch_dims=2)  # [b, k, P_h, P_w, C]
    return tf.reshape(crops, [-1, size[0], size[1], tf.shape(images)[3]])


class MultiDigitDCN:
    """DCN composed at test time: coarse saliency picks k positions, the fine model reads
    their crops, and the k fine predictions are combined with inverse-entropy weights
    (Eq. 12-14), ignoring the coarse predictions (paper sec. 4.2.2). Multi-scale: the
    predictions at each of `scales` are averaged.
    """

    def __init__(self, coarse: MultiDigitModel, fine: MultiDigitModel,
                 num_patches: int | None = None, scales: tuple[float, ...] | None = None):
        if coarse.config != fine.config:
            raise ValueError("The coarse and fine models were built for different presets.")
        self.coarse, self.fine, self.config = coarse, fine, coarse.config
        self.num_patches = num_patches or self.config.num_patches
        self.scales = tuple(scales or self.config.scales)

    def attend(self, images) -> dict[str, tf.Tensor]:
        """One scale: `[b, H, W, C]` images (H, W >= the crop size) -> `length` `[b, L]`,
        `digits` `[b, L, C]`, `saliency` `[b, s1, s2]`, `positions` `[b, k, 2]`, `boxes`
        `[b, k, 4]` (k capped by the number of positions)."""
        config = self.config
        images = tf.convert_to_tensor(images, tf.float32)
        saliency, _ = saliency_map(self.coarse, images)
        rows, cols = tf.shape(saliency)[1], tf.shape(saliency)[2]
        k = tf.minimum(self.num_patches, rows * cols)
        _, flat = tf.math.top_k(tf.reshape(saliency, [tf.shape(saliency)[0], -1]), k)
        positions = tf.stack([flat // cols, flat % cols], axis=-1)
        boxes = patch_boxes(positions, config)
        length, digits = self.fine.predict_sequence_probabilities(
            crop_patches(images, boxes, config.crop_size))
        length = tf.reshape(length, [-1, k, config.max_length])
        digits = tf.reshape(digits, [-1, k, config.max_length, config.digit_classes])
        # Eq. 12-14 over the k fine predictions (a 1 x k "map").
        length, digits = multi_digit.soft_attention(length[:, None], digits[:, None])
        return {"length": length, "digits": digits, "saliency": saliency,
                "positions": positions, "boxes": boxes}

    def predict_one_scale(self, images) -> tuple[tf.Tensor, tf.Tensor]:
        """(length `[b, L]`, digits `[b, L, C]`) of `attend` at the images' own size."""
        seen = self.attend(images)
        return seen["length"], seen["digits"]

    def predict_sequence_probabilities(self, images):
        """(length `[b, L]`, digits `[b, L, C]`) averaged over the scales."""
        return average_over_scales(self.predict_one_scale, images, self.scales,
                                   self.config.crop_size)


def average_over_scales(predict, images, scales, minimum_size) -> tuple[tf.Tensor, tf.Tensor]:
    """Multi-scale prediction: `predict` on `images` resized by each scale (never below
    `minimum_size`), the predictions averaged as independent estimates."""
    images = tf.convert_to_tensor(images, tf.float32)
    height, width = images.shape[1], images.shape[2]
    outputs = []
    for scale in scales:
        size = (max(minimum_size[0], round(height * scale)),
                max(minimum_size[1], round(width * scale)))
        resized = images if scale == 1.0 else tf.image.resize(images, size, antialias=True)
        outputs.append(predict(resized))
    return tuple(tf.add_n(list(parts)) / len(outputs) for parts in zip(*outputs))
