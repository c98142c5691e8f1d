"""Dynamic Capacity Networks (Almahairi et al., ICML 2016) for Keras 3.

Two model families share one core (`dcn_keras.core`): the Cluttered MNIST DCN trained end
to end (`dcn_keras.cluttered_mnist`) and the house-numbers DCN composed at test time from
models trained apart (`dcn_keras.house_numbers`). Importing the package registers their
Keras classes, so that `keras.models.load_model` reads their `.keras` files.
"""

__version__ = "0.3.0"

from dcn_keras import quiet  # noqa: E402

quiet.import_tensorflow()

from dcn_keras import presets  # noqa: E402
from dcn_keras.cluttered_mnist.config import DCNConfig  # noqa: E402
from dcn_keras.cluttered_mnist.model import DynamicCapacityNetwork  # noqa: E402
from dcn_keras.core import saliency  # noqa: E402
from dcn_keras.house_numbers.config import MultiDigitConfig  # noqa: E402
from dcn_keras.house_numbers.dcn import MultiDigitDCN  # noqa: E402
from dcn_keras.house_numbers.model import MultiDigitModel  # noqa: E402

__all__ = ["DCNConfig", "DynamicCapacityNetwork", "MultiDigitConfig", "MultiDigitDCN",
           "MultiDigitModel", "presets", "saliency", "__version__"]
