"""The Dynamic Capacity Network as a Keras model."""

from __future__ import annotations

import keras
import tensorflow as tf

from dcn_keras.classifier import interface, networks, validation
from dcn_keras.classifier.config import DCNConfig
from dcn_keras.core import hints, patches, refine, saliency, sparse_conv, train_step

# Constructor arguments that saved models of earlier releases carry and this one no longer
# has: `from_config` ignores them.
RETIRED_ARGUMENTS = ("distillation_weight",)
# The paper's k and hint weight, for a DCN built from networks.
DEFAULT_PATCHES = 8
DEFAULT_HINT_WEIGHT = 0.1
# The sub-networks a DCN built from networks saves in its config.
NETWORKS = ("coarse", "fine", "top")


@keras.saving.register_keras_serializable(package="dcn_keras")
class DynamicCapacityNetwork(keras.Model):
    """Coarse layers everywhere, fine layers on the k most salient patches.

    Calling the model maps `[batch, H, W, C]` float images in [0, 1] to
    `[batch, num_classes]` class probabilities g(f_r(x)). `attend` also
    returns where it looked. Training (`fit`) minimises the cross entropy of
    the refined model (Eq. 5); with `hint_weight` alpha > 0 the coarse layers
    follow the convex combination (1 - alpha) * cross entropy + alpha * hint
    distance (Eq. 6) while the fine and top layers follow the cross entropy
    alone, as in the paper's appendix 6.1. alpha = 0 is "DCN without hints".

    It is built from a preset's `DCNConfig` (`DynamicCapacityNetwork(config)`), or around
    any three Keras networks (`from_networks`); either way what the networks must agree on
    is derived from them (`interface.derive`).

    Inference runs in public stages, which `dcn bench` times one by one: `coarse_features`
    on the image, `coarse_saliency`, `core.saliency.top_k_positions`, `cut_patches`,
    `fine_vectors`, `refined_logits`.

    A DCN composed from a coarse and a fine model trained apart (`cluttered_mnist.compose`)
    has a bridge: a fitted linear `bridge` x `bridge` convolution that carries coarse vectors
    into the space of the fine vectors its top layers (the fine model's) read. Everything
    after the coarse layers (saliency, refinement, hints) then works on the bridged map. Its
    fine layers read each position as the fine model does (`DCNConfig.fine_view`).

    Attributes:
      coarse, fine, top: the three sub-networks; `bridge_network` the bridge (None without
        one).
      config: the preset's `DCNConfig` (None for a DCN built from networks).
      image_shape, feature_dim, num_classes: (H, W, C) of its images, D of its maps, classes.
      geometry: where each coarse position and its patch lie (`core.geometry.Geometry`).
      num_patches: k, the number of patches given to the fine layers.
      hint_weight: alpha in [0, 1).
      patch_method: how patches are cut, "gather" (fast) or "extract_patches"
        (`tf.image.extract_patches`, the reference); see `core.patches`.
    """

    def __init__(self, config: DCNConfig | dict | None = None, num_patches: int | None = None,
                 hint_weight: float | None = None, patch_method: str = "gather",
                 bridge: int = 0, coarse: keras.Model | None = None,
                 fine: keras.Model | None = None, top: keras.Model | None = None,
                 patch_size: int | None = None, **kwargs):
        kwargs.setdefault("name", "dcn")
        super().__init__(**kwargs)
        if (config is None) == (coarse is None or fine is None or top is None):
            raise ValueError("Build a DCN either from a preset's config or from all three of "
                             "coarse, fine and top networks "
                             "(`DynamicCapacityNetwork.from_networks`).")
        if config is not None:
            self.config = config if isinstance(config, DCNConfig) else \
                DCNConfig.from_dict(config)
            coarse, fine, top = (networks.coarse_network(self.config),
                                 networks.fine_network(self.config),
                                 networks.top_network(self.config))
            num_patches = self.config.num_patches if num_patches is None else num_patches
            hint_weight = self.config.hint_weight if hint_weight is None else hint_weight
            self.title = self.config.name
        else:
            self.config = None
            self.title = self.name
        self.coarse, self.fine, self.top = coarse, fine, top
        self.image_shape, self.feature_dim, self.num_classes, self.geometry = \
            interface.derive(coarse, fine, top, patch_size)
        self.num_patches = validation.check_num_patches(
            DEFAULT_PATCHES if num_patches is None else num_patches, self.geometry, self.title)
        self.hint_weight = float(DEFAULT_HINT_WEIGHT if hint_weight is None else hint_weight)
        if not 0.0 <= self.hint_weight < 1.0:
            raise ValueError(f"hint_weight is a convex weight in [0, 1), got {self.hint_weight}.")
        if patch_method not in patches.METHODS:
            raise ValueError(f"patch_method must be one of {patches.METHODS}, got "
                             f"{patch_method!r}.")
        self.patch_method = patch_method
        self.bridge = int(bridge)
        self.bridge_network = networks.bridge_network(
            (self.geometry.map_height, self.geometry.map_width, self.feature_dim),
            self.bridge) if self.bridge else None
        # The refined pass convolves only the k changed vectors where the top network starts
        # with a convolution that allows it (`sparse_conv`); otherwise it runs the top
        # network on the whole refined map.
        first = top.layers[0] if isinstance(top, keras.Sequential) and top.layers else None
        self._top_conv = first if sparse_conv.supports(first) else None
        self._top_tail = top.layers[1:] if self._top_conv is not None else []
        terms = ("loss", "cross_entropy", "hint_distance")
        self._metric_means = {name: keras.metrics.Mean(name=name) for name in terms}
        self._accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        # The sub-networks are built, so the model is too.
        self.built = True

    @classmethod
    def from_networks(cls, coarse: keras.Model, fine: keras.Model, top: keras.Model,
                      num_patches: int = DEFAULT_PATCHES, patch_size: int | None = None,
                      hint_weight: float = DEFAULT_HINT_WEIGHT, patch_method: str = "gather",
                      name: str = "dcn") -> DynamicCapacityNetwork:
        """A DCN around your own Keras networks.

        Args:
          coarse: `[batch, H, W, C]` images of a fixed size -> `[batch, s1, s2, D]` map,
            made of convolutions, pooling, padding and per-position layers; where each
            position looks (stride, receptive field, offset) is derived from its layers.
          fine: `[n, P, P, C]` patches -> `[n, D]` (or `[n, 1, 1, D]`) vectors: any Keras
            model, such as a `keras.applications` backbone with `include_top=False` and
            `pooling="avg"` (D must then be the coarse map's channel count).
          top: `[batch, s1, s2, D]` map -> `[batch, classes]` logits (no softmax).
          num_patches: k, the patches given to the fine network.
          patch_size: P, default the fine network's input size where fixed, else the
            coarse receptive field; the patch is centred on each position's field.
          hint_weight: alpha of Eq. 6 in [0, 1); 0 trains without hints.
        """
        return cls(coarse=coarse, fine=fine, top=top, num_patches=num_patches,
                   hint_weight=hint_weight, patch_method=patch_method, patch_size=patch_size,
                   name=name)

    @property
    def metrics(self):
        return [*self._metric_means.values(), self._accuracy]

    def call(self, images, training=False):
        validation.check_images(images, self.image_shape, self.title)
        return tf.nn.softmax(self._forward(images, training, self.num_patches)["logits"])

    def attend(self, images, num_patches: int | None = None) -> dict[str, tf.Tensor]:
        """Run DCN inference and report where it looked.

        Args:
          images: `[batch, H, W, C]` float images in [0, 1].
          num_patches: k for this call (default: the model's).

        Returns:
          dict with `probabilities` `[batch, classes]` (refined model),
          `coarse_probabilities` `[batch, classes]` (coarse model g(f_c(x))),
          `saliency` `[batch, s1, s2]`, `positions` `[batch, k, 2]` int32
          (row, col) in decreasing saliency, and `boxes` `[batch, k, 4]` int32
          pixel boxes (top, left, bottom, right), half open, which may reach
          `geometry.offset` pixels into the zero padding at the border.
        """
        validation.check_images(images, self.image_shape, self.title)
        k = validation.check_num_patches(
            self.num_patches if num_patches is None else num_patches, self.geometry, self.title)
        out = self._forward(images, False, k)
        return {
            "probabilities": tf.nn.softmax(out["logits"]),
            "coarse_probabilities": tf.nn.softmax(out["coarse_logits"]),
            "saliency": out["saliency"],
            "positions": out["positions"],
            "boxes": patches.patch_boxes(out["positions"], self.geometry.grid),
        }

    def predict_with_patches(self, images, num_patches: int) -> tf.Tensor:
        """Class probabilities `[batch, classes]` using k = `num_patches`."""
        validation.check_images(images, self.image_shape, self.title)
        k = validation.check_num_patches(num_patches, self.geometry, self.title)
        return tf.nn.softmax(self._forward(images, False, k)["logits"])

    def _forward(self, images, training, k) -> dict[str, tf.Tensor]:
        images = tf.cast(images, self.compute_dtype)
        coarse = self.coarse_features(images, training)
        sal, coarse_logits, coarse_top = self.coarse_saliency(coarse)
        positions = saliency.top_k_positions(sal, k)
        fine = self.fine_vectors(self.cut_patches(images, positions), training)
        if training:
            routed = coarse
            if self.hint_weight > 0:
                routed = hints.scale_gradient(
                    coarse, tf.constant(1.0 - self.hint_weight, coarse.dtype))
            logits = self.top(refine.refine(routed, fine, positions), training=True)
        else:
            logits = self.refined_logits(coarse, coarse_top, fine, positions)
        return {
            "logits": logits,
            "coarse_logits": coarse_logits,
            "coarse": coarse,
            "fine": fine,
            "saliency": sal,
            "positions": positions,
        }

    def coarse_features(self, images, training=False):
        """`[batch, H, W, C]` images -> `[batch, s1, s2, D]` coarse map f_c(x), bridged when
        the model has a bridge: the vectors the top layers read where no patch was refined."""
        coarse = self.coarse(images, training=training)
        if self.bridge_network is not None:
            coarse = self.bridge_network(coarse, training=training)
        return coarse

    def coarse_saliency(self, coarse_features):
        """Eq. 3 for `[batch, s1, s2, D]` coarse features -> (saliency `[batch, s1, s2]`,
        coarse logits `[batch, classes]`, the top's first convolution output, which
        `refined_logits` updates)."""
        def entropy_fn(features):
            logits, first = self.top_inference(features)
            return saliency.entropy_from_logits(logits), (logits, first)

        sal, (logits, first) = saliency.entropy_gradient(entropy_fn, coarse_features)
        return sal, logits, first

    def cut_patches(self, images, positions):
        """`[batch, H, W, C]` images, `[batch, k, 2]` positions -> `[batch, k, P, P, C]`."""
        return patches.cut_patches(images, positions, self.geometry.grid, self.patch_method)

    def fine_vectors(self, cut, training=False):
        """Fine layers on `[batch, k, P, P, C]` patches -> `[batch, k, D]`."""
        size, channels = self.geometry.patch_size, self.image_shape[2]
        fine = self.fine(tf.reshape(cut, [-1, size, size, channels]), training=training)
        return tf.reshape(fine, [tf.shape(cut)[0], -1, self.feature_dim])

    def refined_logits(self, coarse, coarse_top, fine, positions):
        """g(f_r(x)) in inference from the coarse pass: only k vectors changed (sparse_conv).

        Args: `[batch, s1, s2, D]` coarse features, their first top convolution output (from
        `coarse_saliency`), `[batch, k, D]` fine vectors, `[batch, k, 2]` positions.
        """
        if self._top_conv is None:
            return self.top(refine.refine(coarse, fine, positions), training=False)
        delta = fine - refine.gather_vectors(coarse, positions)
        return self._top_rest(
            sparse_conv.add_conv_of_sparse(self._top_conv, coarse_top, delta, positions))

    def top_inference(self, features):
        """Top layers in inference mode: (logits, output of their first convolution, None
        where the refined pass is dense)."""
        if self._top_conv is None:
            return self.top(features, training=False), None
        first = self._top_conv(features)
        return self._top_rest(first), first

    def _top_rest(self, first):
        for layer in self._top_tail:
            first = layer(first, training=False)
        return first

    def _loss_terms(self, images, labels, training):
        out = self._forward(images, training, self.num_patches)
        cross_entropy = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, out["logits"], from_logits=True))
        hint = tf.reduce_mean(hints.hint_distance(out["coarse"], out["fine"], out["positions"]))
        return out, {"loss": cross_entropy + self.hint_weight * hint,
                     "cross_entropy": cross_entropy, "hint_distance": hint}

    def train_step(self, data):
        images, labels = data[0], data[1]

        def loss_fn():
            out, values = self._loss_terms(images, labels, training=True)
            return values["loss"], (out, values)

        out, values = train_step.minimise(self, loss_fn)
        return self._update_metrics(values, labels, out["logits"])

    def test_step(self, data):
        images, labels = data[0], data[1]
        out, values = self._loss_terms(images, labels, training=False)
        return self._update_metrics(values, labels, out["logits"])

    def _update_metrics(self, values, labels, logits):
        for name, value in values.items():
            self._metric_means[name].update_state(value)
        self._accuracy.update_state(labels, logits)
        return {metric.name: metric.result() for metric in self.metrics}

    def get_config(self):
        settings = {"num_patches": self.num_patches, "hint_weight": self.hint_weight,
                    "patch_method": self.patch_method, "bridge": self.bridge,
                    "name": self.name}
        if self.config is not None:
            return {"config": self.config.to_dict(), **settings}
        return {**{part: keras.saving.serialize_keras_object(getattr(self, part))
                   for part in NETWORKS},
                "patch_size": self.geometry.patch_size, **settings}

    @classmethod
    def from_config(cls, config):
        config = {key: value for key, value in config.items()
                  if key not in RETIRED_ARGUMENTS}
        for part in NETWORKS:
            if part in config:
                config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)
