"""CUDA twins of ``kernels/cpu/cluster.py``: one thread per neuron (spike_cluster reads
``v[t, n]`` with neighbouring threads on neighbouring neurons) or per row, over the same
steps (``kernels.columns``) as the CPU kernels."""
from numba import cuda

from .. import columns
from ._launch import grid

_start = cuda.jit(device=True)(columns.cluster_start)
_cluster = cuda.jit(device=True)(columns.cluster_step)
_extremes = cuda.jit(device=True)(columns.extremes_step)
_positive = cuda.jit(device=True)(columns.positive_step)
_finish = cuda.jit(device=True)(columns.cluster_finish)
_first_row = cuda.jit(device=True)(columns.first_spike_row)


@cuda.jit
def _spike_cluster(v, threshold, T_in, n_o, k_positive, k_negative, extremes):
    n = cuda.grid(1)
    if n >= v.shape[1]:
        return
    T = v.shape[0]
    one, tin, th = v.dtype.type(1), v.dtype.type(T_in), threshold[n]
    count, num, min_num, min_t, last, best, best_t, top, bottom, probe = _start(v, n, T_in)
    for t in range(T):
        x = v[t, n]
        tf = v.dtype.type(t)
        count, num, min_num, min_t, last = _cluster(x >= th, tf, tin, one, count, num, min_num, min_t, last)
        top, bottom, probe = _extremes(x, top, bottom, probe)
        if t >= T_in:  # step t - T_in is settled (as on the CPU)
            best, best_t = _positive(v[t - T_in, n], tf - tin, tin, last, best, best_t)
    for s in range(max(T - T_in, 0), T):
        best, best_t = _positive(v[s, n], v.dtype.type(s), tin, last, best, best_t)
    _finish(n, T, count, num, min_num, min_t, last, best, best_t, top, bottom, probe,
            n_o, k_positive, k_negative, extremes)


@cuda.jit
def _first_spike_index(spikes, out, finite):
    r = cuda.grid(1)
    if r < spikes.shape[0]:
        finite[r] = _first_row(spikes, r, out)


def spike_cluster(v, threshold, T_in, n_o, k_positive, k_negative, extremes):
    _spike_cluster[grid(v.shape[1])](v, threshold, T_in, n_o, k_positive, k_negative, extremes)


def first_spike_index(spikes, out, finite):
    _first_spike_index[grid(spikes.shape[0])](spikes, out, finite)
