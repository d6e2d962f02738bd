"""CUDA twins of ``kernels/cpu/cells.py``: one thread per unit; L is summed with an
atomic add into a one-element float64 array."""
from numba import cuda

from ._launch import bernoulli_error, gaussian_error, grid


@cuda.jit
def _bernoulli_error_cell(p, target, modulator, mask, input_logits, dp, dtarget, total):
    i = cuda.grid(1)
    if i < p.size:
        term, dp[i], dtarget[i] = bernoulli_error(p[i], target[i], modulator[i], mask[i], input_logits)
        mask[i] = 1
        cuda.atomic.add(total, 0, term)


@cuda.jit
def _gaussian_error_cell(mu, target, modulator, mask, sigma, dmu, dtarget, total):
    i = cuda.grid(1)
    if i < mu.size:
        term, dmu[i], dtarget[i] = gaussian_error(mu[i], target[i], modulator[i], mask[i], sigma)
        mask[i] = 1
        cuda.atomic.add(total, 0, term)


def _launch(kernel, first, *args):
    total = cuda.to_device([0.0])
    kernel[grid(first.size)](first, *args, total)
    return float(total.copy_to_host()[0])


def bernoulli_error_cell(p, target, modulator, mask, input_logits, dp, dtarget):
    return _launch(_bernoulli_error_cell, p, target, modulator, mask, input_logits, dp, dtarget)


def gaussian_error_cell(mu, target, modulator, mask, sigma, dmu, dtarget):
    return _launch(_gaussian_error_cell, mu, target, modulator, mask, sigma, dmu, dtarget)
