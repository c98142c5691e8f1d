"""The house-numbers DCN composed at test time from coarse and fine models trained apart
(paper sec. 4.2), and the helpers that batch and rescale images of different sizes."""

from __future__ import annotations

import keras
import tensorflow as tf

from dcn_keras.core import patches, saliency
from dcn_keras.house_numbers import sequences
from dcn_keras.house_numbers.model import MultiDigitModel

# How the DCN picks its k patches from the coarse probability map:
# - "entropy_gradient": the paper's saliency (Eq. 10), the norm of the gradient of the
#   averaged coarse prediction's digit entropy with respect to the features;
# - "confidence": the positions whose own coarse prediction is most certain, exp(-H) with H
#   the summed entropy of their length and digit softmaxes (the entropies of Eq. 14).
ATTENTION = ("entropy_gradient", "confidence")
# How the fine predictions of the picks are combined:
# - "inverse_entropy": the paper's, each softmax weighted by its normalised inverse entropy
#   over the picks of a scale (Eq. 12-14), then the scales averaged;
# - "sequence_vote": the picks of all scales vote for their own most probable sequences
#   (`sequences.sequence_vote`).
COMBINATION = ("inverse_entropy", "sequence_vote")


@keras.saving.register_keras_serializable(package="dcn_keras")
class MultiDigitDCN(keras.Model):
    """DCN composed at test time: the coarse map picks k positions per scale, the fine
    model reads their crops, and the fine predictions are combined, ignoring the coarse
    predictions (paper sec. 4.2.2): with inverse-entropy weights (Eq. 12-14) per scale and
    the scales averaged (the paper), or by a sequence vote over all picks (`combination`).

    A Keras model holding the two trained baselines, so it saves as one `.keras` file and
    exports for TF Serving; nothing in it is trained. Inference at one scale runs in public
    stages: `saliency` (Eq. 10) or `confidence`, `core.saliency.top_k_positions`,
    `cut_patches`, and the fine model on the patches, combined by `combine`.

    `attention` is how positions are picked (`ATTENTION`; default the config's). The
    paper's entropy gradient rewards positions whose softmaxes are far from saturated,
    wherever they are, clutter included; "confidence" picks the positions whose summed
    entropy is lowest, with no backward pass (docs/house_numbers.md compares the two).

    `patch_method` is how patches are cut: "gather" (fast) or "extract_patches"
    (`tf.image.extract_patches`, the reference); see `core.patches`. `patch_batch` caps
    the crops the fine model reads in one call (None: all at once), which bounds memory when
    k is large: every position of a 446x1091 image is 3,100 crops, and the fine model's
    first layer alone holds 3.5 GB of activations for them.
    """

    def __init__(self, coarse: MultiDigitModel, fine: MultiDigitModel,
                 num_patches: int | None = None, scales: tuple[float, ...] | None = None,
                 patch_method: str = "gather", patch_batch: int | None = None,
                 attention: str | None = None, combination: str | None = None, **kwargs):
        kwargs.setdefault("name", "house_numbers_dcn")
        super().__init__(**kwargs)
        if coarse.config.without_training_data() != fine.config.without_training_data():
            raise ValueError("The coarse and fine models were built for different presets.")
        if coarse.part != "coarse" or fine.part != "fine":
            raise ValueError(f"Compose a coarse and a fine model, got {coarse.part!r} and "
                             f"{fine.part!r}.")
        self.coarse, self.fine, self.config = coarse, fine, coarse.config
        self.num_patches = int(num_patches or self.config.num_patches)
        self.scales = tuple(float(scale) for scale in (scales or self.config.scales))
        if patch_method not in patches.METHODS:
            raise ValueError(f"patch_method must be one of {patches.METHODS}, got "
                             f"{patch_method!r}.")
        self.patch_method = patch_method
        self.patch_batch = patch_batch
        self.attention = attention or self.config.attention
        if self.attention not in ATTENTION:
            raise ValueError(f"attention must be one of {ATTENTION}, got {self.attention!r}.")
        self.combination = combination or self.config.combination
        if self.combination not in COMBINATION:
            raise ValueError(f"combination must be one of {COMBINATION}, got "
                             f"{self.combination!r}.")
        self.built = True

    def call(self, images, sizes=None) -> dict[str, tf.Tensor]:
        """`[b, H, W, C]` zero-padded images (`sizes` `[b, 2]`) -> `length` `[b, L]` and
        `digits` `[b, L, C]` merged over the scales (`merge_scales`), with the attention
        (`saliency`, `positions`, `valid`, and `boxes` in input pixels) of the first
        scale."""
        images = tf.convert_to_tensor(images, tf.float32)
        if sizes is None:
            sizes = batch_sizes(images)
        seen = [self.attend(*rescale(images, sizes, scale, self.config.crop_size))
                for scale in self.scales]
        length, digits = self.merge_scales([self.picks(s) for s in seen])
        first = seen[0]
        return {"length": length, "digits": digits,
                "saliency": first["saliency"], "positions": first["positions"],
                "valid": first["valid"],
                "boxes": tf.cast(first["boxes"], tf.float32) / self.scales[0]}

    def get_config(self):
        return {"coarse": keras.saving.serialize_keras_object(self.coarse),
                "fine": keras.saving.serialize_keras_object(self.fine),
                "num_patches": self.num_patches, "scales": list(self.scales),
                "patch_method": self.patch_method, "patch_batch": self.patch_batch,
                "attention": self.attention, "combination": self.combination,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for part in ("coarse", "fine"):
            config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)

    def attend(self, images, sizes=None) -> dict[str, tf.Tensor]:
        """One scale: `[b, H, W, C]` images (zero padded; `sizes` `[b, 2]` their own
        (height, width), default the batch's) -> `length` `[b, L]`, `digits` `[b, L, C]`
        (`combine`d), each pick's `pick_length` `[b, k, L]` and `pick_digits`
        `[b, k, L, C]`, `saliency` `[b, s1, s2]` (the `attention` map), `positions`
        `[b, k, 2]`, `boxes` `[b, k, 4]`, `valid` `[b, k]` (0 for the picks beyond an
        image's own positions when it has fewer than k).
        k is capped by the number of map positions."""
        config = self.config
        images = tf.convert_to_tensor(images, tf.float32)
        picked = self.select(images, sizes)
        positions, valid = picked["positions"], picked["valid"]
        k = tf.shape(positions)[1]
        crops = tf.reshape(self.cut_patches(images, positions),
                           [-1, *config.crop_size, config.channels])
        pick_length, pick_digits = self.read_patches(crops)
        pick_length = tf.reshape(pick_length, [-1, k, config.max_length])
        pick_digits = tf.reshape(pick_digits, [-1, k, config.max_length, config.digit_classes])
        length, digits = self.combine(pick_length, pick_digits, valid)
        return {"length": length, "digits": digits, "pick_length": pick_length,
                "pick_digits": pick_digits, "saliency": picked["saliency"],
                "positions": positions, "boxes": picked["boxes"], "valid": valid}

    def select(self, images, sizes=None) -> dict[str, tf.Tensor]:
        """One scale's picks, without reading them: `[b, H, W, C]` images (zero padded;
        `sizes` `[b, 2]`) -> `saliency` `[b, s1, s2]` (the `attention` map), `mask`
        `[b, s1, s2]` (1 at the positions inside each image), the k most salient
        `positions` `[b, k, 2]`, their `boxes` `[b, k, 4]` in input pixels and `valid`
        `[b, k]`; k is capped by the number of map positions."""
        sal, mask = (self.saliency if self.attention == "entropy_gradient"
                     else self.confidence)(images, sizes)
        k = tf.minimum(self.num_patches, tf.shape(sal)[1] * tf.shape(sal)[2])
        positions, valid = saliency.top_k_positions(sal, k, mask)
        return {"saliency": sal, "mask": mask, "positions": positions,
                "boxes": patches.patch_boxes(positions, self.config.grid()), "valid": valid}

    def saliency(self, images, sizes=None) -> tuple[tf.Tensor, tf.Tensor]:
        """Eq. 10: the L2 norm, per position, of the gradient of the summed digit entropy of
        the averaged coarse prediction with respect to the features below the probability
        map, for `[b, H, W, C]` images of `sizes` `[b, 2]`.

        Returns (`[b, s1, s2]` saliency, 0 outside each image; `[b, s1, s2]` mask of the
        positions inside each image).
        """
        config = self.config
        features, _ = self.coarse.features_and_logits(images)
        head = self.coarse.network.layers[-1]
        mask = (tf.ones(tf.shape(features)[:3]) if sizes is None
                else self.coarse.position_mask(sizes, tf.shape(features)[1:3]))

        def entropy_fn(features):
            maps = sequences.probabilities(head(features), config.max_length,
                                           config.digit_classes)
            averaged_digits = sequences.average_pool(*maps, mask)[1]
            return sequences.digit_entropy(averaged_digits), None

        sal, _ = saliency.entropy_gradient(entropy_fn, features)
        return sal * mask, mask

    def confidence(self, images, sizes=None) -> tuple[tf.Tensor, tf.Tensor]:
        """exp(-H) per position, H the summed entropy of the coarse prediction's length and
        digit softmaxes there, for `[b, H, W, C]` images of `sizes` `[b, 2]`.

        Returns (`[b, s1, s2]` confidence in (0, 1], 0 outside each image; `[b, s1, s2]`
        mask of the positions inside each image).
        """
        config = self.config
        logits = self.coarse(images)
        mask = (tf.ones(tf.shape(logits)[:3]) if sizes is None
                else self.coarse.position_mask(sizes, tf.shape(logits)[1:3]))
        length, digits = sequences.probabilities(logits, config.max_length,
                                                 config.digit_classes)
        total = saliency.entropy(length) + sequences.digit_entropy(digits)
        return tf.exp(-total) * mask, mask

    def cut_patches(self, images, positions) -> tf.Tensor:
        """`[b, H, W, C]` images, `[b, k, 2]` positions -> `[b, k, P_h, P_w, C]` crops."""
        return patches.cut_patches(images, positions, self.config.grid(), self.patch_method)

    def read_patches(self, crops) -> tuple[tf.Tensor, tf.Tensor]:
        """The fine model's prediction for each of `[n, P_h, P_w, C]` crops -> (length
        `[n, L]`, digits `[n, L, C]`), at most `patch_batch` crops per call (one after
        another), in calls of equal size."""
        if not self.patch_batch:
            return self.fine.predict_sequence_probabilities(crops)
        config = self.config
        count = tf.shape(crops)[0]
        # Equal calls pad fewer crops than there are calls; padding to a multiple of
        # patch_batch reads up to 255 blank crops per image and scale, and takes 1.46x the
        # time (docs/house_numbers.md, "What we tried").
        calls = tf.maximum(1, -(-count // self.patch_batch))
        size = -(-count // calls)
        padded = tf.pad(crops, [[0, calls * size - count], [0, 0], [0, 0], [0, 0]])
        length, digits = tf.map_fn(
            self.fine.predict_sequence_probabilities,
            tf.reshape(padded, [calls, size, *config.crop_size, config.channels]),
            fn_output_signature=(tf.float32, tf.float32), parallel_iterations=1)
        return (tf.reshape(length, [-1, config.max_length])[:count],
                tf.reshape(digits, [-1, config.max_length, config.digit_classes])[:count])

    def combine(self, length, digits, valid) -> tuple[tf.Tensor, tf.Tensor]:
        """`combine` the picks of one scale as `combination` says."""
        return combine(length, digits, valid, self.combination)

    @staticmethod
    def picks(seen: dict) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(pick_length, pick_digits, valid) of an `attend` output."""
        return seen["pick_length"], seen["pick_digits"], seen["valid"]

    def merge_scales(self, picks: list) -> tuple[tf.Tensor, tf.Tensor]:
        """`merge_scales` of the `picks` of each scale as `combination` says."""
        return merge_scales(picks, self.combination)

    def picks_one_scale(self, images, sizes=None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """`picks` of `attend` at the images' own size, for `merge_scales`."""
        return self.picks(self.attend(images, sizes))

    def predict_one_scale(self, images, sizes=None) -> tuple[tf.Tensor, tf.Tensor]:
        """(length `[b, L]`, digits `[b, L, C]`) of `attend` at the images' own size."""
        seen = self.attend(images, sizes)
        return seen["length"], seen["digits"]

    def predict_sequence_probabilities(self, images, sizes=None):
        """(length `[b, L]`, digits `[b, L, C]`) averaged over the scales."""
        outputs = self(images, sizes)
        return outputs["length"], outputs["digits"]


def combine(length, digits, valid, combination: str) -> tuple[tf.Tensor, tf.Tensor]:
    """The fine predictions of each image's picks, length `[b, k, L]`, digits
    `[b, k, L, C]`, `valid` `[b, k]`, combined as `combination` (`COMBINATION`) says ->
    (length `[b, L]`, digits `[b, L, C]`)."""
    if combination == "sequence_vote":
        return sequences.sequence_vote(length, digits, valid)
    # Eq. 12-14: the k predictions form a 1 x k "map".
    return sequences.soft_attention(length[:, None], digits[:, None], valid[:, None])


def merge_scales(picks: list, combination: str) -> tuple[tf.Tensor, tf.Tensor]:
    """(length `[b, L]`, digits `[b, L, C]`) from the `picks` of each scale, a list of
    (length `[b, k, L]`, digits `[b, k, L, C]`, valid `[b, k]`), as `combination` says: the
    per-scale combinations averaged (the paper), or one vote over the picks of every
    scale."""
    if combination == "sequence_vote":
        return combine(*(tf.concat(parts, axis=1) for parts in zip(*picks)), combination)
    combined = [combine(*scale, combination) for scale in picks]
    return (tf.add_n([c[0] for c in combined]) / len(combined),
            tf.add_n([c[1] for c in combined]) / len(combined))


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
