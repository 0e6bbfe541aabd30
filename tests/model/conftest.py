import os

import pytest

from xraydesk.training.data import default_data_root


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Model-input caches go to a temporary folder, never into the checkout."""
    previous = os.environ.get("XRAYDESK_CACHE")
    os.environ["XRAYDESK_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("XRAYDESK_CACHE")
    else:
        os.environ["XRAYDESK_CACHE"] = previous


@pytest.fixture(scope="session")
def data_root():
    return default_data_root()


@pytest.fixture(scope="session")
def shipped_model():
    from xraydesk.ai.model import ChestXRayModel

    return ChestXRayModel.load()
