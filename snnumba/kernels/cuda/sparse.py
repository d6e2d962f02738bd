"""CUDA twins of ``kernels/cpu/sparse.py`` (formulas and the index layout there).

The counts and indices take one thread per row. The projection takes one thread per
output element: the threads of a warp share a row, so they walk the same list and read
consecutive weights. The weight gradient takes one thread per element of ``g`` and adds
it into the active rows of ``grad_w`` with atomic additions; their order varies between
runs, so the GPU's weight gradient varies in the last bits (the CPU's does not).
"""
from numba import cuda

from ._launch import grid


@cuda.jit
def _spike_row_counts(x, counts):
    R, N = x.shape
    r = cuda.grid(1)
    if r < R:
        c = 0
        other = 0
        for i in range(N):
            v = x[r, i]
            if v != 0:
                c += 1
            if v > 1:
                other += 1
        counts[r] = c if other == 0 else -1


@cuda.jit
def _spike_row_indices(x, offsets, indices):
    R, N = x.shape
    r = cuda.grid(1)
    if r < R:
        k = offsets[r]
        for i in range(N):
            if x[r, i] != 0:
                indices[k] = i
                k += 1


@cuda.jit
def _spike_matmul(offsets, indices, w, bias, out):
    R, J = out.shape
    n = cuda.grid(1)
    if n < R * J:
        r = n // J
        j = n % J
        acc = 0.0
        for k in range(offsets[r], offsets[r + 1]):
            acc += w[indices[k], j]
        out[r, j] = acc + bias[j]


@cuda.jit
def _spike_weight_grad(offsets, indices, g, grad_w):
    R, J = g.shape
    n = cuda.grid(1)
    if n < R * J:
        r = n // J
        j = n % J
        v = g[r, j]
        for k in range(offsets[r], offsets[r + 1]):
            cuda.atomic.add(grad_w, (indices[k], j), v)


def spike_row_counts(x, counts):
    _spike_row_counts[grid(x.shape[0])](x, counts)


def spike_row_indices(x, offsets, indices):
    _spike_row_indices[grid(x.shape[0])](x, offsets, indices)


def spike_matmul(offsets, indices, w, bias, out):
    _spike_matmul[grid(out.size)](offsets, indices, w, bias, out)


def spike_weight_grad(offsets, indices, g, grad_w):
    _spike_weight_grad[grid(g.size)](offsets, indices, g, grad_w)
