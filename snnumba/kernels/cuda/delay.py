"""CUDA twins of ``kernels/cpu/delay.py`` (formulas there): one thread per output element."""
from numba import cuda

from .. import columns
from ._launch import grid

_delayed = cuda.jit(device=True)(columns.delayed_input)
_input_grad = cuda.jit(device=True)(columns.delayed_input_grad_value)


@cuda.jit
def _delayed_matmul(x, w, steps, frac, out):
    T, B, I = x.shape
    J = w.shape[1]
    k = cuda.grid(1)
    if k < T * B * J:
        j = k % J
        b = (k // J) % B
        t = k // (J * B)
        acc = 0.0
        for i in range(I):
            acc += w[i, j] * _delayed(x, t, b, i, steps[i, j], frac[i, j])
        out[t, b, j] = acc


@cuda.jit
def _delayed_weight_grad(x, g, steps, frac, grad_w):
    T, B, I = x.shape
    J = g.shape[2]
    k = cuda.grid(1)
    if k < I * J:
        i = k // J
        j = k % J
        acc = 0.0
        for t in range(T):
            for b in range(B):
                acc += g[t, b, j] * _delayed(x, t, b, i, steps[i, j], frac[i, j])
        grad_w[i, j] += acc


@cuda.jit
def _delayed_input_grad(g, w, steps, frac, grad_x):
    T, B, I = grad_x.shape
    k = cuda.grid(1)
    if k < T * B * I:
        i = k % I
        b = (k // I) % B
        t = k // (I * B)
        grad_x[t, b, i] = _input_grad(g, w, steps, frac, t, b, i)


def delayed_matmul(x, w, steps, frac, out):
    _delayed_matmul[grid(out.size)](x, w, steps, frac, out)


def delayed_weight_grad(x, g, steps, frac, grad_w):
    _delayed_weight_grad[grid(grad_w.size)](x, g, steps, frac, grad_w)


def delayed_input_grad(g, w, steps, frac, grad_x):
    _delayed_input_grad[grid(grad_x.size)](g, w, steps, frac, grad_x)
