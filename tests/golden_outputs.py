"""What a bundled checkpoint's golden file records, per kind of model: fixed inputs and
the outputs they give. `scripts/make_golden.py` writes them on JAX; `test_bundled.py`
replays the inputs on every backend and compares.

- classifiers (no `sample`): logits and features of fixed uint8 images;
- noise-aware classifiers (no `sample`, a noise range): logits p(y | x, sigma) at fixed
  model-space points x and noise levels sigma;
- velocity models (rectified flow): the velocity at fixed (x, t) and a 2-step Euler sample;
- denoisers (diffusion): D(x, sigma) at fixed noise levels and a 2-step DDIM sample;
  class-conditional ones also at fixed labels under classifier-free guidance w = 2;
- flows (exact likelihood): log p of the decoded noise and the decoded noise itself.
"""

import numpy as np
from keras import ops

INPUT_KEYS = ("images", "noise", "t", "sigma", "x", "labels")


def kind(model):
    """Which outputs to record, from the family's declared interface and contract."""
    interface = model.interface
    if interface.kind == "classifier":
        return "classifier" if interface.can("features") else "noisy classifier"
    if hasattr(model, "velocity"):  # the two sampler contracts
        return "velocity"
    if hasattr(model, "denoise"):
        return "denoiser"
    if interface.likelihood == "exact":
        return "flow"
    raise TypeError(f"No golden outputs defined for {type(model).__name__}.")


def reference_inputs(model):
    rng = np.random.default_rng(0)
    if kind(model) == "noisy classifier":  # from the smallest to the largest noise level, x of typical size
        sigma = np.geomspace(model.sigma_min, model.sigma_max, 8).astype("float32")
        spread = np.sqrt(model.sigma_data**2 + sigma**2).reshape(-1, *([1] * len(model.data_shape)))
        return {"x": (spread * rng.normal(size=(8, *model.data_shape))).astype("float32"), "sigma": sigma}
    if kind(model) == "classifier":  # uint8 images in
        return {"images": rng.integers(0, 256, size=(4, *model.data_shape), dtype=np.uint8)}
    noise = rng.normal(size=(4, *model.data_shape)).astype("float32")
    if kind(model) == "velocity":
        return {"noise": noise, "t": np.array([0.0, 0.3, 0.6, 0.95], "float32")}
    if kind(model) == "denoiser":  # from the smallest to the largest noise level
        inputs = {"noise": noise, "sigma": np.geomspace(model.sigma_min, model.sigma_max, 4).astype("float32")}
        num_classes = model.num_classes
        if num_classes:
            inputs["labels"] = (np.arange(4) * 3 % num_classes).astype("int32")
        return inputs
    return {"noise": 0.7 * noise}  # flows: a typical latent at temperature 0.7


def replay(model, inputs):
    """The outputs of `model` on `inputs` (a dict from `reference_inputs`)."""
    which = kind(model)
    if which == "noisy classifier":
        return {"logits": ops.convert_to_numpy(model.logits(inputs["x"], inputs["sigma"]))}
    if which == "classifier":
        return {"logits": model.logits(inputs["images"]), "features": model.features(inputs["images"])}
    noise = inputs["noise"]
    if which == "velocity":
        return {"forward": ops.convert_to_numpy(model.velocity(noise, inputs["t"])),
                "sample": model.sample(noise=noise, steps=2, solver="euler", raw=True)}
    if which == "denoiser":
        sigma = inputs["sigma"].reshape(-1, *([1] * (noise.ndim - 1)))
        outputs = {"forward": ops.convert_to_numpy(model.denoise(sigma * noise, inputs["sigma"])),
                   "sample": model.sample(noise=noise, steps=2, solver="ddim", raw=True)}
        if "labels" in inputs:
            labels = inputs["labels"]
            outputs["forward_guided"] = ops.convert_to_numpy(
                model.denoise(sigma * noise, inputs["sigma"], labels, guidance=2.0))
            outputs["sample_guided"] = model.sample(noise=noise, steps=2, solver="ddim", labels=labels,
                                                    guidance=2.0, raw=True)
        return outputs
    decoded = model.decode(noise, raw=True)
    return {"forward": model.log_prob(decoded), "sample": decoded}


def reference_outputs(model):
    inputs = reference_inputs(model)
    return {**inputs, **replay(model, inputs)}
