"""Progress of long inference runs: each network evaluation inside a compiled sampler
reaches the host, the bar's total is the solver's NFE, and counting changes no output."""

import keras
import numpy as np
import pytest
from keras import ops

import zoo
from zoo import progress
from zoo.backend import compile_function, host_callback


class Recorder(progress.EvaluationProgress):
    """An `EvaluationProgress` that remembers the count at each batch's end."""

    def __init__(self, batches, per_batch=None):
        super().__init__(batches, per_batch)
        self.at_batch_end, self.targets = [], []

    def batch_done(self):
        super().batch_done()
        self.at_batch_end.append(self.count)
        self.targets.append(self.bar.target)


@pytest.fixture
def recorders(monkeypatch):
    made = []

    def make(*args, **kwargs):
        made.append(Recorder(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr("zoo.progress.EvaluationProgress", make)  # what `zoo.progress.bar` builds
    return made


def test_host_callback_runs_once_per_iteration_of_a_compiled_loop():
    calls = []
    layer = keras.layers.Dense(2)
    layer.build((None, 2))

    def loop(x):
        def step(i, x):
            host_callback(lambda: calls.append(1))
            return x + 0.1 * layer(x)
        return ops.fori_loop(0, 7, step, x)

    run = compile_function(loop, layer)
    for _ in range(2):  # the first call traces, the second runs the compiled loop
        calls.clear()
        out = ops.convert_to_numpy(run(np.ones((3, 2), "float32")))
        assert len(calls) == 7
    assert out.shape == (3, 2)


def test_only_runs_with_a_bar_report_and_pay_for_it():
    layer = keras.layers.Dense(2)
    layer.build((None, 2))
    evaluate = progress.counted(layer)

    def loop(x):
        return ops.fori_loop(0, 5, lambda i, x: x + 0.1 * evaluate(x), x)

    run = progress.Reporting(lambda: compile_function(loop, layer))
    x = np.ones((3, 2), "float32")
    quiet = ops.convert_to_numpy(run(x))
    with Recorder(batches=1, per_batch=5) as bar:
        loud = ops.convert_to_numpy(run(x))
        assert bar.count == 5
    again = ops.convert_to_numpy(run(x))  # the quiet variant, compiled without reports
    assert bar.count == 5 and sorted(run.variants) == [False, True]
    np.testing.assert_array_equal(quiet, loud)
    np.testing.assert_array_equal(quiet, again)


@pytest.mark.parametrize("solver, steps, per_batch", [("euler", 4, 4), ("heun", 3, 6)])
def test_sampling_bar_counts_each_velocity_evaluation(recorders, solver, steps, per_batch):
    model = zoo.load("rectified-flow-moons")
    quiet, nfe = model.sample(10, steps=steps, solver=solver, seed=0, batch_size=4, return_nfe=True)
    loud = model.sample(10, steps=steps, solver=solver, seed=0, batch_size=4, verbose=True)
    np.testing.assert_array_equal(quiet, loud)
    (bar,) = recorders
    assert nfe == per_batch
    assert bar.at_batch_end == [per_batch, 2 * per_batch, 3 * per_batch]  # 3 batches: 4 + 4 + 2
    assert bar.targets[-1] == bar.count == 3 * per_batch


def test_adaptive_solver_bar_learns_its_total_from_the_batches_done(recorders):
    model = zoo.load("edm-moons")
    model.sample(6, solver="rk45", seed=0, batch_size=3, verbose=True)
    (bar,) = recorders
    first, both = bar.at_batch_end
    assert bar.per_batch is None and first > 10 and both > first
    assert bar.targets == [2 * first, both]  # after one batch: twice its count; at the end: exact


def test_diffusion_gan_bridge_and_autoregressive_bars_total_their_nfe(recorders):
    _, edm_nfe = zoo.load("edm-moons").sample(5, steps=4, solver="heun", seed=0, verbose=True, return_nfe=True)
    _, gan_nfe = zoo.load("gan-qp-gaussian-grid").sample(5, langevin_steps=3, seed=0, verbose=True,
                                                         return_nfe=True)
    bridge = zoo.load("ddbm-moons-rotated")
    source = zoo.datasets.load_pairs("moons_rotated", split="test")[0][:5]
    _, bridge_nfe = bridge.sample(source=source, steps=4, seed=0, verbose=True, return_nfe=True)
    for config in ("nade_tiny", "made_tiny", "pixelcnn_tiny"):
        zoo.create(config).sample(2, seed=0, verbose=True)
    counts = [bar.count for bar in recorders]
    assert counts[:3] == [edm_nfe, gan_nfe, bridge_nfe] == [7, 4, 5]
    assert counts[3:] == [zoo.create(config).num_dims for config in ("nade_tiny", "made_tiny", "pixelcnn_tiny")]
    assert all(bar.bar.target == bar.count for bar in recorders)
