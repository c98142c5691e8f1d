"""The DCN that gives one class per image, around any coarse, fine and top networks:
`DynamicCapacityNetwork` (`model.py`), built from a `DCNConfig` (`config.py`, `networks.py`)
or from three Keras networks, what those networks must agree on (`interface.py`), its input
checks (`validation.py`) and its TF Serving signatures (`serving.py`). The model families
build on it; it imports none of them."""
