"""What a bundled checkpoint's golden file records, per kind of model: fixed inputs and
the outputs they give. `scripts/make_golden.py` writes them on JAX; `test_bundled.py`
replays the inputs on every backend and compares.

- classifiers (no `sample`): logits and features of fixed uint8 images;
- encoders: `embed` of fixed uint8 images;
- quantized autoencoders: the code grids of fixed uint8 images (points: codes of fixed points) and
  their decoding;
- noise-aware classifiers (no `sample`, a noise range): logits p(y | x, sigma) at fixed
  model-space points x and noise levels sigma;
- velocity models (rectified flow): the velocity at fixed (x, t) and a 2-step Euler sample;
- denoisers (diffusion): D(x, sigma) at fixed noise levels and a 2-step DDIM sample;
  class-conditional ones also at fixed labels under classifier-free guidance w = 2;
- flows (exact likelihood): log p of the decoded noise and the decoded noise itself;
- latent-variable models (VAEs): the decoder's mean at fixed latents and the IWAE bound
  (k = 8, seed 0) of data drawn from them;
- autoregressive models: log p of fixed data and its last row completed from seed 0;
- diffusion bridges: D(x, t, source) at fixed times and sources, and the default
  sampler's translations of two fixed sources from seed 0 (at most 20 steps);
- every model that samples: two samples of its default sampler from `seed=0` (at most
  20 steps), the noise drawn by `zoo.random`, so the same seed must give the same
  samples on every backend (not autoregressive models over more than 1,024 entries:
  pixelcnn-cifar's 3,072 sequential passes, where the last-row completion does it).
"""

import inspect

import numpy as np
from keras import ops

INPUT_KEYS = ("images", "noise", "t", "sigma", "x", "labels")
SEEDED_STEPS = 20


def kind(model):
    """Which outputs to record, from the family's declared interface and contract."""
    interface = model.interface
    if interface.can("source"):  # translation: a denoiser pinned at a source
        return "bridge"
    if interface.kind == "classifier":
        return "classifier" if interface.can("features") else "noisy classifier"
    if hasattr(model, "num_codes") and interface.can("reconstruct"):  # images <-> integer code grids
        return "quantized autoencoder"
    if interface.kind == "encoder":
        return "encoder"
    if hasattr(model, "velocity"):  # the two sampler contracts
        return "velocity"
    if hasattr(model, "denoise"):
        return "denoiser"
    if hasattr(model, "complete"):  # autoregressive: exact discrete likelihood, no noise
        return "autoregressive"
    if interface.likelihood == "bound":  # VAEs: a decoder and an importance-weighted bound
        return "latent variable"
    if interface.likelihood == "exact":
        return "flow"
    if interface.can("sample") and hasattr(model, "latent_dim"):  # GANs: one generator pass from latents
        return "generator"
    raise TypeError(f"No golden outputs defined for {type(model).__name__}.")


def reference_inputs(model):
    rng = np.random.default_rng(0)
    if kind(model) == "autoregressive":  # data of the model's kind: binary or 8-bit images, or codes
        high = {"binary": 2, "pixels": 256}.get(model.values) or model.network.num_embeddings
        data = rng.integers(0, high, size=(4, *model.data_shape))
        return {"images": data.astype(np.uint8)} if model.values != "codes" else {"x": data.astype("int32")}
    if kind(model) == "noisy classifier":  # from the smallest to the largest noise level, x of typical size
        sigma = np.geomspace(model.sigma_min, model.sigma_max, 8).astype("float32")
        spread = np.sqrt(model.sigma_data**2 + sigma**2).reshape(-1, *([1] * len(model.data_shape)))
        return {"x": (spread * rng.normal(size=(8, *model.data_shape))).astype("float32"), "sigma": sigma}
    if kind(model) == "quantized autoencoder" and not model.is_image:  # points in: one code each
        return {"x": rng.normal(size=(16, *model.data_shape)).astype("float32")}
    if kind(model) in ("classifier", "encoder", "quantized autoencoder"):  # uint8 images in
        return {"images": rng.integers(0, 256, size=(4, *model.data_shape), dtype=np.uint8)}
    if kind(model) == "latent variable":  # prior latents, and data drawn from them (binary for Bernoulli)
        latents = np.asarray(model.initial_noise(4, None, 0))
        return {"noise": latents, "x": model.sample(noise=latents, seed=1, raw=True)}
    if kind(model) == "generator":  # latents in; a BiGAN also encodes uint8 images
        inputs = {"noise": rng.normal(size=(4, *model.noise_shape)).astype("float32")}
        if model.interface.can("encode"):
            inputs["images"] = rng.integers(0, 256, size=(4, *model.data_shape), dtype=np.uint8)
        return inputs
    noise = rng.normal(size=(4, *model.data_shape)).astype("float32")
    if kind(model) == "bridge":  # sources (uint8 images or points), states and times from t_min to T
        source = (rng.integers(0, 256, size=(4, *model.data_shape), dtype=np.uint8) if model.is_image
                  else rng.normal(size=(4, *model.data_shape)).astype("float32"))
        return {"images" if model.is_image else "x": source, "noise": model.sigma_data * noise,
                "t": np.geomspace(model.t_min, model.t_max, 4).astype("float32")}
    if kind(model) == "velocity":
        return {"noise": noise, "t": np.array([0.0, 0.3, 0.6, 0.95], "float32")}
    if kind(model) == "denoiser":  # from the smallest to the largest noise level
        inputs = {"noise": noise, "sigma": np.geomspace(model.sigma_min, model.sigma_max, 4).astype("float32")}
        num_classes = model.num_classes
        if num_classes:
            inputs["labels"] = (np.arange(4) * 3 % num_classes).astype("int32")
        return inputs
    return {"noise": 0.7 * noise}  # flows: a typical latent at temperature 0.7


