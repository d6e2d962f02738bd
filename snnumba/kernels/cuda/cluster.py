"""CUDA twins of ``kernels/cpu/cluster.py``: one thread per neuron (spike_cluster reads
``v[t, n]`` with neighbouring threads on neighbouring neurons) or per row."""
from numba import cuda

from .. import columns
from ._launch import grid

_column = cuda.jit(device=True)(columns.spike_cluster_column)
_first_row = cuda.jit(device=True)(columns.first_spike_row)


@cuda.jit
def _spike_cluster(v, threshold, T_in, v_min, n_o, k_positive, k_negative):
    n = cuda.grid(1)
    if n < v.shape[1]:
        n_o[n], k_positive[n], k_negative[n] = _column(v, n, threshold[n], T_in, v_min)


@cuda.jit
def _first_spike_index(spikes, out):
    r = cuda.grid(1)
    if r < spikes.shape[0]:
        _first_row(spikes, r, out)


def spike_cluster(v, threshold, T_in, v_min, n_o, k_positive, k_negative):
    _spike_cluster[grid(v.shape[1])](v, threshold, T_in, v_min, n_o, k_positive, k_negative)


def first_spike_index(spikes, out):
    _first_spike_index[grid(spikes.shape[0])](spikes, out)
