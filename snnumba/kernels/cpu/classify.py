"""Rate-classifier kernels (``snnumba.classifiers.MaxRateClassifier``) and the time mean.

``inputs`` are batch rates flattened to [B, N]; ``rates`` are [N, K].
"""
import math

import numpy as np
from numba import njit, prange

from ._compile import PARALLEL_KERNEL, clean_divide

#: Neurons per prange block: rows of ``inputs`` are then read contiguously.
BLOCK = 512


@njit(**PARALLEL_KERNEL)
def max_rate_update(inputs, labels, counts, decay, most_negative, rates):
    """rates[n, k] = exp(-decay counts[k]) rates[n, k] + clean(sum_{b: label k} inputs[b, n] / counts[k])."""
    B, N = inputs.shape
    K = rates.shape[1]
    for block in prange((N + BLOCK - 1) // BLOCK):
        lo = block * BLOCK
        w = min(N, lo + BLOCK) - lo
        acc = np.zeros((w, K))
        for b in range(B):
            k = labels[b]
            for i in range(w):
                acc[i, k] += inputs[b, lo + i]
        for i in range(w):
            for k in range(K):
                rates[lo + i, k] = (math.exp(-decay * counts[k]) * rates[lo + i, k]
                                    + clean_divide(acc[i, k], counts[k], most_negative))


@njit(**PARALLEL_KERNEL)
def max_rate_regress(inputs, assignments, weights, occurrences, most_negative, out):
    """out[b, k] = clean(sum_{n assigned k} inputs[b, n] weights[n] / occurrences[k])."""
    B, N = inputs.shape
    K = out.shape[1]
    for b in prange(B):
        acc = np.zeros(K)
        for n in range(N):
            acc[assignments[n]] += inputs[b, n] * weights[n]
        for k in range(K):
            out[b, k] = clean_divide(acc[k], occurrences[k], most_negative)


@njit(**PARALLEL_KERNEL)
def time_mean(x, out):
    """out[r] = mean over t of x[t, r] (accumulated in float64)."""
    T, R = x.shape
    for block in prange((R + BLOCK - 1) // BLOCK):
        lo = block * BLOCK
        w = min(R, lo + BLOCK) - lo
        acc = np.zeros(w)
        for t in range(T):
            for i in range(w):
                acc[i] += x[t, lo + i]
        for i in range(w):
            out[lo + i] = acc[i] / T
