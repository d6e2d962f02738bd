"""Rate-classifier kernels (``snnumba.classifiers.MaxRateClassifier``) and the time means.

``inputs`` are batch rates flattened to [B, N]; ``rates`` are [N, K].

Loops index row views (``x[t, lo:hi]``, ``inputs[b]``) from 0: an index such as
``lo + i`` makes Numba check it for negative values on every element, which kept LLVM
from vectorizing the time mean (measured 5x slower).
"""
import math

import numpy as np
from numba import njit, prange

from ._compile import KERNEL, PARALLEL_KERNEL, clean_divide

#: Neurons per prange block of the update: rows of ``inputs`` are then read contiguously.
BLOCK = 512
#: Columns per prange block of the time means; with [T, B, N] spikes flattened to
#: [T, B N], blocks run over (sample, neuron block), so batch 1 uses every core too.
MEAN_BLOCK = 4096
#: Steps counted in uint16 before the counts go to the totals: 257 * 255 = 65535 fits.
CHUNK = 257


@njit(**PARALLEL_KERNEL)
def max_rate_update(inputs, labels, counts, decay, most_negative, rates):
    """rates[n, k] = exp(-decay counts[k]) rates[n, k] + clean(sum_{b: label k} inputs[b, n] / counts[k])."""
    B, N = inputs.shape
    K = rates.shape[1]
    keep = np.empty(K)
    for k in range(K):
        keep[k] = math.exp(-decay * counts[k])
    for block in prange((N + BLOCK - 1) // BLOCK):
        lo = block * BLOCK
        hi = min(N, lo + BLOCK)
        acc = np.zeros((K, hi - lo))  # per class, contiguous over neurons: the adds vectorize
        for b in range(B):
            _add_row(inputs[b, lo:hi], acc[labels[b]])
        for i in range(hi - lo):
            for k in range(K):
                rates[lo + i, k] = keep[k] * rates[lo + i, k] + clean_divide(acc[k, i], counts[k], most_negative)


@njit(**PARALLEL_KERNEL)
def max_rate_regress(inputs, assignments, weights, occurrences, most_negative, out):
    """out[b, k] = clean(sum_{n assigned k} inputs[b, n] weights[n] / occurrences[k])."""
    B, N = inputs.shape
    K = out.shape[1]
    for b in prange(B):
        acc = np.zeros(K)
        row = inputs[b]
        for n in range(N):
            acc[assignments[n]] += row[n] * weights[n]
        for k in range(K):
            out[b, k] = clean_divide(acc[k], occurrences[k], most_negative)


@njit(**KERNEL)
def _add_row(x, acc):
    """acc += x, elementwise (acc's dtype)."""
    for i in range(x.shape[0]):
        acc[i] += x[i]


@njit(**KERNEL)
def _add_rows(x, acc):
    """acc += x.sum(axis=0) in acc's dtype, in the order of t (two rows per pass over acc)."""
    T = x.shape[0]
    t = 0
    while t + 2 <= T:
        a, b = x[t], x[t + 1]
        for i in range(a.shape[0]):
            acc[i] = (acc[i] + a[i]) + b[i]
        t += 2
    if t < T:
        _add_row(x[t], acc)


@njit(**PARALLEL_KERNEL)
def time_mean(x, out):
    """out[r] = mean over t of x[t, r] (accumulated in float64)."""
    T, R = x.shape
    for block in prange((R + MEAN_BLOCK - 1) // MEAN_BLOCK):
        lo = block * MEAN_BLOCK
        hi = min(R, lo + MEAN_BLOCK)
        acc = np.zeros(hi - lo)
        _add_rows(x[:, lo:hi], acc)
        for i in range(hi - lo):
            out[lo + i] = acc[i] / T


@njit(**PARALLEL_KERNEL)
def spike_time_mean(spikes, out):
    """out[r] = mean over t of spikes[t, r] (uint8: 0/1 spikes or counts), from exact
    integer counts: the spikes are read once and never converted to float."""
    T, R = spikes.shape
    for block in prange((R + MEAN_BLOCK - 1) // MEAN_BLOCK):
        lo = block * MEAN_BLOCK
        hi = min(R, lo + MEAN_BLOCK)
        total = np.zeros(hi - lo)
        part = np.empty(hi - lo, np.uint16)
        for t0 in range(0, T, CHUNK):
            part[:] = 0
            _add_rows(spikes[t0:min(T, t0 + CHUNK), lo:hi], part)
            _add_row(part, total)
        for i in range(hi - lo):
            out[lo + i] = total[i] / T
