"""CUDA twins of ``kernels/cpu/classify.py``: one thread per output element (the time
means: per column, neighbouring threads on neighbouring columns)."""
import math

import numpy as np
from numba import cuda

from ._launch import clean_divide, grid


@cuda.jit
def _max_rate_update(inputs, labels, counts, decay, most_negative, rates):
    N, K = rates.shape
    i = cuda.grid(1)
    if i < N * K:
        n = i % N          # neighbouring threads read neighbouring neurons
        k = i // N
        acc = np.float64(0.0)
        for b in range(inputs.shape[0]):
            if labels[b] == k:
                acc += inputs[b, n]
        rates[n, k] = math.exp(-decay * counts[k]) * rates[n, k] + clean_divide(acc, counts[k], most_negative)


@cuda.jit
def _max_rate_regress(inputs, assignments, weights, occurrences, most_negative, out):
    B, K = out.shape
    i = cuda.grid(1)
    if i < B * K:
        b = i // K
        k = i % K
        acc = np.float64(0.0)
        for n in range(inputs.shape[1]):
            if assignments[n] == k:
                acc += inputs[b, n] * weights[n]
        out[b, k] = clean_divide(acc, occurrences[k], most_negative)


@cuda.jit
def _time_mean(x, out):
    r = cuda.grid(1)
    if r < out.size:
        acc = np.float64(0.0)
        for t in range(x.shape[0]):
            acc += x[t, r]
        out[r] = acc / x.shape[0]


@cuda.jit
def _spike_time_mean(spikes, out):
    r = cuda.grid(1)
    if r < out.size:
        count = np.int64(0)  # np. types: the simulator then sums as the GPU does
        for t in range(spikes.shape[0]):
            count += spikes[t, r]
        out[r] = count / spikes.shape[0]


def max_rate_update(inputs, labels, counts, decay, most_negative, rates):
    _max_rate_update[grid(rates.size)](inputs, labels, counts, decay, most_negative, rates)


def max_rate_regress(inputs, assignments, weights, occurrences, most_negative, out):
    _max_rate_regress[grid(out.size)](inputs, assignments, weights, occurrences, most_negative, out)


def time_mean(x, out):
    _time_mean[grid(out.size)](x, out)


def spike_time_mean(spikes, out):
    _spike_time_mean[grid(out.size)](spikes, out)
