"""The model contract every zoo family stands on.

A family is one thin `ZooModel` subclass: it names its networks, declares what it can
do (`Interface`), and writes the two things only it knows, the training forward pass
and its inference methods. Everything else is here, once: the data shape and its input
checks, the seed generator, the networks' weight EMA, cached compiled inference and the
batched runner, output conversion, config round trips, copies, and optimizers per
network.

How to add a family (the whole recipe; `zoo/models/rectified_flow.py` is the worked
example, `tests/test_base.py` builds a two-network GAN and an encoder from it):

1. Networks go in `zoo/networks/` (a backbone: `network(x, cond) -> tensor`, no loss),
   their layers in `zoo/layers/`, the loss in `zoo/objectives/`, a sampler over the
   denoiser or velocity contract in `zoo/samplers/`.
2. Subclass `ZooModel`, decorated with
   `@keras.saving.register_keras_serializable(package="zoo")`. Declare
   `interface = Interface(...)`: its kind, capabilities, likelihood, solvers and the
   `zoo eval` metrics. `zoo eval`, the CLI and the model card read it; nothing
   dispatches on the class.
3. `__init__(self, <networks>, data_shape, <settings>, ema_decay=..., seed=None,
   **kwargs)`: store each setting as an attribute of the same name (anything `build`
   reads before `super().__init__`), then call
   `super().__init__(data_shape, networks={"name": layer, ...}, ema_decay=...,
   ema_networks=(...), seed=seed, **kwargs)`. The base sets each network as an
   attribute of its name, builds them (override `example_inputs` if a network is not
   called as `network(x)`), and shadows `ema_networks` with an
   `ExponentialMovingAverage`. `get_config` adds the settings to `super().get_config()`;
   `from_config` is inherited.
4. `call(inputs, training=False)` does the one training forward pass (all randomness
   from `self.seed_generator`), calls `self.update_ema(training)`, and returns what
   `compute_loss(x, y, y_pred, ...)` reduces to a scalar. The stock `fit` then trains on
   every backend. A model with several networks trains them all with one `fit`: a
   network's loss term scores the others through `frozen_call` (their weights get no
   gradient from it), and `compile(optimizer={"generator": ..., "discriminator": ...})`
   gives each network its own optimizer.
5. Inference methods take and return NumPy: check inputs with `check_data`,
   `check_images`, `check_labels`, `initial_noise`; compile the tensor function once
   with `inference_fn(key, build)` and run it over batches with `run_batched`; convert
   with `to_output`. Samplers read the EMA weights through `averaged(name)`.
6. Register named configs at the bottom of the file with `register_config`, using the
   shared sizes of `zoo.networks.sizes`.
"""

import dataclasses
import math
import numbers

import keras
import numpy as np
from keras import ops

from zoo import datasets, random
from zoo.backend import compile_function, moving_average_update
from zoo.checks import MAX_OUTPUT_BYTES, check_batch_size, check_finite_rows
from zoo import progress
from zoo.registry import did_you_mean
from zoo.samplers.ode import check_rk45_finished

# What a family can declare it does, and the method or argument each name stands for.
CAPABILITIES = {
    "sample": "sample(num, *, seed, noise, ...) draws uint8 images or float points",
    "log_prob": "log_prob(x) in nats per example of model-space data",
    "bits_per_dim": "bits_per_dim(images) of uint8 images",
    "encode": "encode(x): data to latents or noise",
    "decode": "decode(z): latents to data",
    "reconstruct": "reconstruct(x): encode, then decode",
    "features": "features(x): representations for downstream use (FD-classifier, linear probes)",
    "classify": "logits(x) / classify(x) / accuracy(x, labels) of class labels",
    "labels": "sample(labels=...): a class-conditional network",
    "guidance": "sample(labels=, guidance=): classifier-free and classifier guidance",
    "temperature": "sample(temperature=...)",
    "source": "sample(source=...): translate sources into targets (diffusion bridges)",
    "straightness": "straightness(): the paths' straightness (Liu et al. 2023, eq. 8)",
}
KINDS = ("generative", "classifier", "encoder")
PRIOR_STREAM = -1  # `fold_in` word of the starting points; samplers fold in 0, 1, 2, ...
LIKELIHOODS = ("exact", "ode", "bound")


