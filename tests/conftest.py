"""Shared test setup. Each backend runs the suite in its own process
(`KERAS_BACKEND=jax|tensorflow|torch`); tests never download."""

import os

os.environ.setdefault("ZOO_NO_DOWNLOAD", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hub_server import local_hub  # noqa: E402,F401  (the local Hugging Face Hub stand-in)

BACKEND = keras.backend.backend()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {BACKEND}"
