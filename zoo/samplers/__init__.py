"""Samplers: short pure functions over a velocity `v(x, t)` or denoiser `D(x, sigma)`."""

from zoo.samplers.ode import sample_euler, sample_heun, sample_rk45

__all__ = ["sample_euler", "sample_heun", "sample_rk45"]