@dataclasses.dataclass(frozen=True)
class Interface:
    """What a family can do, declared once on its class and read by `zoo eval`, the CLI
    and the model card.

    Args:
        kind: str. `"generative"`, `"classifier"` or `"encoder"`.
        capabilities: iterable of str. Names from `CAPABILITIES`.
        likelihood: str or None. How `log_prob` / `bits_per_dim` are computed:
            `"exact"` (change of variables), `"ode"` (probability-flow ODE) or
            `"bound"` (a variational bound), None without them.
        solvers: tuple of str. The `solver` values `sample` takes (first: default).
        image_metrics, point_metrics: tuple of str. The `zoo.evaluation` metrics
            `zoo eval` computes on image and on 2-D point models.
        no_metrics: str. Why `zoo eval` has nothing to measure, when both are empty.
    """

    kind: str = "generative"
    capabilities: frozenset = frozenset()
    likelihood: str | None = None
    solvers: tuple = ()
    image_metrics: tuple = ()
    point_metrics: tuple = ()
    no_metrics: str = ""

    def __post_init__(self):
        object.__setattr__(self, "capabilities", frozenset(self.capabilities))
        unknown = sorted(self.capabilities - set(CAPABILITIES))
        if unknown:
            raise ValueError(f"Unknown capabilities {unknown}; known: {sorted(CAPABILITIES)}.")
        if self.kind not in KINDS:
            raise ValueError(f"`kind` must be one of {KINDS}. Received: {self.kind!r}")
        if self.likelihood not in (None, *LIKELIHOODS):
            raise ValueError(f"`likelihood` must be one of {LIKELIHOODS} or None. Received: {self.likelihood!r}")

    def can(self, capability):
        return capability in self.capabilities

    def metrics_for(self, data_shape):
        """The `zoo eval` metric names for a model of `data_shape`."""
        return self.image_metrics if len(data_shape) == 3 else self.point_metrics if tuple(data_shape) == (2,) else ()


