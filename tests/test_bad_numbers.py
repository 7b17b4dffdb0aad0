"""No silent NaN, no silently wrong numbers: bad training data, a loss that turns
non-finite, and out-of-range or non-finite inference arguments all stop with a
ValueError (or `NonFiniteLossError`) that says what was wrong, before any work."""

import keras
import numpy as np
import pytest

import zoo
from zoo.checks import check_batch_size, check_finite, check_positive
from zoo.training import ArrayBatches, NonFiniteLossError, StopOnNonFiniteLoss

NAN, INF = float("nan"), float("inf")


def points(num=8, bad=(), value=np.nan):
    x = np.random.default_rng(0).normal(size=(num, 2)).astype("float32")
    for index in bad:
        x[index, 1] = value
    return x


# Training data ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"data": points(8, bad=(3,))}, r"`data` contains NaN or infinite values in 1 of 8 rows \(first at index 3\)"),
    ({"data": points(8, bad=(5, 2), value=np.inf)}, r"`data` .* 2 of 8 rows \(first at index 2\)"),
    ({"data": points(8), "noise": points(8, bad=(7,), value=-np.inf)}, r"`noise` .* 1 of 8 rows .*index 7"),
    ({"data": points(8), "labels": np.array([0, 1, 0, 1, np.nan, 1, 0, 1])}, r"`labels` .*index 4"),
])
def test_array_batches_refuse_non_finite_rows(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ArrayBatches(batch_size=4, **kwargs)


def test_array_batches_take_finite_and_integer_data():
    images = np.full((4, 4, 4, 1), 255, np.uint8)
    assert ArrayBatches(images, 2)[0][0].shape == (2, 4, 4, 1)
    batch = ArrayBatches(points(8), 4, labels=np.arange(8) % 2, noise=points(8))[0][0]
    assert np.all(np.isfinite(batch["data"])) and batch["labels"].dtype == np.int32


# A loss that turns non-finite ---------------------------------------------------------

class EpochEnds(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


@pytest.fixture(scope="module")
def compiled_flow():
    model = zoo.create("rectified_flow_mlp", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def test_non_finite_loss_stops_fit_at_its_batch_before_the_epoch_ends(compiled_flow):
    # The ArrayBatches check bypassed (a raw array): row 40 poisons batch 40 // 16 = 2.
    data = points(64, bad=(40,))
    later = EpochEnds()  # where `train` puts the per-epoch state save: after the check
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 0, batch 2"):
        compiled_flow.fit(data, batch_size=16, epochs=2, shuffle=False, verbose=0,
                          callbacks=[StopOnNonFiniteLoss(), later])
    assert later.epochs == []  # the epoch that went bad never reached a state save


def test_finite_loss_trains_on():
    model = zoo.create("rectified_flow_mlp", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(ArrayBatches(points(64), 16), epochs=2, verbose=0, callbacks=[StopOnNonFiniteLoss()])
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))


# Inference arguments ------------------------------------------------------------------

@pytest.mark.parametrize("value, good", [(1, True), (0.5, True), (np.float32(2.0), True), (NAN, False),
                                         (INF, False), (-INF, False), (True, False), ("1", False), (None, False)])
def test_check_finite(value, good):
    if good:
        assert check_finite(value, "w") == float(value)
    else:
        with pytest.raises(ValueError, match="`w` must be a finite number"):
            check_finite(value, "w")


@pytest.mark.parametrize("value", [0, -1e-5, NAN, INF])
def test_check_positive(value):
    with pytest.raises(ValueError, match="`rtol` must be"):
        check_positive(value, "rtol")


@pytest.mark.parametrize("value", [0, -1, 2.5, True, NAN, None])
def test_check_batch_size(value):
    with pytest.raises(ValueError, match="`batch_size` must be an integer >= 1"):
        check_batch_size(value)


@pytest.fixture(scope="module")
def models():
    return {"rectified_flow_mlp": zoo.create("rectified_flow_mlp", seed=0),
            "edm_mlp": zoo.create("edm_mlp", seed=0),
            "ddpm_mlp": zoo.create("ddpm_mlp", seed=0),
            "realnvp_2d": zoo.create("realnvp_2d", seed=0),
            "noisy-classifier-moons": zoo.load("noisy-classifier-moons")}


BAD_X = points(4, bad=(1, 3))
EMPTY = np.zeros((0, 2), "float32")
TOO_MANY = 2**31  # 2-D float32 points: 16 GiB of output
CASES = [
    # rectified flow
    ("rectified_flow_mlp", "sample", {"num": 2, "solver": "rk45", "rtol": NAN}, "`rtol` must be a finite"),
    ("rectified_flow_mlp", "sample", {"num": 2, "solver": "rk45", "atol": 0.0}, "`atol` must be > 0"),
    ("rectified_flow_mlp", "sample", {"num": 2, "rtol": -1e-3}, "`rtol` must be > 0"),
    ("rectified_flow_mlp", "sample", {"num": 2, "batch_size": 0}, "`batch_size` must be an integer >= 1"),
    ("rectified_flow_mlp", "sample", {"num": 2, "batch_size": 1.5}, "`batch_size` must be an integer >= 1"),
    ("rectified_flow_mlp", "sample", {"noise": EMPTY}, "`noise` holds 0 examples"),
    ("rectified_flow_mlp", "sample", {"num": TOO_MANY}, r"`num`=2147483648 .* 16\.0 GiB .* at most 1073741824"),
    ("rectified_flow_mlp", "sample", {"num": 2.0}, "`num` must be an integer"),
    ("rectified_flow_mlp", "encode", {"x": BAD_X}, r"`x` contains NaN .* 2 of 4 rows \(first at index 1\)"),
    ("rectified_flow_mlp", "encode", {"x": points(2), "solver": "rk45", "atol": INF}, "`atol` must be a finite"),
    ("rectified_flow_mlp", "log_prob", {"x": BAD_X}, r"`x` contains NaN .*first at index 1"),
    ("rectified_flow_mlp", "log_prob", {"x": points(2), "rtol": 0}, "`rtol` must be > 0"),
    ("rectified_flow_mlp", "log_prob", {"x": points(2), "batch_size": -4}, "`batch_size`"),
    ("rectified_flow_mlp", "decode", {"noise": points(2, bad=(0,), value=np.inf)}, "`noise` contains NaN"),
    # EDM (the Diffusion checks) and DDPM
    ("edm_mlp", "sample", {"num": 2, "guidance": NAN}, "`guidance` must be a finite number"),
    ("edm_mlp", "sample", {"num": 2, "guidance": INF, "labels": np.zeros(2, "int32")}, "`guidance` must be"),
    ("edm_mlp", "sample", {"num": 2, "solver": "rk45", "rtol": INF}, "`rtol` must be a finite"),
    ("edm_mlp", "sample", {"num": 2, "atol": -1.0}, "`atol` must be > 0"),
    ("edm_mlp", "sample", {"num": 2, "churn": NAN}, "`churn` must be a finite"),
    ("edm_mlp", "sample", {"num": 2, "solver": "pc", "snr": 0.0}, "`snr` must be > 0"),
    ("edm_mlp", "sample", {"num": 2, "batch_size": 0}, "`batch_size`"),
    ("edm_mlp", "sample", {"noise": EMPTY}, "0 examples"),
    ("edm_mlp", "sample", {"num": TOO_MANY}, r"16\.0 GiB"),
    ("edm_mlp", "encode", {"x": BAD_X}, r"`x` contains NaN .*first at index 1"),
    ("edm_mlp", "encode", {"x": points(2), "guidance": -INF}, "`guidance` must be a finite"),
    ("edm_mlp", "encode", {"x": points(2), "solver": "rk45", "rtol": 0.0}, "`rtol` must be > 0"),
    ("edm_mlp", "log_prob", {"x": BAD_X}, "`x` contains NaN"),
    ("edm_mlp", "decode", {"noise": EMPTY}, "0 examples"),
    ("ddpm_mlp", "nll", {"x": BAD_X}, "`x` contains NaN"),
    ("ddpm_mlp", "estimate_gammas", {"data": BAD_X}, "`data` contains NaN"),
    ("ddpm_mlp", "estimate_gammas", {"data": points(4), "batch_size": 0}, "`batch_size`"),
    # flows
    ("realnvp_2d", "sample", {"num": 2, "temperature": INF}, "`temperature` must be a finite"),
    ("realnvp_2d", "sample", {"num": 2, "temperature": NAN}, "`temperature` must be a finite"),
    ("realnvp_2d", "sample", {"num": 2, "temperature": -0.5}, r"`temperature` must be > 0.*1\.0 samples"),
    ("realnvp_2d", "sample", {"num": 2, "batch_size": 0}, "`batch_size`"),
    ("realnvp_2d", "sample", {"num": TOO_MANY}, r"16\.0 GiB"),
    ("realnvp_2d", "sample", {"noise": EMPTY}, "0 examples"),
    ("realnvp_2d", "log_prob", {"x": BAD_X}, "`x` contains NaN"),
    ("realnvp_2d", "encode", {"x": points(2, bad=(1,), value=np.inf)}, "`x` contains NaN or infinite"),
    ("realnvp_2d", "decode", {"z": BAD_X}, "`z` contains NaN"),
    # the noise-aware classifier
    ("noisy-classifier-moons", "accuracy", {"data": BAD_X, "labels": np.zeros(4, "int32"), "sigma": 0.1},
     r"`data` contains NaN .* 2 of 4 rows"),
    ("noisy-classifier-moons", "accuracy", {"data": points(4), "labels": np.zeros(4, "int32"), "sigma": NAN},
     "`sigma` must be a finite"),
    ("noisy-classifier-moons", "accuracy", {"data": points(4), "labels": np.zeros(4, "int32"), "sigma": 0.0},
     "`sigma` must be > 0"),
]


@pytest.mark.parametrize("name, method, kwargs, match", CASES,
                         ids=[f"{name}-{method}-{'-'.join(kwargs)}-{i}" for i, (name, method, kwargs, _)
                              in enumerate(CASES)])
def test_bad_arguments_are_refused_before_any_work(models, monkeypatch, name, method, kwargs, match):
    model = models[name]

    def no_work(*args, **kwargs):
        raise AssertionError("the arguments should have been refused before compiling or running anything")

    monkeypatch.setattr(model, "inference_fn", no_work)
    with pytest.raises(ValueError, match=match):
        getattr(model, method)(**kwargs)
