"""The one place that knows the backends: compiling an inference function,
vector-Jacobian products, skipping initial weights that a load overwrites, the
two channels-last kernels (2-D convolution, group normalization) that Keras's PyTorch
backend runs slowly, the weight-EMA step as one fused update on PyTorch, and XLA:CPU's
YNNPACK fusions switched on for JAX. Everything else in `zoo/` is `keras.ops` only.

`keras.ops` has no autodiff, and a sampler loop run op by op is 10-50x slower than
compiled, so these needs get a small per-backend shim (as keras-hub does for
`generate()`).
"""

import contextlib
import importlib.metadata
import os

import keras
import numpy as np
from keras.src.backend.common import variables as _variables  # private: patched by `placeholder_weights` only

# XLA:CPU runs elementwise ops and reductions (the U-Net's normalizations, activations
# and residual sums) as YNNPACK kernels: a U-Net evaluation 1.55x faster (0.70 -> 0.45 s
# for 64 CIFAR-size images) on a 2-core AVX-512 CPU, the same samples to float32 rounding. The flag is experimental in
# jaxlib 0.10 and an older jaxlib would abort on it, hence the version check. XLA reads
# XLA_FLAGS when the backend starts (the first computation), after this module is
# imported. A user's own `--xla_cpu_experimental_ynn_fusion_type=...` (empty: none) wins.
YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type=eltwise,reduce"


def _jaxlib_at_least(major, minor):
    try:
        version = importlib.metadata.version("jaxlib").split(".")
        return (int(version[0]), int(version[1])) >= (major, minor)
    except (importlib.metadata.PackageNotFoundError, ValueError, IndexError):
        return False


def configure_xla_cpu(environ=os.environ):
    """Add `YNN_FLAG` to `XLA_FLAGS` on the JAX backend (see above); returns whether it did."""
    flags = environ.get("XLA_FLAGS", "")
    if keras.backend.backend() != "jax" or "ynn_fusion_type" in flags or not _jaxlib_at_least(0, 10):
        return False
    environ["XLA_FLAGS"] = f"{flags} {YNN_FLAG}".strip()
    return True


configure_xla_cpu()


@contextlib.contextmanager
def placeholder_weights():
    """Inside the block, a variable made from a Keras initializer starts as NumPy zeros
    instead of its initializer's draw. For building a model whose weights are loaded
    next: on JAX every random initializer of a new shape is an XLA compilation (~0.1 s
    each, 20 s for a U-Net: most of `zoo.load`), all of it thrown away by the load.
    Variables made from other callables (a SeedGenerator's state) are left alone."""
    original = _variables.Variable._initialize_with_initializer

    def zeros(variable, initializer):
        if not isinstance(initializer, keras.initializers.Initializer):
            return original(variable, initializer)
        dtype = keras.backend.standardize_dtype(variable._dtype)
        host = np.zeros(variable._shape, "float32" if dtype == "bfloat16" else dtype)
        return variable._initialize(variable._convert_to_tensor(host, dtype=variable._dtype))

    _variables.Variable._initialize_with_initializer = zeros
    try:
        yield
    finally:
        _variables.Variable._initialize_with_initializer = original


def compile_function(fn, model, *others):
    """Compile `fn(*tensors)`, which reads the variables of `model` (and of the `others`,
    e.g. a guiding classifier), for repeated inference.

    JAX: `jax.jit` with the variables passed in through a `StatelessScope` (so new
    weights, e.g. after `fit`, are seen without retracing). TensorFlow: `tf.function`.
    PyTorch: eager under `torch.no_grad()`.
    """
    name = keras.backend.backend()
    compiled = _compile(fn, _Variables((model, *others)), name)

    def run(*args):
        return compiled(*(None if a is None else keras.ops.convert_to_tensor(a) for a in args))

    return run


class _Variables:
    """The variables of several models, read afresh at each call."""

    def __init__(self, models):
        self.models = models

    @property
    def variables(self):
        return [v for model in self.models for v in model.variables]


def _compile(fn, model, name):
    if name == "jax":
        import jax

        def stateless(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(model.variables, values))):
                return fn(*args)

        jitted = jax.jit(stateless)
        return lambda *args: jitted([v.value for v in model.variables], *args)
    if name == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, reduce_retracing=True)
    if name == "torch":
        import torch

        def no_grad(*args):
            with torch.no_grad():
                return fn(*args)

        return no_grad
    return fn


def host_callback(fn):
    """Call `fn()` (no arguments, result ignored) on the host each time the computation
    being traced reaches this point: inside `jax.jit` and its loops through
    `jax.debug.callback`, inside a `tf.function` through `tf.py_function` (so not under
    XLA's `jit_compile`), eagerly otherwise. Costs ~20 us (JAX) to ~80 us (TensorFlow)
    per call on a CPU: for progress reports, not inner loops."""
    name = keras.backend.backend()
    if name == "jax":
        import jax

        jax.debug.callback(fn)
    elif name == "tensorflow":
        import tensorflow as tf

        if tf.executing_eagerly():
            fn()
        else:
            tf.py_function(lambda: (fn(), [])[1], [], [])
    else:
        fn()


