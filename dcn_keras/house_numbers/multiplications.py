"""Multiplications of the house-numbers models (see `dcn_keras.multiplications` for what is
counted)."""

from __future__ import annotations

from dcn_keras.house_numbers import networks
from dcn_keras.house_numbers.config import MultiDigitConfig
from dcn_keras.multiplications import network_multiplications


def count(config: MultiDigitConfig, num_patches: int | None = None,
                      height: int = 0, width: int = 0) -> dict:
    """Multiplications of the house-numbers models for one `height` x `width` input, summed
    over the preset's scales.

    Coarse and soft attention: coarse layers and output layer on the whole input (the
    entropy weighting multiplies activations, not weights, and is not counted). Fine: fine
    layers and output layer on the whole input. DCN: the coarse model + the backward pass
    of the output layer for the saliency (Eq. 10 is taken with respect to the features
    below the probability map) + fine layers on k patches of `crop_size` (k is capped by
    the number of coarse positions).
    """
    k = config.num_patches if num_patches is None else num_patches
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"num_patches must be a positive integer, got {k!r}.")
    crop_h, crop_w = config.crop_size
    if height < crop_h or width < crop_w:
        raise ValueError(f"{config.name} needs inputs of at least one {crop_h}x{crop_w} patch, "
                         f"got {height}x{width}.")
    per_patch = network_multiplications(networks.part_network(config, "fine",
                                                                     crop_h, crop_w))
    hidden = config.coarse_layers[-1].filters
    scales, totals = [], {"coarse_model": 0, "soft_attention": 0, "fine_model": 0, "dcn": 0}
    for scale in config.scales:
        h, w = max(crop_h, round(height * scale)), max(crop_w, round(width * scale))
        rows, cols = config.map_size(h, w)
        coarse = network_multiplications(networks.part_network(config, "coarse", h, w))
        fine = network_multiplications(networks.part_network(config, "fine", h, w))
        patches = min(k, rows * cols)
        saliency = (rows * cols * hidden * config.num_logits
                    if config.attention == "entropy_gradient" else 0)
        dcn = coarse + saliency + patches * per_patch
        scales.append({"scale": scale, "input_size": [h, w], "map_size": [rows, cols],
                       "patches": patches, "coarse_model": coarse, "fine_model": fine,
                       "dcn": dcn, "dcn_saliency_backward": saliency,
                       "dcn_fine_on_patches": patches * per_patch})
        for name, value in (("coarse_model", coarse), ("soft_attention", coarse),
                            ("fine_model", fine), ("dcn", dcn)):
            totals[name] += value
    return {"preset": config.name, "input_size": [height, width], "num_patches": k,
            "patch_size": list(config.crop_size), "fine_layers_per_patch": per_patch,
            **{name: {"total": value} for name, value in totals.items()}, "scales": scales}
