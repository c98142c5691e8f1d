"""Test-time composition: a DCN from a coarse and a fine model trained apart (paper sec. 4.2)."""

from __future__ import annotations

import keras

from dcn_keras.cluttered_mnist.config import DCNConfig
from dcn_keras.cluttered_mnist.model import DynamicCapacityNetwork


def _part(model: keras.Model, name: str, role: str) -> keras.Model:
    try:
        return model.get_layer(name)
    except ValueError:
        raise ValueError(f"The {role} model {model.name!r} has no {name!r} sub-network; pass a "
                         f"model built by `dcn train --model {role}`.") from None


def compose(coarse_model: keras.Model, fine_model: keras.Model, config: DCNConfig,
            num_patches: int | None = None) -> DynamicCapacityNetwork:
    """A DCN whose coarse and top layers come from `coarse_model` (g o f_c) and whose fine
    layers come from `fine_model` (g o f_f); nothing is retrained.

    The fine vectors enter a top trained on coarse vectors, which is what the paper's
    transfer setting does; hints (Eq. 6) exist to make the two representations agree.
    """
    dcn = DynamicCapacityNetwork(config, num_patches, hint_weight=0.0, name="composed")
    for target, source in ((dcn.coarse, _part(coarse_model, "coarse", "coarse")),
                           (dcn.top, _part(coarse_model, "top", "coarse")),
                           (dcn.fine, _part(fine_model, "fine", "fine"))):
        try:
            target.set_weights(source.get_weights())
        except ValueError as error:
            raise ValueError(f"The {source.name} layers do not fit preset {config.name!r} "
                             f"({error}); were the models trained for another preset?") from error
    return dcn
