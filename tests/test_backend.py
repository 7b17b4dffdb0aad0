"""The backend shims of `zoo.backend` that no layer test covers: the fused EMA step and
the XLA:CPU flag (the convolution / group-norm kernels: test_layers.py)."""

import keras
import numpy as np
from keras import ops

from zoo import backend


def test_moving_average_update_is_the_formula_and_leaves_the_sources(rng):
    shapes = [(3, 3, 4, 5), (5,), ()]
    sources = [keras.Variable(rng.normal(size=s).astype("float32")) for s in shapes]
    targets = [keras.Variable(rng.normal(size=s).astype("float32"), trainable=False) for s in shapes]
    before = [(ops.convert_to_numpy(t).copy(), ops.convert_to_numpy(s).copy()) for t, s in zip(targets, sources)]
    backend.moving_average_update(targets, sources, ops.convert_to_tensor(0.75))
    for (t0, s0), target, source in zip(before, targets, sources):
        np.testing.assert_allclose(ops.convert_to_numpy(target), 0.75 * t0 + 0.25 * s0, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(ops.convert_to_numpy(source), s0)


def test_xla_cpu_flag_only_for_jax_and_never_over_the_users():
    environ = {"XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    added = backend.configure_xla_cpu(environ)
    assert added == (keras.backend.backend() == "jax")
    expected = f"--xla_dump_to=/tmp/x {backend.YNN_FLAG}" if added else "--xla_dump_to=/tmp/x"
    assert environ["XLA_FLAGS"] == expected
    users = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type="}  # the user's "none"
    assert not backend.configure_xla_cpu(users) and users["XLA_FLAGS"] == "--xla_cpu_experimental_ynn_fusion_type="
    assert not backend.configure_xla_cpu(dict(environ))  # once is enough
