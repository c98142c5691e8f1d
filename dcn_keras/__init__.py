"""Dynamic Capacity Networks (Almahairi et al., ICML 2016) for Keras 3.

The model families share one core (`dcn_keras.core`), the paper's math. On it,
`dcn_keras.classifier` is the DCN that gives one class per image, built from a `DCNConfig` or
around any coarse, fine and top networks. The Cluttered MNIST DCN trained end to end
(`dcn_keras.cluttered_mnist`), the Megapixel MNIST DCN (`dcn_keras.megapixel_mnist`) and
models built from your own networks (`dcn_keras.from_networks`) are such DCNs; the
house-numbers DCN, composed at test time from models trained apart
(`dcn_keras.house_numbers`), reads digit sequences. Importing the package registers their
Keras classes, so that `keras.models.load_model` reads their `.keras` files.
"""

__version__ = "0.3.0"

from dcn_keras import quiet  # noqa: E402

quiet.import_tensorflow()

from dcn_keras import presets  # noqa: E402
from dcn_keras.classifier.config import DCNConfig  # noqa: E402
from dcn_keras.classifier.model import DynamicCapacityNetwork  # noqa: E402
from dcn_keras.core import saliency  # noqa: E402
from dcn_keras.house_numbers.config import MultiDigitConfig  # noqa: E402
from dcn_keras.house_numbers.dcn import MultiDigitDCN  # noqa: E402
from dcn_keras.house_numbers.model import MultiDigitModel  # noqa: E402

__all__ = ["DCNConfig", "DynamicCapacityNetwork", "MultiDigitConfig", "MultiDigitDCN",
           "MultiDigitModel", "presets", "saliency", "__version__"]