def vjp(fn, x, differentiable=False):
    """Return `(fn(x), pullback)` where `pullback(cotangent) = cotangent^T d fn / dx`.

    The pullback may be called several times (exact divergence uses one call per
    dimension). With `differentiable`, the result stays differentiable with respect to
    the weights `fn` reads (a gradient penalty in a training loss: second order). JAX and
    TensorFlow always are; PyTorch needs `create_graph=True`, kept off otherwise because
    it holds the graph of every pullback in memory.
    """
    name = keras.backend.backend()
    if name == "jax":
        import jax

        y, pullback = jax.vjp(fn, x)
        return y, lambda cotangent: pullback(cotangent)[0]
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = fn(x)
        return y, lambda cotangent: tape.gradient(y, x, output_gradients=cotangent)
    if name == "torch":
        import torch

        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            y = fn(x)

        def pullback(cotangent):
            with torch.enable_grad():
                return torch.autograd.grad(y, x, cotangent, retain_graph=True, create_graph=differentiable)[0]

        return (y if differentiable else y.detach()), pullback
    raise NotImplementedError(f"Vector-Jacobian products are not available on backend {name!r}.")


def moving_average_update(targets, sources, decay):
    """`target <- decay * target + (1 - decay) * source` for each pair of variables
    (`decay` a scalar tensor), without a gradient through the sources: a weight EMA's
    step. JAX and TensorFlow trace it into the compiled train step. PyTorch runs eagerly,
    where three Keras ops and an assign per variable are ~1,000 dispatched ops a step for
    a U-Net's ~250 variables, so it runs as three `torch._foreach_*` kernels."""
    if keras.backend.backend() != "torch":
        for target, source in zip(targets, sources):
            target.assign(decay * target + (1.0 - decay) * keras.ops.stop_gradient(source))
        return
    import torch

    with torch.no_grad():
        decay = keras.ops.convert_to_tensor(decay, "float32")
        values = [target.value for target in targets]
        scaled = torch._foreach_mul([source.value.detach() for source in sources], 1.0 - decay)
        torch._foreach_mul_(values, decay)
        torch._foreach_add_(values, scaled)


def _same_padding(size, kernel, stride, dilation):
    """TensorFlow's "same" padding `(before, after)` of one spatial axis (Keras's on every backend)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def conv2d(inputs, kernel, strides=(1, 1), padding="valid", dilation_rate=(1, 1), bias=None):
    """`keras.ops.conv` of channels-last `(N, H, W, C)` inputs with an `(kh, kw, C, F)`
    kernel, plus an optional `(F,)` bias: the same numbers on every backend. PyTorch:
    `torch.nn.functional.conv2d` (bias fused) on an NCHW view of the NHWC memory
    (PyTorch's channels_last format, which oneDNN takes as is), where Keras's torch
    backend copies the input twice and the output once per call (1.9x the time of
    this call for a 64-channel 3x3 convolution of 64 32x32 images on a 2-core CPU)."""
    if keras.backend.backend() != "torch":
        out = keras.ops.conv(inputs, kernel, strides=strides, padding=padding, dilation_rate=dilation_rate,
                             data_format="channels_last")
        return out if bias is None else out + bias
    import torch.nn.functional as F

    x = keras.ops.convert_to_tensor(inputs).permute(0, 3, 1, 2)
    weight = keras.ops.convert_to_tensor(kernel).permute(3, 2, 0, 1)
    pad = 0
    if padding == "same":
        pads = [_same_padding(x.shape[2 + i], weight.shape[2 + i], strides[i], dilation_rate[i]) for i in range(2)]
        if all(before == after for before, after in pads):
            pad = [before for before, _ in pads]
        else:  # even kernels, strided: pad (left, right, top, bottom) explicitly
            x = F.pad(x, (*pads[1], *pads[0]))
    bias = None if bias is None else keras.ops.convert_to_tensor(bias)
    out = F.conv2d(x, weight, bias, stride=tuple(strides), padding=pad, dilation=tuple(dilation_rate))
    return out.permute(0, 2, 3, 1)


def group_norm(inputs, groups, gamma, beta, epsilon):
    """Group normalization of channels-last `(N, H, W, C)` inputs over `groups` groups of
    channels (`keras.layers.GroupNormalization`'s numbers), then `* gamma + beta`.
    PyTorch: one `torch.nn.functional.group_norm` kernel (~8x Keras's reshapes and
    moments op by op on a CPU); elsewhere None (the caller runs Keras's layer)."""
    if keras.backend.backend() != "torch":
        return None
    import torch
    import torch.nn.functional as F

    x = keras.ops.convert_to_tensor(inputs).permute(0, 3, 1, 2)
    if torch.is_grad_enabled() and not x.requires_grad:
        # PyTorch 2.13's CPU group_norm backward crashes (segfault) on a channels_last
        # input that needs no gradient while gamma / beta do: give it NCHW memory.
        x = x.contiguous()
    gamma = None if gamma is None else keras.ops.convert_to_tensor(gamma)
    beta = None if beta is None else keras.ops.convert_to_tensor(beta)
    return F.group_norm(x, groups, gamma, beta, epsilon).permute(0, 2, 3, 1)
