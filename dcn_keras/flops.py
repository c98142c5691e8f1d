"""Multiplication counts, layer by layer, from the real sub-networks.

Counted: the weight-activation multiplications of every convolution and dense
layer (out_h * out_w * k_h * k_w * c_in * c_out and d_in * d_out). Not counted,
as in the paper's accounting: batch normalisation (folded into the preceding
convolution at inference), ReLU, pooling, padding and the softmax.
"""

from __future__ import annotations

import keras

from dcn_keras import networks
from dcn_keras.config import DCNConfig, MultiDigitConfig

PAPER = {"cluttered_mnist": {"fine_model": 84.5e6, "dcn": 27.7e6, "num_patches": 8}}


def layer_multiplications(layer, input_shape) -> int:
    """Multiplications of one layer for one example of `input_shape` (batch first)."""
    if isinstance(layer, keras.layers.Conv2D):
        _, out_h, out_w, _ = layer.compute_output_shape(input_shape)
        kernel_h, kernel_w = layer.kernel_size
        return out_h * out_w * kernel_h * kernel_w * input_shape[-1] * layer.filters
    if isinstance(layer, keras.layers.Dense):
        return input_shape[-1] * layer.units
    return 0


def network_multiplications(network: keras.Sequential) -> int:
    """Multiplications of a built `keras.Sequential` for one example."""
    shape = (1, *network.input_shape[1:])
    total = 0
    for layer in network.layers:
        total += layer_multiplications(layer, shape)
        shape = layer.compute_output_shape(shape)
    return total


def count(config: DCNConfig, num_patches: int | None = None, height: int | None = None,
          width: int | None = None) -> dict:
    """Multiplications of the coarse, fine and DCN models for one input.

    DCN = coarse layers on the whole input + top layers forward on the coarse
    map + their backward pass to the coarse map for the saliency (the input
    gradient of a linear layer costs what its forward pass costs) + fine layers
    on k patches + top layers on the refined map. The last term is what this
    implementation computes: the first top convolution only for the k changed
    vectors (`sparse_conv`), the remaining top layers in full. The paper counts
    a full top pass there; `dcn_paper_accounting` does the same.
    """
    height = height or config.image_shape[0]
    width = width or config.image_shape[1]
    k = config.num_patches if num_patches is None else num_patches
    geometry = config.geometry(height, width)
    padded = (height + geometry.pad_before[0] + geometry.pad_after[0],
              width + geometry.pad_before[1] + geometry.pad_after[1])
    coarse = network_multiplications(networks.coarse_network(config, height, width))
    fine_image = network_multiplications(networks.fine_network(config, *padded))
    fine_patch = network_multiplications(networks.fine_network(config))
    top_network = networks.top_network(config, geometry.map_height, geometry.map_width)
    top = network_multiplications(top_network)
    first = top_network.layers[0]
    first_dense = layer_multiplications(
        first, (1, geometry.map_height, geometry.map_width, config.feature_dim))
    first_sparse = k * first.kernel_size[0] * first.kernel_size[1] * config.feature_dim \
        * first.filters
    dcn = {"coarse_layers": coarse, "top_forward_coarse": top, "top_backward_saliency": top,
           "fine_layers_on_patches": k * fine_patch,
           "top_refined_sparse": top - first_dense + first_sparse}
    return {
        "preset": config.name,
        "input_size": [height, width],
        "num_patches": k,
        "patch_size": config.patch_size,
        "coarse_model": {"total": coarse + top, "coarse_layers": coarse, "top_layers": top},
        "fine_model": {"total": fine_image + top, "fine_layers": fine_image, "top_layers": top},
        "dcn": {"total": sum(dcn.values()), **dcn},
        "dcn_paper_accounting": {"total": sum(dcn.values()) - dcn["top_refined_sparse"] + top},
        "fine_layers_per_patch": fine_patch,
    }


def compare_with_paper(counts: dict) -> dict | None:
    """Relative differences from the paper's figures, where it reports some."""
    paper = PAPER.get(counts["preset"])
    if paper is None or counts["num_patches"] != paper["num_patches"]:
        return None
    ours = {"fine_model": counts["fine_model"]["total"],
            "dcn": counts["dcn_paper_accounting"]["total"]}
    return {name: {"paper": paper[name], "ours_paper_accounting": ours[name],
                   "relative_difference": ours[name] / paper[name] - 1.0}
            for name in ("fine_model", "dcn")}


def count_multi_digit(config: MultiDigitConfig, num_patches: int | None = None,
                      height: int = 0, width: int = 0) -> dict:
    """Multiplications of the multi-digit models for one `height` x `width` input, summed
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
    per_patch = network_multiplications(networks.multi_digit_network(config, "fine",
                                                                     crop_h, crop_w))
    hidden = config.coarse_layers[-1].filters
    scales, totals = [], {"coarse_model": 0, "soft_attention": 0, "fine_model": 0, "dcn": 0}
    for scale in config.scales:
        h, w = max(crop_h, round(height * scale)), max(crop_w, round(width * scale))
        rows, cols = config.map_size(h, w)
        coarse = network_multiplications(networks.multi_digit_network(config, "coarse", h, w))
        fine = network_multiplications(networks.multi_digit_network(config, "fine", h, w))
        patches = min(k, rows * cols)
        saliency = rows * cols * hidden * config.num_logits
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
