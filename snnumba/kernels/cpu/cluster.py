"""Spike clusters (STCA) and first spikes.

``spike_cluster`` here is the seed's formulation (whole-row masks per time step) fused
into two passes over blocks of neighbouring neurons: rows of ``v`` are read contiguously
and the per-neuron updates are selects (bitwise ``&``/``|``: Python's ``and``/``or``
branch) that vectorize across neurons. (A scan
of one neuron at a time reads ``v[:, n]`` with a stride of N and was 4x slower.) The CUDA
twin runs ``kernels.columns.spike_cluster_column``, one thread per neuron; both are
tested against the seed's algorithm.
"""
import numpy as np
from numba import njit, prange

from .. import columns
from ._compile import PARALLEL_KERNEL

_first_row = njit(inline="always", cache=True)(columns.first_spike_row)

#: Neurons per block of the CPU spike_cluster: its per-block buffer is [T, BLOCK] bool.
BLOCK = 256


@njit(**PARALLEL_KERNEL)
def spike_cluster(v, threshold, T_in, v_min, n_o, k_positive, k_negative):
    """Per neuron of v [T, N]: n_o, k_positive, k_negative [N] (steps, -1 for none)."""
    T, N = v.shape
    for block in prange((N + BLOCK - 1) // BLOCK):
        lo = block * BLOCK
        w = min(N, lo + BLOCK) - lo
        th = threshold[lo:lo + w]
        count = np.zeros(w)
        num = np.full(w, 2.0 * T)
        min_num = np.full(w, 2.0 * T)
        min_num_t = np.full(w, 2.0 * T)
        last = np.full(w, -2.0 * T_in)
        early = np.empty((T, w), np.bool_)  # a spike, or within T_in after one
        for t in range(T):
            row = v[t, lo:lo + w]
            for i in range(w):
                spike = row[i] >= th[i]
                early[t, i] = spike | (t - last[i] <= T_in)
                delta = t - last[i] if spike else 0.0
                new = delta > T_in
                take = new & (min_num[i] > num[i])
                min_num_t[i] = last[i] if take else min_num_t[i]
                min_num[i] = num[i] if take else min_num[i]
                num[i] = 1.0 if new else (num[i] + 1.0 if spike else num[i])
                count[i] += 1.0 if new else 0.0
                last[i] = t if spike else last[i]
        nxt = np.full(w, T + 2.0 * T_in)
        best = np.full(w, v_min)
        best_t = np.zeros(w, np.int64)
        above = np.zeros(w, np.bool_)
        top = np.full(w, -np.inf)
        for t in range(T - 1, -1, -1):
            row = v[t, lo:lo + w]
            for i in range(w):
                value = v_min if (early[t, i] | (nxt[i] - t <= T_in)) else row[i]
                better = value >= best[i]  # walking backwards, >= keeps the first maximum
                best[i] = value if better else best[i]
                best_t[i] = t if better else best_t[i]
                above[i] = above[i] | (value != v_min)
                top[i] = max(top[i], row[i])
                nxt[i] = t if row[i] >= th[i] else nxt[i]
        for i in range(w):
            if num[i] < min_num[i]:
                min_num_t[i] = last[i]
            n_o[lo + i] = count[i]
            # the seed keeps argmax 0 when v itself never rises above v_min
            k_positive[lo + i] = best_t[i] if (above[i] or top[i] == v_min) else -1
            k_negative[lo + i] = np.int64(min_num_t[i]) if 0 <= min_num_t[i] < T else -1


@njit(**PARALLEL_KERNEL)
def first_spike_index(spikes, out):
    """out [R, T] (bool) marks each row's first spike of spikes [R, T]."""
    for r in prange(spikes.shape[0]):
        _first_row(spikes, r, out)
