"""Multi-digit models of the transfer setting (paper sec. 4.2): coarse and fine models
trained apart, soft attention, and DCN composed from them at test time.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from dcn_keras import multi_digit, networks
from dcn_keras.config import MultiDigitConfig, output_size


@keras.saving.register_keras_serializable(package="dcn_keras")
class MultiDigitModel(keras.Model):
    """The coarse or fine baseline: a fully convolutional part network whose probability
    map the top layer averages (Eq. 11). Trained on crops by minimising -log p(S | x) of the
    averaged prediction (`fit` on `(images, (length, digits))`, digits padded with 10).

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
        maps = multi_digit.probabilities(logits, self.config.max_length,
                                         self.config.digit_classes)
        return (multi_digit.soft_attention if top == "soft_attention"
                else multi_digit.average_pool)(*maps, mask)

    def _step_values(self, data, training):
        images, (length, digits), _ = keras.utils.unpack_x_y_sample_weight(data)
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


def saliency_map(coarse: MultiDigitModel, images, sizes=None) -> tuple[tf.Tensor, tf.Tensor]:
    """Eq. 10: the L2 norm, per position, of the gradient of the summed digit entropy of
    the averaged coarse prediction with respect to the features below the probability map.

    Returns (`[b, s1, s2]` saliency, `[b, s1, s2]` mask of the positions inside each image
    of `sizes`; saliency is 0 outside).
    """
    config = coarse.config
    features, _ = coarse.features_and_logits(images)
    *_, head = coarse.network.layers
    mask = (tf.ones(tf.shape(features)[:3]) if sizes is None
            else coarse.position_mask(sizes, tf.shape(features)[1:3]))
    with tf.GradientTape() as tape:
        tape.watch(features)
        maps = multi_digit.probabilities(head(features), config.max_length,
                                         config.digit_classes)
        entropy = multi_digit.digit_entropy(multi_digit.average_pool(*maps, mask)[1])
    gradient = tape.gradient(entropy, features)
    return tf.norm(gradient, axis=-1) * mask, mask


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


