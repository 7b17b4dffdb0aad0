"""Adversarial objectives: critic scores of a real and a fake batch -> the two losses.
Training only. Each returns a scalar to minimise; the critic's loss never reaches the
generator (its fakes come in stopped) and the generator's reaches the critic only
through `ZooModel.frozen_call`, so one `fit` step trains both.

GAN-QP (Su 2018, arXiv:1811.07296, eqs. 23-24 with T(x_r, x_f) = T(x_r)): the critic
maximises E[T(x_r) - T(x_f) - (T(x_r) - T(x_f))^2 / (2 lambda d(x_r, x_f))], the
quadratic potential, and the generator minimises E[T(x_r) - T(x_f)]. The distance d is
taken per dimension as in the paper's code (bojone/gan-qp): L1 = mean |x_r - x_f|,
L2 = sqrt(mean (x_r - x_f)^2), with lambda = 10; it bounds how fast the optimal T can
change, which replaces WGAN's Lipschitz constraint.
"""

from keras import ops

from zoo.backend import vjp

DISTANCES = ("l1", "l2")


def _per_example_mean(x):
    return ops.mean(ops.reshape(x, (ops.shape(x)[0], -1)), axis=-1)


def pair_distance(real, fake, distance="l1"):
    """d(x_r, x_f) per example: mean absolute ("l1") or root-mean-square ("l2")
    difference over the non-batch axes."""
    if distance not in DISTANCES:
        raise ValueError(f"`distance` must be one of {DISTANCES}. Received: {distance!r}")
    difference = ops.cast(real, "float32") - ops.cast(fake, "float32")
    if distance == "l1":
        return _per_example_mean(ops.abs(difference))
    return ops.sqrt(_per_example_mean(ops.square(difference)))


def quadratic_potential_critic_loss(real_scores, fake_scores, distance, lam=10.0):
    """GAN-QP critic loss (Su 2018, eq. 23, negated): mean of
    -(T_r - T_f) + (T_r - T_f)^2 / (2 lam d), with `distance` the `(batch,)` d(x_r, x_f).
    (d is floored at 1e-8: a fake equal to its real partner would divide by zero.)"""
    gap = ops.reshape(ops.cast(real_scores, "float32") - ops.cast(fake_scores, "float32"), (-1,))
    distance = ops.maximum(ops.reshape(ops.cast(distance, "float32"), (-1,)), 1e-8)
    return ops.mean(-gap + ops.square(gap) / (2.0 * lam * distance))


def quadratic_potential_generator_loss(real_scores, fake_scores):
    """GAN-QP generator loss (Su 2018, eq. 24): mean(T(x_r) - T(x_f))."""
    return ops.mean(ops.cast(real_scores, "float32") - ops.cast(fake_scores, "float32"))


def non_saturating_critic_loss(real_logits, fake_logits):
    """Goodfellow et al. 2014's discriminator: -log sigmoid(D(x_r)) - log(1 - sigmoid(D(x_f)))."""
    return ops.mean(ops.softplus(-ops.cast(real_logits, "float32")) + ops.softplus(ops.cast(fake_logits, "float32")))


def non_saturating_generator_loss(fake_logits):
    """The non-saturating generator loss -log sigmoid(D(G(z))) (Goodfellow et al. 2014, sec. 3)."""
    return ops.mean(ops.softplus(-ops.cast(fake_logits, "float32")))


def wasserstein_critic_loss(real_scores, fake_scores):
    """WGAN critic: mean(f(x_f)) - mean(f(x_r)) (Arjovsky et al. 2017)."""
    return ops.mean(ops.cast(fake_scores, "float32")) - ops.mean(ops.cast(real_scores, "float32"))


def wasserstein_generator_loss(fake_scores):
    """WGAN generator: -mean(f(G(z)))."""
    return -ops.mean(ops.cast(fake_scores, "float32"))


def interpolates(real, fake, alpha):
    """x_hat = alpha x_r + (1 - alpha) x_f with one `(batch,)` alpha per example."""
    alpha = ops.reshape(ops.cast(alpha, real.dtype), (-1,) + (1,) * (len(real.shape) - 1))
    return alpha * real + (1.0 - alpha) * fake


def gradient_penalty(critic, x):
    """WGAN-GP's penalty (Gulrajani et al. 2017, Algorithm 1): mean (||grad_x f(x)||_2 - 1)^2
    at the points `x` (usually `interpolates`), the gradient by `zoo.backend.vjp`, kept
    differentiable with respect to the critic's weights (second order) on every backend."""
    scores, pullback = vjp(lambda points: ops.cast(critic(points), "float32"), x, differentiable=True)
    gradients = pullback(ops.ones_like(scores))
    norms = ops.sqrt(ops.sum(ops.reshape(ops.square(gradients), (ops.shape(x)[0], -1)), axis=-1) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))
