"""Denoising bridge score matching (Zhou et al. 2024, arXiv:2309.16948, sec. 4). Training only.

A noisy point of the bridge is x_t = a_t x_T + b_t x_0 + c_t z (`zoo.schedules.
bridge_coefficients`); the denoiser D(x_t, t, x_T) = c_skip x_t + c_out F(c_in x_t, ...)
is preconditioned so that F's input and target have unit variance, and the loss is the
mean square error of F against its target, which weights the denoising error by
lambda = 1 / c_out^2 (DDBM's choice, as EDM's).
"""

from keras import ops


def bridge_preconditioning(a, b, c, sigma_data=0.5, sigma_source=0.5, covariance=0.0):
    """`(c_skip, c_out, c_in)` of DDBM (Zhou et al. 2024, app. A.5, Prop. 5) for a
    target of std `sigma_data`, a source of std `sigma_source` and their covariance:
    with A = a^2 s_T^2 + b^2 s_0^2 + 2 a b cov + c^2, c_in = 1 / sqrt(A), c_skip = (b s_0^2
    + a cov) / A, c_out = sqrt(a^2 (s_T^2 s_0^2 - cov^2) + s_0^2 c^2) / sqrt(A). Works on
    tensors and NumPy. At t = T (a = 1, b = c = 0) the denoiser predicts the data from
    the source alone."""
    total = a**2 * sigma_source**2 + b**2 * sigma_data**2 + 2 * a * b * covariance + c**2
    c_in = 1.0 / ops.sqrt(total)
    c_skip = (b * sigma_data**2 + a * covariance) / total
    c_out = ops.sqrt(a**2 * (sigma_source**2 * sigma_data**2 - covariance**2) + sigma_data**2 * c**2) * c_in
    return c_skip, c_out, c_in
