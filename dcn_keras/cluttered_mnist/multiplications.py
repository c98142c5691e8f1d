"""Multiplications of the Cluttered MNIST coarse, fine and DCN models (see
`dcn_keras.multiplications` for what is counted)."""

from __future__ import annotations

import dataclasses

from dcn_keras.classifier import networks
from dcn_keras.classifier.config import DCNConfig
from dcn_keras.multiplications import layer_multiplications, network_multiplications

PAPER = {"cluttered_mnist": {"fine_model": 84.5e6, "dcn": 27.7e6, "num_patches": 8}}


def count(config: DCNConfig, num_patches: int | None = None, height: int | None = None,
          width: int | None = None, bridge: int = 0) -> dict:
    """Multiplications of the coarse, fine and DCN models for one input.

    DCN = coarse layers on the whole input (and the `bridge` x `bridge` bridge of a composed
    DCN, 0: none) + top layers forward on the coarse
    map + their backward pass to the coarse map for the saliency (the input
    gradient of a linear layer costs what its forward pass costs) + fine layers
    on k patches + top layers on the refined map. The last term is what this
    implementation computes: the first top convolution only for the k changed
    vectors (`sparse_conv`), the remaining top layers in full. The paper counts
    a full top pass there; `dcn_paper_accounting` does the same. The fine layers on a
    patch cost what `config.fine_view` makes them cost; the fine model is the same in
    either view.
    """
    height = height or config.image_shape[0]
    width = width or config.image_shape[1]
    k = config.num_patches if num_patches is None else num_patches
    geometry = config.geometry(height, width)
    fine_model = dataclasses.replace(config, fine_view="patch").geometry(height, width)
    padded = (height + fine_model.pad_before[0] + fine_model.pad_after[0],
              width + fine_model.pad_before[1] + fine_model.pad_after[1])
    coarse = network_multiplications(networks.coarse_network(config, height, width))
    fine_image = network_multiplications(networks.fine_network(config, *padded))
    # The paper does not say whether its fine model pads the image; unpadded, its map is
    # smaller than the coarse one and so are its top layers.
    unpadded = networks.fine_network(config, height, width)
    unpadded_map = tuple(unpadded.output_shape[1:3])
    fine_unpadded = network_multiplications(unpadded) + network_multiplications(
        networks.top_network(config, *unpadded_map))
    fine_patch = network_multiplications(networks.fine_network(config))
    top_network = networks.top_network(config, geometry.map_height, geometry.map_width)
    top = network_multiplications(top_network)
    first = top_network.layers[0]
    first_dense = layer_multiplications(
        first, (1, geometry.map_height, geometry.map_width, config.feature_dim))
    first_sparse = k * first.kernel_size[0] * first.kernel_size[1] * config.feature_dim \
        * first.filters
    bridged = network_multiplications(
        networks.bridge_network(
            (geometry.map_height, geometry.map_width, config.feature_dim), bridge)) \
        if bridge else 0
    dcn = {"coarse_layers": coarse, "bridge": bridged, "top_forward_coarse": top,
           "top_backward_saliency": top, "fine_layers_on_patches": k * fine_patch,
           "top_refined_sparse": top - first_dense + first_sparse}
    return {
        "preset": config.name,
        "input_size": [height, width],
        "num_patches": k,
        "patch_size": geometry.patch_size,
        "coarse_model": {"total": coarse + top, "coarse_layers": coarse, "top_layers": top},
        "fine_model": {"total": fine_image + top, "fine_layers": fine_image, "top_layers": top},
        "fine_model_unpadded": {"total": fine_unpadded, "map_size": list(unpadded_map)},
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