@keras.saving.register_keras_serializable(package="dcn_keras")
class MultiDigitDCN(keras.Model):
    """DCN composed at test time: coarse saliency picks k positions, the fine model reads
    their crops, and the k fine predictions are combined with inverse-entropy weights
    (Eq. 12-14), ignoring the coarse predictions (paper sec. 4.2.2). Multi-scale: the
    predictions at each of `scales` are averaged.

    A Keras model holding the two trained baselines, so it saves as one `.keras` file and
    exports for TF Serving; nothing in it is trained.
    """

    def __init__(self, coarse: MultiDigitModel, fine: MultiDigitModel,
                 num_patches: int | None = None, scales: tuple[float, ...] | None = None,
                 **kwargs):
        kwargs.setdefault("name", "multi_digit_dcn")
        super().__init__(**kwargs)
        if coarse.config != fine.config:
            raise ValueError("The coarse and fine models were built for different presets.")
        if coarse.part != "coarse" or fine.part != "fine":
            raise ValueError(f"Compose a coarse and a fine model, got {coarse.part!r} and "
                             f"{fine.part!r}.")
        self.coarse, self.fine, self.config = coarse, fine, coarse.config
        self.num_patches = int(num_patches or self.config.num_patches)
        self.scales = tuple(float(scale) for scale in (scales or self.config.scales))
        self.built = True

    def call(self, images, sizes=None) -> dict[str, tf.Tensor]:
        """`[b, H, W, C]` zero-padded images (`sizes` `[b, 2]`) -> `length` `[b, L]` and
        `digits` `[b, L, C]` averaged over the scales, with the attention (`saliency`,
        `positions`, `valid`, and `boxes` in input pixels) of the first scale."""
        images = tf.convert_to_tensor(images, tf.float32)
        if sizes is None:
            sizes = batch_sizes(images)
        seen = [self.attend(*rescale(images, sizes, scale, self.config.crop_size))
                for scale in self.scales]
        first = seen[0]
        return {"length": tf.add_n([s["length"] for s in seen]) / len(seen),
                "digits": tf.add_n([s["digits"] for s in seen]) / len(seen),
                "saliency": first["saliency"], "positions": first["positions"],
                "valid": first["valid"],
                "boxes": tf.cast(first["boxes"], tf.float32) / self.scales[0]}

    def get_config(self):
        return {"coarse": keras.saving.serialize_keras_object(self.coarse),
                "fine": keras.saving.serialize_keras_object(self.fine),
                "num_patches": self.num_patches, "scales": list(self.scales),
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for part in ("coarse", "fine"):
            config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)

    def attend(self, images, sizes=None) -> dict[str, tf.Tensor]:
        """One scale: `[b, H, W, C]` images (zero padded; `sizes` `[b, 2]` their own
        (height, width), default the batch's) -> `length` `[b, L]`, `digits` `[b, L, C]`,
        `saliency` `[b, s1, s2]`, `positions` `[b, k, 2]`, `boxes` `[b, k, 4]`, `valid`
        `[b, k]` (0 for the picks beyond an image's own positions when it has fewer than k).
        k is capped by the number of map positions."""
        config = self.config
        images = tf.convert_to_tensor(images, tf.float32)
        saliency, mask = saliency_map(self.coarse, images, sizes)
        rows, cols = tf.shape(saliency)[1], tf.shape(saliency)[2]
        k = tf.minimum(self.num_patches, rows * cols)
        batch = tf.shape(saliency)[0]
        # Saliency is >= 0, so -1 ranks the positions outside an image last.
        ranked = tf.reshape(tf.where(mask > 0, saliency, -1.0), [batch, -1])
        _, flat = tf.math.top_k(ranked, k)
        positions = tf.stack([flat // cols, flat % cols], axis=-1)
        valid = tf.gather(tf.reshape(mask, [batch, -1]), flat, batch_dims=1)
        boxes = patch_boxes(positions, config)
        length, digits = self.fine.predict_sequence_probabilities(
            crop_patches(images, boxes, config.crop_size))
        length = tf.reshape(length, [-1, k, config.max_length])
        digits = tf.reshape(digits, [-1, k, config.max_length, config.digit_classes])
        # Eq. 12-14 over the k fine predictions (a 1 x k "map").
        length, digits = multi_digit.soft_attention(length[:, None], digits[:, None],
                                                    valid[:, None])
        return {"length": length, "digits": digits, "saliency": saliency,
                "positions": positions, "boxes": boxes, "valid": valid}

    def predict_one_scale(self, images, sizes=None) -> tuple[tf.Tensor, tf.Tensor]:
        """(length `[b, L]`, digits `[b, L, C]`) of `attend` at the images' own size."""
        seen = self.attend(images, sizes)
        return seen["length"], seen["digits"]

    def predict_sequence_probabilities(self, images, sizes=None):
        """(length `[b, L]`, digits `[b, L, C]`) averaged over the scales."""
        outputs = self(images, sizes)
        return outputs["length"], outputs["digits"]


def rescale(images, sizes, scale: float, minimum_size) -> tuple[tf.Tensor, tf.Tensor]:
    """A zero-padded batch `[b, H, W, C]` of images of `sizes` `[b, 2]` resized by `scale`
    and zero padded up to `minimum_size` where smaller -> (images, sizes). Resizing the
    padded batch as a whole blends the last pixel row and column of a smaller image with
    its padding."""
    def scaled(values):
        return tf.cast(tf.round(tf.cast(values, tf.float32) * scale), tf.int32)

    if scale != 1.0:
        images = tf.image.resize(images, scaled(tf.shape(images)[1:3]), antialias=True)
    short = tf.maximum(0, tf.constant(minimum_size, tf.int32) - tf.shape(images)[1:3])
    images = tf.pad(images, [[0, 0], [0, short[0]], [0, short[1]], [0, 0]])
    return images, scaled(sizes)


def batch_sizes(images) -> tf.Tensor:
    """`[b, 2]` int32: every image of the batch `[b, H, W, C]` is (H, W)."""
    shape = tf.shape(images)
    return tf.tile(shape[None, 1:3], [shape[0], 1])


def pad_batch(images: list) -> tuple[tf.Tensor, tf.Tensor]:
    """Images `[H_i, W_i, C]` of different sizes -> (`[b, max H, max W, C]` zero padded at
    the bottom and right, `[b, 2]` int32 sizes) for the `sizes` arguments above."""
    height = max(image.shape[0] for image in images)
    width = max(image.shape[1] for image in images)
    padded = [tf.pad(tf.convert_to_tensor(image, tf.float32),
                     [[0, height - image.shape[0]], [0, width - image.shape[1]], [0, 0]])
              for image in images]
    return tf.stack(padded), tf.constant([image.shape[:2] for image in images], tf.int32)
