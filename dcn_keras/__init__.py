"""Dynamic Capacity Networks (Almahairi et al., ICML 2016) for Keras 3.

Two model families share one core (`dcn_keras.core`): the Cluttered MNIST DCN trained end
to end (`dcn_keras.cluttered_mnist`) and the multi-digit DCN composed at test time
(`dcn_keras.multi_digit`). Importing the package registers their Keras classes, so that
`keras.models.load_model` reads their `.keras` files.
"""

__version__ = "0.2.0"

from dcn_keras import quiet  # noqa: E402

quiet.import_tensorflow()

from dcn_keras import presets  # noqa: E402
from dcn_keras.cluttered_mnist.config import DCNConfig  # noqa: E402
from dcn_keras.cluttered_mnist.model import DynamicCapacityNetwork  # noqa: E402
from dcn_keras.core import saliency  # noqa: E402
from dcn_keras.multi_digit.config import MultiDigitConfig  # noqa: E402
from dcn_keras.multi_digit.dcn import MultiDigitDCN  # noqa: E402
from dcn_keras.multi_digit.model import MultiDigitModel  # noqa: E402

__all__ = ["DCNConfig", "DynamicCapacityNetwork", "MultiDigitConfig", "MultiDigitDCN",
           "MultiDigitModel", "presets", "saliency", "__version__"]
