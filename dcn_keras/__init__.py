"""Dynamic Capacity Networks (Almahairi et al., ICML 2016) for Keras 3."""

__version__ = "0.1.0"

from dcn_keras import presets, saliency  # noqa: E402
from dcn_keras.config import DCNConfig  # noqa: E402
from dcn_keras.model import DynamicCapacityNetwork  # noqa: E402

__all__ = ["DCNConfig", "DynamicCapacityNetwork", "presets", "saliency", "__version__"]
