"""CUDA twins of the leaky readout in ``kernels/cpu/lif.py``: one thread per (batch,
neuron) with its state in registers and the time loop inside; neighbouring threads read
neighbouring neurons (coalesced). The spiking neurons are ``neuron.py``."""
from numba import cuda

from ._launch import grid


@cuda.jit
def _readout_forward(h, alpha, v0, v_out, v_final):
    T, B, N = h.shape
    i = cuda.grid(1)
    if i >= B * N:
        return
    b = i // N
    n = i % N
    v = v0[b, n]
    for t in range(T):
        v_out[t, b, n] = v
        v = alpha * v + h[t, b, n]
    v_final[b, n] = v


@cuda.jit
def _readout_backward(alpha, grad_v, grad_h):
    T, B, N = grad_v.shape
    i = cuda.grid(1)
    if i >= B * N:
        return
    b = i // N
    n = i % N
    gv_next = 0.0
    for t in range(T - 1, -1, -1):
        grad_h[t, b, n] = gv_next
        gv_next = grad_v[t, b, n] + alpha * gv_next


def readout_forward(h, alpha, v0, v_out, v_final):
    _readout_forward[grid(h.shape[1] * h.shape[2])](h, alpha, v0, v_out, v_final)


def readout_backward(alpha, grad_v, grad_h):
    _readout_backward[grid(grad_v.shape[1] * grad_v.shape[2])](alpha, grad_v, grad_h)
