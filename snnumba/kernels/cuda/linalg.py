"""Dense-layer arithmetic on the GPU, so a training step never leaves the device.

On the CPU these are NumPy expressions (``snnumba.backend``); here each is a small
kernel, one thread per output element.
"""
from numba import cuda

from ._launch import grid


@cuda.jit
def _matmul(a, b, out, trans_a, trans_b, accumulate):
    rows, cols = out.shape
    i = cuda.grid(1)
    if i >= rows * cols:
        return
    r = i // cols
    c = i % cols
    inner = a.shape[0] if trans_a else a.shape[1]
    acc = 0.0
    for k in range(inner):
        x = a[k, r] if trans_a else a[r, k]
        y = b[c, k] if trans_b else b[k, c]
        acc += x * y
    if accumulate:
        out[r, c] += acc
    else:
        out[r, c] = acc


def matmul(a, b, out, trans_a=False, trans_b=False, accumulate=False):
    """out (+)= op(a) @ op(b), op transposing when asked (no transposed copy is made)."""
    _matmul[grid(out.size)](a, b, out, trans_a, trans_b, accumulate)


@cuda.jit
def _dale_weights(w, sign, out):
    i, j = cuda.grid(2)
    if i < w.shape[0] and j < w.shape[1]:
        out[i, j] = abs(w[i, j]) * sign[i, j]


@cuda.jit
def _dale_grad(w, sign, grad_eff, grad_w):
    i, j = cuda.grid(2)
    if i < w.shape[0] and j < w.shape[1]:
        x = w[i, j]
        d = 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
        grad_w[i, j] += grad_eff[i, j] * sign[i, j] * d


def _grid2(shape):
    tpb = max(1, int(round(grid(1)[1] ** 0.5)))
    return ((shape[0] + tpb - 1) // tpb, (shape[1] + tpb - 1) // tpb), (tpb, tpb)


def dale_weights(w, sign, out):
    """out = |w| * sign."""
    _dale_weights[_grid2(w.shape)](w, sign, out)


def dale_grad(w, sign, grad_eff, grad_w):
    """grad_w += grad_eff * sign * sign(w)  (d|w|/dw taken as 0 at w = 0)."""
    _dale_grad[_grid2(w.shape)](w, sign, grad_eff, grad_w)


@cuda.jit
def _add_inplace(a, b):
    i = cuda.grid(1)
    if i < a.size:
        a[i] += b[i]


def add_inplace(a, b):
    """a += b for 1-D arrays of equal size."""
    _add_inplace[grid(a.size)](a, b)


@cuda.jit
def _fill(a, value):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = value


def fill(a, value):
    """a[:] = value for a 1-D array."""
    _fill[grid(a.size)](a, value)


@cuda.jit
def _add_bias(h, bias):
    i = cuda.grid(1)
    if i < h.size:
        h[i // bias.size, i % bias.size] += bias[i % bias.size]


def add_bias(h, bias):
    """h[r, :] += bias for every row r of the 2-D array h."""
    _add_bias[grid(h.size)](h, bias)


@cuda.jit
def _column_sum(g, out):
    c = cuda.grid(1)
    if c < out.size:
        acc = 0.0
        for r in range(g.shape[0]):
            acc += g[r, c]
        out[c] += acc


def column_sum(g, out):
    """out += g.sum(axis=0) for the 2-D array g."""
    _column_sum[grid(out.size)](g, out)
