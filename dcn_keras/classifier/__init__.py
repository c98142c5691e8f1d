"""The DCN that gives one class per image, around any coarse, fine and top networks:
`DynamicCapacityNetwork` (`model.py`), built from a `DCNConfig` (`config.py`, `networks.py`)
or from three Keras networks, what those networks must agree on (`interface.py`), its input
checks (`validation.py`), its TF Serving signatures (`serving.py`), and the family of models
built from networks (`family.py`, `NetworksFamily`, with its report in `report.py`). The model
families build on it; it imports none of them."""
