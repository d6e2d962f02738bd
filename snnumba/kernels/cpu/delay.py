"""Dense projection with per-synapse delays, time-major.

A delay of ``d`` steps is split into ``steps = floor(d)`` and ``frac = d - steps``
(``frac = 0`` when delays are rounded to whole steps); the delayed input is

    xd[t, b, i, j] = (1 - frac[i, j]) x[t - steps[i, j], b, i] + frac[i, j] x[t - steps[i, j] - 1, b, i]

with x = 0 before t = 0, and ``h[t, b, j] = sum_i w[i, j] xd[t, b, i, j]``. Backward:
``dW[i, j] = sum_{t, b} g[t, b, j] xd[t, b, i, j]`` and
``dx[t, b, i] = sum_j w[i, j] ((1 - frac) g[t + steps, b, j] + frac g[t + steps + 1, b, j])``.
"""
from numba import njit, prange

from .. import columns
from ._compile import PARALLEL_KERNEL

_delayed = njit(inline="always", cache=True)(columns.delayed_input)
_input_grad = njit(inline="always", cache=True)(columns.delayed_input_grad_value)


@njit(**PARALLEL_KERNEL)
def delayed_matmul(x, w, steps, frac, out):
    """out[t, b, j] = sum_i w[i, j] xd[t, b, i, j], event-driven: each non-zero input
    x[t, b, i] adds its weighted value into the steps its delays reach (spike inputs are
    mostly zero; a gather over every (i, j) per output was 5x slower)."""
    T, B, I = x.shape
    J = w.shape[1]
    for b in prange(B):
        for t in range(T):
            for j in range(J):
                out[t, b, j] = 0
        for t in range(T):
            for i in range(I):
                xv = x[t, b, i]
                if xv == 0:
                    continue
                for j in range(J):
                    s = t + steps[i, j]
                    if s < T:
                        v = xv * w[i, j]
                        f = frac[i, j]
                        out[s, b, j] += (1.0 - f) * v
                        if s + 1 < T:
                            out[s + 1, b, j] += f * v


@njit(**PARALLEL_KERNEL)
def delayed_weight_grad(x, g, steps, frac, grad_w):
    """grad_w[i, j] += sum_{t, b} g[t, b, j] xd[t, b, i, j]."""
    T, B, I = x.shape
    J = g.shape[2]
    for i in prange(I):
        for j in range(J):
            acc = 0.0
            for t in range(T):
                for b in range(B):
                    acc += g[t, b, j] * _delayed(x, t, b, i, steps[i, j], frac[i, j])
            grad_w[i, j] += acc


@njit(**PARALLEL_KERNEL)
def delayed_input_grad(g, w, steps, frac, grad_x):
    """grad_x[t, b, i] = sum_j w[i, j] ((1 - frac) g[t + steps, b, j] + frac g[t + steps + 1, b, j])."""
    T, B, _ = g.shape
    for b in prange(B):
        for t in range(T):
            for i in range(w.shape[0]):
                grad_x[t, b, i] = _input_grad(g, w, steps, frac, t, b, i)
