"""Samplers: short pure functions over a velocity `v(x, t)` or denoiser `D(x, sigma)`."""

from zoo.samplers.ode import sample_euler, sample_heun, sample_rk45

__all__ = ["sample_euler", "sample_heun", "sample_rk45"]
from zoo.samplers.diffusion import (sample_ancestral, sample_ddim, sample_ddpm,  # noqa: E402,F401
                                    sample_edm, sample_euler_maruyama, sample_pc, sample_pf_rk45)