def check_uint8_images(images, image_shape, name="images"):
    """Validate user images: uint8 `(N, *image_shape)`; returns them as NumPy uint8."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != tuple(image_shape):
        raise ValueError(f"`{name}` must have shape (N, {', '.join(map(str, image_shape))}); "
                         f"received {images.shape}. Channel count and size must match the model.")
    if images.dtype != np.uint8:
        raise ValueError(f"`{name}` must be uint8 pixels in 0..255; received dtype {images.dtype}. "
                         "Convert with `np.clip(np.round(x), 0, 255).astype('uint8')`.")
    return images


def _freeze(layer):
    # (On TensorFlow, freezing a layer does not reach layers nested in lists, so freeze
    # each variable too.)
    layer.trainable = False
    for weight in layer.weights:
        weight.trainable = False


@keras.saving.register_keras_serializable(package="zoo")
class ExponentialMovingAverage(keras.layers.Layer):
    """Shadow copies of some networks whose weights follow theirs by an exponential
    moving average, with the usual warm-up decay min(decay, (1 + n) / (10 + n)).

    The model owning the averaged networks builds the shadows like them, then calls
    `reset(sources)` once and `update(sources)` once per training step (inside `call`,
    like BatchNorm's statistics, so `fit` needs no custom step). Sampling reads the
    shadows; a published checkpoint keeps only them (`ZooModel.copy(ema_decay=None)`).

    Args:
        shadows: dict of str to keras.layers.Layer. One unbuilt copy per averaged
            network, by the network's name (`ExponentialMovingAverage.of` makes them).
        decay: float in (0, 1).
    """

    def __init__(self, shadows, decay=0.999, **kwargs):
        kwargs.setdefault("dtype", "float32")  # the average must not run in bfloat16
        super().__init__(trainable=False, **kwargs)
        if not 0.0 < decay < 1.0:
            raise ValueError(f"`ema_decay` must be in (0, 1) or None. Received: {decay}")
        self.shadows = dict(shadows)
        self.decay = decay
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="ema_updates")

    @classmethod
    def of(cls, layers, decay):
        """An average of the `{name: layer}` networks, with fresh unbuilt shadows."""
        return cls({name: layer.__class__.from_config(layer.get_config()) for name, layer in layers.items()}, decay)

    def reset(self, sources):
        """Start the average at the sources' weights (`{name: layer}`, built)."""
        for name, shadow in self.shadows.items():
            _freeze(shadow)
            # Copy the values: two variables sharing one JAX buffer break `fit`'s donation.
            for target, weight in zip(shadow.weights, sources[name].weights):
                target.assign(ops.copy(weight))
        self.built = True

    def update(self, sources):
        """One EMA step toward the sources' current weights."""
        count = self.count + 1.0
        decay = ops.minimum(self.decay, (1.0 + count) / (10.0 + count))
        targets = [weight for shadow in self.shadows.values() for weight in shadow.weights]
        weights = [weight for name in self.shadows for weight in sources[name].weights]
        moving_average_update(targets, weights, decay)
        self.count.assign(count)

    def get_config(self):
        return {**super().get_config(), "decay": self.decay,
                "shadows": {name: keras.saving.serialize_keras_object(layer) for name, layer in self.shadows.items()}}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["shadows"] = {name: keras.saving.deserialize_keras_object(layer)
                             for name, layer in config["shadows"].items()}
        return cls(**config)


def _is_serialized_object(value):
    return isinstance(value, dict) and "class_name" in value and "config" in value


def _symbolic(x):
    """A `keras.KerasTensor` of the shape and dtype of tensor `x`."""
    return keras.KerasTensor(tuple(x.shape), dtype=keras.backend.standardize_dtype(x.dtype))


class ZooModel(keras.Model):
    """Base of every family model (see the module docstring for how to write one).

    Args:
        data_shape: tuple of int. One example's shape in model space, e.g.
            `(32, 32, 3)` for images or `(2,)` for points.
        networks: dict of str to keras.layers.Layer. The model's networks by name;
            each becomes an attribute of that name and is saved with the model.
        ema_decay: float or None. Keep an `ExponentialMovingAverage` of the
            `ema_networks` for sampling; None trains and samples the raw weights.
        ema_networks: tuple of str. The networks the EMA shadows (default: all).
        seed: int or None. Seed of the model's `SeedGenerator` (training noise, draws
            made without a `seed`).
    """

    interface = Interface()
    likelihood_method = ""  # how `log_prob` / `bits_per_dim` are computed, in words for `zoo eval`
    card_usage = None  # the model card's "Use" code, where the default for the family's kind does not fit

    def __init__(self, data_shape, *, networks=None, ema_decay=None, ema_networks=None, seed=None, **kwargs):
        # The model stays float32 under mixed precision: networks cast themselves,
        # while losses and the EMA must not run in bfloat16.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.data_shape = tuple(int(d) for d in data_shape)
        self.network_names = tuple(networks or {})
        for name, layer in (networks or {}).items():
            setattr(self, name, layer)
        self.ema_decay = ema_decay
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        averaged = self.network_names if ema_networks is None else tuple(ema_networks)
        self.ema = None if ema_decay is None else ExponentialMovingAverage.of(self.networks(averaged), ema_decay)
        self._compiled = {}
        self.build((None, *self.data_shape))

    # Networks and their average -------------------------------------------------------

    def networks(self, names=None):
        """`{name: layer}` of the model's networks (or of `names`)."""
        return {name: getattr(self, name) for name in (self.network_names if names is None else names)}

    def example_inputs(self, name):
        """Positional arguments that build network `name` by one call. The default is
        one example of data, `network(x)`; families whose networks take more (a time,
        a latent) override this."""
        return (ops.zeros((1, *self.data_shape)),)

    def build(self, input_shape=None):
        # A symbolic call (shapes only) builds every weight without running the network:
        # on JAX an eager call compiled each of its ~170 ops, 9 of zoo.load's 10 s.
        for name, network in self.networks().items():
            inputs = [_symbolic(x) for x in self.example_inputs(name)]
            network(*inputs)
            if self.ema is not None and name in self.ema.shadows:
                self.ema.shadows[name](*inputs)
        if self.ema is not None:
            self.ema.reset(self.networks())
        self.built = True

    def averaged(self, name="network"):
        """Network `name` as sampling sees it: its EMA shadow when there is one."""
        if self.ema is not None and name in self.ema.shadows:
            return self.ema.shadows[name]
        return getattr(self, name)

    def update_ema(self, training):
        """One EMA step of the averaged networks, when training (call it in `call`)."""
        if training and self.ema is not None:
            self.ema.update(self.networks())

    def frozen_call(self, name, *args, **kwargs):
        """Call network `name` with its weights held constant: the result carries
        gradients to the inputs but none to the network, so one network's loss can score
        another's output (a generator through its critic) in a single `fit` step.
        (With one optimizer per network, every network must appear in the loss: on
        TensorFlow and PyTorch an optimizer refuses a step in which none of its
        variables has a gradient; a term at weight 0 is enough.)"""
        network = getattr(self, name)
        frozen = [ops.stop_gradient(v) for v in network.trainable_variables]
        outputs, _ = network.stateless_call(frozen, network.non_trainable_variables, *args, **kwargs)
        return outputs

    def compile(self, optimizer="rmsprop", **kwargs):
        """`keras.Model.compile`; `optimizer` may also be `{network name: optimizer}`,
        which trains each network with its own optimizer (and its own learning rate,
        schedule and state) in one `fit` through `keras.optimizers.MultiOptimizer`."""
        if isinstance(optimizer, dict):
            optimizer = self.optimizer_per_network(optimizer)
        super().compile(optimizer=optimizer, **kwargs)

    def optimizer_per_network(self, optimizers):
        """A `MultiOptimizer` that updates each named network's trainable variables with
        its optimizer (`{name: keras.optimizers.Optimizer}`, every trainable network named)."""
        optimizers = {name: keras.optimizers.get(opt) for name, opt in optimizers.items()}
        unknown = [name for name in optimizers if name not in self.network_names]
        if unknown:
            raise ValueError(f"No network called {unknown[0]!r}.{did_you_mean(unknown[0], self.network_names)} "
                             f"This model's networks: {', '.join(self.network_names)}.")
        trained = [name for name in self.network_names if getattr(self, name).trainable_variables]
        missing = [name for name in trained if name not in optimizers]
        if missing:
            raise ValueError(f"No optimizer for network(s) {', '.join(missing)}: give one per trained network.")
        names = list(optimizers)
        paths = {variable.path: optimizers[name] for name in names[1:]
                 for variable in getattr(self, name).trainable_variables}
        return keras.optimizers.MultiOptimizer(keras.optimizers.OptimizerMap(optimizers[names[0]], paths))

    def copy(self, **changes):
        """A new model with this one's config updated by `changes` and its weights.

        Each network of the copy (and its EMA shadow) starts from this model's sampling
        weights (the EMA when there is one), as reflow and distillation do;
        `copy(ema_decay=None)` is what gets published, at half the size. The model's own
        variables (e.g. DDPM's Gamma_n) are copied too."""
        clone = self.__class__.from_config({**self.get_config(), **changes})
        clone.load_network_weights(self)
        for target, value in zip(clone._own_variables(), self._own_variables()):
            target.assign(ops.copy(value))
        return clone

    def load_network_weights(self, source):
        """Set every network (and its EMA shadow) from `source`'s sampling weights;
        the networks must be configured alike (ValueError naming the first that is not)."""
        for name, network in self.networks().items():
            theirs = source.averaged(name)
            if _comparable(network.get_config()) != _comparable(theirs.get_config()):
                raise ValueError(f"network {name!r}: its config differs between the two models, and weights "
                                 "are only copied between networks configured alike")
            targets = [network] + ([self.ema.shadows[name]] if self.ema and name in self.ema.shadows else [])
            for target in targets:
                for variable, weight in zip(target.weights, theirs.weights):
                    variable.assign(ops.copy(weight))

    def _own_variables(self):
        """Variables the model holds itself or through a helper layer that is not one of
        its networks (DDPM's Gamma_n, the Gumbel-Softmax annealing step), in a fixed
        order; not the networks', their EMA's or the model's seed generator's."""
        others = [*self.networks().values(), *([self.ema] if self.ema is not None else [])]
        excluded = {id(v) for layer in others for v in layer.variables} | {id(self.seed_generator.state)}
        return [v for v in self.variables if id(v) not in excluded]

    # Data and input checks ------------------------------------------------------------

    @property
    def is_image(self):
        return len(self.data_shape) == 3

    @property
    def sample_shape(self):
        """The shape of one example `sample()` returns: `data_shape`, except for models
        that decode their samples (a code prior over an autoencoder's grids)."""
        return tuple(self.data_shape)

    @property
    def num_dims(self):
        return math.prod(self.data_shape)

    @property
    def num_classes(self):
        """Classes of a class-conditional model (its network's `num_classes`), else None."""
        return getattr(getattr(self, "network", None), "num_classes", None)

    def check_data(self, data, name="x"):
        """Static checks of a training batch (shape and dtype) with the fix in the message."""
        if tuple(data.shape[1:]) != self.data_shape:
            raise ValueError(f"`{name}` must have shape (batch, {', '.join(map(str, self.data_shape))}) "
                             f"in model space. Received shape {tuple(data.shape)}.")
        if not keras.backend.is_float_dtype(data.dtype):
            raise ValueError(f"`{name}` must be float data in model space; received dtype {data.dtype}. "
                             "Convert uint8 images with `zoo.datasets.to_model_space(images)`.")

    def check_array(self, x, name="x", shape=None, finite=True):
        """User data `(N, *shape)` (default: `data_shape`, in model space) -> float32 NumPy;
        with `finite`, NaN or inf anywhere is a ValueError (before any solver runs)."""
        shape = self.data_shape if shape is None else tuple(shape)
        x = np.asarray(ops.convert_to_numpy(x))
        if x.ndim != len(shape) + 1 or x.shape[1:] != shape:
            raise ValueError(f"`{name}` must have shape (N, {', '.join(map(str, shape))}); received {x.shape}.")
        x = x.astype("float32")  # (values past float32's range become inf here, and are caught)
        if finite:
            check_finite_rows(x, name)
        return x

    def check_num(self, num, name="num"):
        """`num` examples to draw: an int >= 1 whose float32 output (`data_shape` each)
        stays within `MAX_OUTPUT_BYTES`."""
        if num is None or isinstance(num, (bool, np.bool_)) or not isinstance(num, numbers.Integral) or num < 1:
            raise ValueError(f"`{name}` must be an integer >= 1 when `noise` is not given. Received: {num!r}")
        size = int(num) * self.num_dims * 4
        if size > MAX_OUTPUT_BYTES:
            most = MAX_OUTPUT_BYTES // (self.num_dims * 4)
            raise ValueError(f"`{name}`={num} examples of shape {self.data_shape} would make "
                             f"{size / 2**30:.1f} GiB of float32 output, over the {MAX_OUTPUT_BYTES // 2**30} GiB "
                             f"a single call makes; draw at most {most} at a time.")
        return int(num)

    def check_images(self, images, name="images"):
        """Validate uint8 images `(N, *data_shape)` given by a user; returns NumPy uint8."""
        if not self.is_image:
            raise ValueError(f"This model works on {self.data_shape} points, not images.")
        return check_uint8_images(images, self.data_shape, name)

    def check_labels(self, labels, num):
        """Validate optional int class labels `(num,)` against the model's classes
        (`num_classes` itself is the "no label" token of classifier-free guidance)."""
        if labels is None:
            return None
        if self.num_classes is None:
            raise ValueError("`labels` were given but this model is unconditional (no `num_classes`).")
        labels = np.asarray(labels)
        if labels.shape != (num,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"`labels` must be {num} integers; received {labels.dtype} {labels.shape}.")
        if num and (labels.min() < 0 or labels.max() > self.num_classes):
            raise ValueError(f"`labels` must be in 0..{self.num_classes - 1} (or {self.num_classes} for "
                             f"'no label'); received range {labels.min()}..{labels.max()}.")
        return labels.astype("int32")

    def check_solver(self, solver):
        """`solver` if the family has it (`interface.solvers`), else a ValueError with suggestions."""
        if solver not in self.interface.solvers:
            raise ValueError(f"Unknown `solver` {solver!r}; choose one of {self.interface.solvers}."
                             f"{did_you_mean(solver, self.interface.solvers)}")
        return solver

    @property
    def noise_shape(self):
        """One starting point's shape (`initial_noise`): the data's, unless the family
        samples from another space (a GAN's latent, PFGM's augmented data)."""
        return self.data_shape

    def prior_sample(self, shape, key):
        """Draws of the family's prior (the sampler's starting points), `shape` =
        `(num, *noise_shape)`, from a `zoo.random` key: standard normal. Families with
        another prior override this, drawing with `zoo.random` too."""
        return random.normal(shape, key)

    def sampling_key(self, seed):
        """The `zoo.random` key of a sampling call: from an int `seed` (the same numbers
        on every backend), or a fresh one from the model's generator when `seed` is None."""
        if seed is None:
            draw = keras.random.randint((2,), -2**31, 2**31 - 1, seed=self.seed_generator)
            return np.asarray(ops.convert_to_numpy(draw), "int32")
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"`seed` must be an int or None. Received: seed={seed!r}")
        return random.key(seed)

    def initial_noise(self, num, noise, seed):
        """Starting points of sampling: the given `noise` (checked) or `num` fresh draws
        of `prior_sample` from `seed`: the same seed gives the same noise on every backend
        (its own stream of `sampling_key(seed)`, apart from a sampler's later draws)."""
        if noise is None:
            num = self.check_num(num)
            key = random.fold_in(self.sampling_key(seed), PRIOR_STREAM)
            return np.asarray(ops.convert_to_numpy(self.prior_sample((num, *self.noise_shape), key)), "float32")
        noise = self.check_array(noise, "noise", self.noise_shape)
        if not len(noise):
            raise ValueError("`noise` holds 0 examples; give at least one starting point (or `num`).")
        if num is not None and num != len(noise):
            raise ValueError(f"`num`={num} disagrees with `noise` holding {len(noise)} examples; pass one.")
        return noise

    def to_output(self, x, raw=False):
        """Model space -> uint8 images (or float32 points / raw arrays)."""
        x = np.asarray(x, dtype="float32")
        return datasets.from_model_space(x) if self.is_image and not raw else x

    # Compiled inference ---------------------------------------------------------------

    def inference_fn(self, key, build_fn, *others):
        """Cache one compiled inference function per key (solver, steps, ...). `others`:
        further models whose variables the function reads (a guiding classifier); the
        key must then name them."""
        if key not in self._compiled:
            self._compiled[key] = progress.Reporting(lambda: compile_function(build_fn(), self, *others))
        return self._compiled[key]

    @staticmethod
    def run_batched(run, inputs, batch_size, *, chunk_args=None, axis=0, verbose=False, evaluations=None):
        """Call `run` (a compiled function) on consecutive batches of `inputs` (arrays
        of one length, or None, passed as None) and concatenate its outputs.

        Args:
            run: callable on the batch slices (then `chunk_args(i)`); returns a tensor,
                or `(tensor, nfe)` from an adaptive solver (checked to have finished).
            inputs: sequence of arrays or None.
            batch_size: int.
            chunk_args: optional callable `i -> tuple` of extra arguments of chunk `i`
                (e.g. its noise key).
            axis: int. The examples' axis of the outputs.
            verbose: bool. A progress bar, with an ETA, over the network evaluations that
                `run` reports (wrap its network function in `zoo.progress.counted`).
            evaluations: int or None. Network evaluations per batch, when known ahead.

        Returns:
            `(outputs, nfe)`: the concatenated NumPy outputs and the largest NFE (None
            when `run` returns no NFE).
        """
        batch_size = check_batch_size(batch_size)
        total = next(len(a) for a in inputs if a is not None)
        starts = range(0, total, batch_size)
        outputs, nfe = [], None
        with progress.bar(verbose, len(starts), evaluations) as evaluation_bar:
            for index, start in enumerate(starts):
                chunk = [None if a is None else a[start:start + batch_size] for a in inputs]
                out = run(*chunk, *(chunk_args(index) if chunk_args else ()))
                if isinstance(out, tuple):
                    out, used = out
                    nfe = max(nfe or 0, check_rk45_finished(ops.convert_to_numpy(used)))
                outputs.append(np.asarray(ops.convert_to_numpy(out)))
                evaluation_bar.batch_done()
        return np.concatenate(outputs, axis=axis), nfe

    # Serialization ----------------------------------------------------------------------

    def get_config(self):
        return {**super().get_config(), "data_shape": list(self.data_shape), "seed": self.seed,
                **{name: keras.saving.serialize_keras_object(layer) for name, layer in self.networks().items()}}

    @classmethod
    def from_config(cls, config):
        config = {key: keras.saving.deserialize_keras_object(value) if _is_serialized_object(value) else value
                  for key, value in config.items()}
        return cls(**config)


def _comparable(config):
    """A network's config without what does not shape its weights (names, frozen or not),
    at every depth."""
    if isinstance(config, dict):
        return {key: _comparable(value) for key, value in config.items() if key not in ("name", "trainable")}
    if isinstance(config, (list, tuple)):
        return [_comparable(value) for value in config]
    return config