MAX_SAMPLED_DIMS = 1024  # autoregressive models draw a seeded sample only up to this many entries


def seeded_sample(model):
    """`{"seeded_sample": ...}`: two draws of the default sampler from seed 0, at most
    `SEEDED_STEPS` steps (stochastic samplers draw their noise at every step); `{}` if
    the family does not sample. Not 2 steps: EDM's Heun step from sigma = 80 down to
    0.002 multiplies the denoiser's float rounding by 80 / 0.002 (differences of 1e-2
    between backends), a step no real grid takes."""
    if not model.interface.can("sample") or model.interface.can("source"):  # bridges: in `_replay`
        return {}
    if kind(model) == "autoregressive" and model.num_dims > MAX_SAMPLED_DIMS:
        return {}  # 8-bit CIFAR-10: 3,072 passes, 150 s on JAX at -O0; its last-row completion pins sampling
    kwargs = {}
    steps = inspect.signature(model.sample).parameters.get("steps")
    default = getattr(model, "default_steps", None) if steps is None or steps.default is None else steps.default
    if steps is not None and default is not None and default > SEEDED_STEPS:
        kwargs["steps"] = SEEDED_STEPS
    if getattr(model, "num_classes", None):
        kwargs["labels"] = np.array([1, 2], "int32")
    return {"seeded_sample": model.sample(2, seed=0, raw=True, **kwargs)}


def replay(model, inputs):
    """The outputs of `model` on `inputs` (a dict from `reference_inputs`), and its
    `seeded_sample`."""
    return {**_replay(model, inputs), **seeded_sample(model)}


def _replay(model, inputs):
    which = kind(model)
    if which == "noisy classifier":
        return {"logits": ops.convert_to_numpy(model.logits(inputs["x"], inputs["sigma"]))}
    if which == "classifier":
        return {"logits": model.logits(inputs["images"]), "features": model.features(inputs["images"])}
    if which == "encoder":
        return {"embedding": model.embed(inputs["images"])}
    if which == "quantized autoencoder":
        codes = model.encode(inputs["images"] if "images" in inputs else inputs["x"])
        return {"codes": codes, "decoded": model.decode(codes, raw=True)}
    if which == "autoregressive":  # log p of fixed data; its last row completed from seed 0 (W network passes)
        data = inputs["images"] if "images" in inputs else inputs["x"]
        return {"forward": model.log_prob(data),
                "sample": model.complete(data, known_rows=model.data_shape[0] - 1, seed=0, raw=True)}
    if which == "latent variable":  # the decoder's mean, and the IWAE bound with 8 draws from seed 0
        return {"sample": model.decode(inputs["noise"]), "forward": model.log_prob(inputs["x"], k=8, seed=0)}
    if which == "generator":  # the generator's output; the critic's energy of it (GAN) or the encoder (BiGAN)
        sample = model.sample(noise=inputs["noise"], raw=True)
        if "images" in inputs:
            return {"sample": sample, "forward": model.encode(inputs["images"])}
        return {"sample": sample, "forward": model.energy(sample)}
    noise = inputs["noise"]
    if which == "bridge":
        source = inputs["images"] if "images" in inputs else inputs["x"]
        model_source = source if "x" in inputs else source.astype("float32") / 127.5 - 1
        steps = min(model.default_steps, SEEDED_STEPS)
        return {"forward": ops.convert_to_numpy(model.denoise(noise, inputs["t"], model_source)),
                "seeded_sample": model.sample(source=source[:2], steps=steps, seed=0, raw=True)}
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
