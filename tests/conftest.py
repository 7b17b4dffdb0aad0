"""Shared test setup. Each backend runs the suite in its own process
(`KERAS_BACKEND=jax|tensorflow|torch`); tests never download.

Three rules keep three backends on 2 cores well under the CI budget (XLA at -O0, below, is
the third):
- `@pytest.mark.backends("torch")`: a test whose subject does not depend on the backend
  (NumPy metrics over model outputs, a recipe's Python wiring, a statistic of a sampler
  whose per-step maths the golden files pin on every backend) runs on the backend where it
  is cheapest, instead of paying JAX's and TensorFlow's compilation three times.
- On TensorFlow, `compile()` defaults to `jit_compile=False` in tests: XLA doubles the
  compile time of a one-step `fit` (41 s against 22 s for a tiny U-Net) and the graph is
  the same Keras train step. Tests that pass `jit_compile` keep it (the flagship
  `test_rectified_flow.py::test_fit_trains_on_every_backend` trains under XLA), and
  `ZOO_TEST_XLA=1` restores Keras's default everywhere.
"""

import os

os.environ.setdefault("ZOO_NO_DOWNLOAD", "1")
# XLA (JAX; TensorFlow when a test asks for jit_compile) compiles at LLVM -O0: the suite
# is compile-bound on tiny networks (JAX's test_diffusion.py + test_networks.py: 181 s at
# the default, 121 s at -O0, same results). Set before the backend starts.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()

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


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("backends")
    if marker is not None and BACKEND not in marker.args:
        pytest.skip(f"backend-independent subject: runs on {', '.join(marker.args)} only")


if BACKEND == "tensorflow" and os.environ.get("ZOO_TEST_XLA") != "1":
    _compile = keras.Model.compile

    def _compile_without_xla(self, *args, jit_compile=False, **kwargs):
        return _compile(self, *args, jit_compile=jit_compile, **kwargs)

    keras.Model.compile = _compile_without_xla
