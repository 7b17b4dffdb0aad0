"""Rectified flow / flow matching on the straight path (Liu et al. 2023,
arXiv:2209.03003; Lipman et al. 2023, arXiv:2210.02747). Time: t=0 noise, t=1 data."""

from keras import ops


def straight_path(data, noise, t):
    """x_t = t * data + (1 - t) * noise and its velocity target data - noise."""
    t = ops.reshape(ops.cast(t, data.dtype), (-1,) + (1,) * (len(data.shape) - 1))
    return t * data + (1.0 - t) * noise, data - noise


def velocity_loss(predicted, target):
    """Mean squared error per dimension, in float32 whatever the compute dtype."""
    return ops.mean(ops.square(ops.cast(predicted, "float32") - ops.cast(target, "float32")))
