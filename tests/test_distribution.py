"""Scale-out through keras.distribution: DataParallel on 4 forced host devices gives the
same losses as one device (JAX only: the device count must be set before JAX starts,
so each run is its own process)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import BACKEND

SCRIPT = """
import json, sys
import keras, numpy as np
import jax
import zoo
if sys.argv[1] == "data_parallel":
    keras.distribution.set_distribution(keras.distribution.DataParallel())
keras.utils.set_random_seed(0)  # same initial weights in both processes
model = zoo.create("rectified_flow_mlp", seed=0, ema_decay=0.9)
model.compile(optimizer=keras.optimizers.Adam(1e-3))
data = np.random.default_rng(0).normal(size=(1024, 2)).astype("float32")
history = model.fit(data, batch_size=128, epochs=3, shuffle=False, verbose=0)
noise = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")
weight_devices = len(model.network.weights[0].value.sharding.device_set)
print(json.dumps({"devices": len(jax.devices()), "weight_devices": weight_devices, "loss": history.history["loss"],
                  "samples": model.sample(noise=noise, steps=4).tolist()}))
"""


def _run(mode):
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=4 --xla_backend_optimization_level=0"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution's DataParallel runs on JAX")
def test_data_parallel_on_4_devices_matches_one_device():
    single, parallel = _run("single"), _run("data_parallel")
    assert parallel["devices"] == 4 and parallel["weight_devices"] == 4 and single["weight_devices"] == 1
    np.testing.assert_allclose(parallel["loss"], single["loss"], rtol=1e-5)
    np.testing.assert_allclose(parallel["samples"], single["samples"], atol=1e-5)
