"""What both model families share: layer specifications, conv stacks, saliency, top-k,
patch cutting, the refined representation, the sparse top pass and hints."""
