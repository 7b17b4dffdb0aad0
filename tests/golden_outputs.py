"""What a bundled checkpoint's golden file records, per kind of model: fixed inputs and
the outputs they give. `scripts/make_golden.py` writes them on JAX; `test_bundled.py`
replays the inputs on every backend and compares."""

import numpy as np
from keras import ops


def reference_inputs(model):
    rng = np.random.default_rng(0)
    if not hasattr(model, "sample"):  # a classifier: uint8 images in
        return {"images": rng.integers(0, 256, size=(4, *model.data_shape), dtype=np.uint8)}
    return {"noise": rng.normal(size=(4, *model.data_shape)).astype("float32"),
            "t": np.array([0.0, 0.3, 0.6, 0.95], "float32")}


def replay(model, inputs):
    """The outputs of `model` on `inputs` (a dict from `reference_inputs`)."""
    if "images" in inputs:
        return {"logits": model.logits(inputs["images"]), "features": model.features(inputs["images"])}
    return {"forward": ops.convert_to_numpy(model.velocity(inputs["noise"], inputs["t"])),
            "sample": model.sample(noise=inputs["noise"], steps=2, solver="euler", raw=True)}


def reference_outputs(model):
    inputs = reference_inputs(model)
    return {**inputs, **replay(model, inputs)}
