"""Error-cell steps (``snnumba.cells``): one fused pass over flat (raveled) arrays that
writes both derivatives, resets the mask to ones and returns the summed loss L."""
from numba import njit, prange

from ._compile import PARALLEL_KERNEL, bernoulli_error, gaussian_error


@njit(**PARALLEL_KERNEL)
def bernoulli_error_cell(p, target, modulator, mask, input_logits, dp, dtarget):
    """Bernoulli cell step over 1-D arrays (formulas in ``kernels.scalar.bernoulli_error``)."""
    total = 0.0
    for i in prange(p.size):
        term, dp[i], dtarget[i] = bernoulli_error(p[i], target[i], modulator[i], mask[i], input_logits)
        mask[i] = 1
        total += term
    return total


@njit(**PARALLEL_KERNEL)
def gaussian_error_cell(mu, target, modulator, mask, sigma, dmu, dtarget):
    """Gaussian cell step over 1-D arrays (formulas in ``kernels.scalar.gaussian_error``)."""
    total = 0.0
    for i in prange(mu.size):
        term, dmu[i], dtarget[i] = gaussian_error(mu[i], target[i], modulator[i], mask[i], sigma)
        mask[i] = 1
        total += term
    return total
