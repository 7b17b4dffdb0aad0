"""PFGM's sampler (Xu et al. 2022, arXiv:2209.11178): the backward ODE of the Poisson
field from the prior on a large hemisphere, integrated in t = log z.

Over a contract of its own, a normalized field `field(x, z) -> (v_x, v_z)` (v_x shaped
like x, v_z `(batch,)`, pointing toward the data), the ODE dx/dz = v_x / v_z becomes
dx/dt = z v_x / v_z in t = log z (PFGM eq. 12 and sec. 3.3), a velocity over which the
solvers of `zoo.samplers.ode` (Euler, Heun, RK45) run unchanged, from t = log z_max down
to log z_min. (PFGM++ needs nothing here: with r = sigma sqrt(D) its ODE is EDM's, and it
samples with `zoo.samplers.diffusion.sample_edm` from its own prior.)

The prior: far from a bounded charge its field is radial, so the uniform distribution on
a hemisphere of radius R -> infinity is carried along radial field lines onto the plane
z = z_max with the flux density of a point charge, the half-space Poisson kernel
p(x) = Gamma((N+1)/2) / pi^((N+1)/2) z_max / (|x|^2 + z_max^2)^((N+1)/2): a multivariate
Cauchy of scale z_max, drawn as z_max g / |w| with g ~ N(0, I_N), w ~ N(0, 1)
(PFGM app. A.4: R^2 / z_max^2 ~ Beta'(N/2, 1/2)).
"""

import math

import numpy as np
from keras import ops

from zoo import random
from zoo.samplers.ode import FIXED_STEP_SOLVERS, sample_rk45


def _per_example(values, x):
    return ops.reshape(values, (-1,) + (1,) * (len(x.shape) - 1))


def _norm(x):
    return ops.sqrt(ops.sum(ops.square(ops.reshape(x, (ops.shape(x)[0], -1))), axis=-1))


def hemisphere_prior(shape, key, z_max, radius_range=None):
    """`shape` = (num, ...) draws of PFGM's prior on the plane z = z_max from a `zoo.random`
    key; `radius_range` (low, high) clips the radius as the official sampler does."""
    g = random.normal(shape, random.fold_in(key, 0))
    w = ops.abs(random.normal((shape[0],), random.fold_in(key, 1)))
    x = z_max * g / _per_example(ops.maximum(w, 1e-30), g)
    if radius_range is None:
        return x
    radius = _norm(x)
    clipped = ops.clip(radius, radius_range[0], radius_range[1])
    return x * _per_example(clipped / ops.maximum(radius, 1e-30), x)


def hemisphere_prior_log_prob(x, z_max):
    """log p(x) per example of the (unclipped) prior on the plane z = z_max."""
    flat = ops.reshape(ops.convert_to_tensor(x, "float32"), (ops.shape(x)[0], -1))
    n = int(flat.shape[-1])
    constant = math.lgamma(0.5 * (n + 1)) - 0.5 * (n + 1) * math.log(math.pi) + math.log(z_max)
    return constant - 0.5 * (n + 1) * ops.log(ops.sum(ops.square(flat), axis=-1) + z_max**2)


def poisson_velocity(field, num_dims, gamma=5.0, z_exp=1.0):
    """dx/dt = z v_x / v_z in t = log z. Below z = `z_exp` the learned v_z is replaced by
    the one v_x implies (PFGM app. B.2.3, solved exactly): charges on the plane make the
    field's z part exactly F_z = -z, so n = |v_x| / sqrt(N) = a / (sqrt(a^2 + z^2) + gamma)
    gives a = |F_x| = n (gamma + sqrt(n^2 gamma^2 + (1 - n^2) z^2)) / (1 - n^2) and
    v_z = -sqrt(N) z / (sqrt(a^2 + z^2) + gamma) (the paper's formula at z -> 0). Then
    dx/dt = -a v_x / |v_x|: no division by a learned, possibly wrong-signed v_z. `z_exp` 0
    keeps the learned v_z everywhere (held <= -1e-3 so the flow cannot turn around)."""
    root = math.sqrt(num_dims)

    def velocity(x, t):
        z = ops.exp(t)
        v_x, v_z = field(x, z)
        if z_exp > 0:
            n = ops.minimum(_norm(v_x) / root, 1.0 - 1e-3)
            a = n * (gamma + ops.sqrt(ops.square(n * gamma) + (1.0 - ops.square(n)) * ops.square(z))) / (
                1.0 - ops.square(n))
            v_z = ops.where(z < z_exp, -root * z / (ops.sqrt(ops.square(a) + ops.square(z)) + gamma), v_z)
        return v_x * _per_example(z / ops.minimum(v_z, -1e-3), v_x)

    return velocity


def log_z_grid(steps, z_max, z_min):
    """`steps + 1` times t = log z, uniform from log z_max down to log z_min."""
    return np.linspace(math.log(z_max), math.log(z_min), steps + 1).astype("float32")


def sample_pfgm(field, x, z_max, z_min, num_dims, *, solver="rk45", steps=None, gamma=5.0, z_exp=1.0,
                rtol=1e-4, atol=1e-4):
    """PFGM's backward ODE from `x` on the plane z = z_max down to z_min, by "rk45"
    (adaptive) or "euler" / "heun" with `steps` uniform steps in log z. Returns `(x, nfe)`."""
    velocity = poisson_velocity(field, num_dims, gamma, z_exp)
    if solver == "rk45":
        return sample_rk45(velocity, x, math.log(z_max), math.log(z_min), rtol=rtol, atol=atol)
    method, evaluations = FIXED_STEP_SOLVERS[solver]
    return method(velocity, x, log_z_grid(steps, z_max, z_min)), ops.convert_to_tensor(steps * evaluations)
