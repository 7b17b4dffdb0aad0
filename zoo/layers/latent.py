"""Stochastic latent layers of the variational autoencoders (`zoo.models.vae`): the
Gaussian reparameterization and the Gumbel-Softmax relaxation of a categorical.

Both compute in float32 whatever the global dtype policy (their `dtype` defaults to
"float32"): a bfloat16 softmax at a low temperature, or exp(log_var / 2) of a
bfloat16 log-variance, loses the few bits these samples live on. Noise comes from the
caller (`noise=`, e.g. from the model's seed generator or `zoo.random`) or from the
layer's own `SeedGenerator`.
"""

import math

import keras
from keras import ops


def gaussian_kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over the latent axes
    (Kingma & Welling 2014, appendix B)."""
    mean, log_var = ops.cast(mean, "float32"), ops.cast(log_var, "float32")
    kl = 0.5 * (ops.square(mean) + ops.exp(log_var) - 1.0 - log_var)
    return ops.sum(ops.reshape(kl, (ops.shape(kl)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class GaussianReparameterization(keras.layers.Layer):
    """z = mean + exp(log_var / 2) * eps, eps ~ N(0, I): a sample of the diagonal
    Gaussian q(z | x) that carries gradients to its parameters (Kingma & Welling 2014).
    `kl_divergence(mean, log_var)` gives its KL to the standard normal prior.

    Args:
        seed: int or None. Seed of the layer's own noise (used when `noise` is None).

    Call args:
        mean: `(batch, ...)` tensor.
        log_var: tensor like `mean`.
        training: bool. Without `noise`, draw it in training; return `mean` otherwise.
        noise: optional standard-normal tensor like `mean` (e.g. keyed draws); by
            default drawn from the layer's seed generator in training.

    Returns:
        z, float32, shaped like `mean`.

    References:
        Kingma & Welling 2014, arXiv:1312.6114.
    """

    def __init__(self, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, mean, log_var, training=False, noise=None):
        mean, log_var = ops.cast(mean, "float32"), ops.cast(log_var, "float32")
        if noise is None:
            if not training:  # like Dropout: noise in training (or when given), the mean otherwise
                return mean
            noise = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * ops.cast(noise, "float32")

    @staticmethod
    def kl_divergence(mean, log_var):
        """`(batch,)` KL(q || N(0, I)) in nats (`gaussian_kl`)."""
        return gaussian_kl(mean, log_var)

    def compute_output_shape(self, mean_shape, *args, **kwargs):
        return mean_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="zoo")
class GumbelSoftmax(keras.layers.Layer):
    """Relaxed one-hot samples of categoricals, softmax((logits + g) / tau) with Gumbel
    noise g (Jang et al. 2017; Maddison et al. 2017), over the last axis.

    `hard=True` returns exact one-hot vectors argmax(logits + g) (a draw of the
    categorical itself, by the Gumbel-max trick) whose gradient is the relaxed
    sample's: the straight-through estimator. The temperature anneals during training
    as in Jang et al. (sec. 4): tau = max(min_temperature, temperature * exp(-anneal_rate
    * step)), with `step` a non-trainable weight counted by each training call, so a saved
    or resumed model continues the schedule where it stopped.

    Args:
        temperature: float > 0. tau at step 0 (Jang et al.: 1).
        hard: bool. Straight-through one-hot samples.
        anneal_rate: float >= 0. r of the schedule (Jang et al.: 1e-5 to 1e-4); 0 keeps tau fixed.
        min_temperature: float > 0. The floor of the schedule (Jang et al.: 0.5).
        seed: int or None. Seed of the layer's own noise (used when `noise` is None).

    Call args:
        logits: `(..., categories)` unnormalized log-probabilities.
        training: bool. Advance the annealing step by one; without `noise`, draw it
            (otherwise the result is noiseless: softmax(logits / tau), or the argmax's one-hot).
        noise: optional standard Gumbel noise like `logits`.

    Returns:
        float32 samples shaped like `logits`, on the simplex.

    References:
        Jang, Gu & Poole 2017, arXiv:1611.01144; Maddison, Mnih & Teh 2017, arXiv:1611.00712.
    """

    def __init__(self, temperature=1.0, hard=False, anneal_rate=0.0, min_temperature=0.5, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        for name, value in (("temperature", temperature), ("min_temperature", min_temperature)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"`{name}` must be a finite number > 0. Received: {value!r}")
        if not (isinstance(anneal_rate, (int, float)) and math.isfinite(anneal_rate) and anneal_rate >= 0):
            raise ValueError(f"`anneal_rate` must be a finite number >= 0 (0: no annealing). Received: {anneal_rate!r}")
        self.temperature = float(temperature)
        self.hard = bool(hard)
        self.anneal_rate = float(anneal_rate)
        self.min_temperature = float(min_temperature)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Created here, not in `build`, so the schedule exists before the first call.
        self.step = self.add_weight(shape=(), initializer="zeros", trainable=False, name="anneal_step",
                                    dtype="float32")

    def current_temperature(self):
        """tau at the current annealing step (a float32 scalar tensor)."""
        if self.anneal_rate == 0.0:
            return ops.convert_to_tensor(self.temperature, "float32")
        return ops.maximum(self.min_temperature, self.temperature * ops.exp(-self.anneal_rate * self.step))

    def call(self, logits, training=False, noise=None):
        logits = ops.cast(logits, "float32")
        if noise is None and training:
            u = keras.random.uniform(ops.shape(logits), minval=1e-7, maxval=1.0 - 1e-7, seed=self.seed_generator)
            noise = -ops.log(-ops.log(u))
        elif noise is None:  # like Dropout: noise in training (or when given), none otherwise
            noise = ops.zeros_like(logits)
        tau = self.current_temperature()
        soft = ops.softmax((logits + ops.cast(noise, "float32")) / tau, axis=-1)
        if training and self.anneal_rate > 0.0:
            self.step.assign(self.step + 1.0)
        if not self.hard:
            return soft
        one_hot = ops.one_hot(ops.argmax(soft, axis=-1), ops.shape(logits)[-1], dtype="float32")
        return soft + ops.stop_gradient(one_hot - soft)

    def compute_output_shape(self, logits_shape, *args, **kwargs):
        return logits_shape

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "hard": self.hard,
                "anneal_rate": self.anneal_rate, "min_temperature": self.min_temperature, "seed": self.seed}
