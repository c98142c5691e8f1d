import pytest

from dcn_keras import presets
from dcn_keras.classifier.config import DCNConfig


def test_a_config_with_a_foreign_layer_is_refused_naming_it():
    data = presets.cluttered_mnist().to_dict()
    data["coarse_layers"] = [*data["coarse_layers"],
                             {"type": "Lambda", "function": "lambda x: x * 0"}]
    with pytest.raises(ValueError,
                       match="layers of the types Conv, MaxPool, AvgPool, not .Lambda."):
        DCNConfig.from_dict(data)
    assert DCNConfig.from_dict(presets.cluttered_mnist().to_dict()) == presets.cluttered_mnist()
