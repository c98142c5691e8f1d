import importlib.util
import sys

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="session")
def dcn_pipeline():
    """pipeline/dcn_pipeline.py as a module (it is a script, as the tfx CLI wants)."""
    spec = importlib.util.spec_from_file_location("dcn_pipeline",
                                                  REPO / "pipeline" / "dcn_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
