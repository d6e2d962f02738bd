"""CUDA twins of ``kernels/cpu/lif.py`` (equations there): one thread per (batch, neuron),
a loop over time inside; neighbouring threads read neighbouring neurons (coalesced)."""
from numba import cuda

from ._launch import grid, surrogate_grad


@cuda.jit
def _lif_forward(h, alpha, threshold, v0, s0, v_out, s_out, v_final, s_final):
    T, B, N = h.shape
    i = cuda.grid(1)
    if i >= B * N:
        return
    b = i // N
    n = i % N
    v_out[0, b, n] = v0[b, n]
    s_out[0, b, n] = s0[b, n]
    for t in range(T):
        v = v_out[t, b, n]
        s = s_out[t, b, n]
        a = alpha * v + h[t, b, n]
        v_next = a - a * s
        fired = v > threshold[b, n]
        if t + 1 < T:
            v_out[t + 1, b, n] = v_next
            s_out[t + 1, b, n] = fired
        else:
            v_final[b, n] = v_next
            s_final[b, n] = fired


@cuda.jit
def _lif_backward(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v, grad_h):
    T, B, N = h.shape
    i = cuda.grid(1)
    if i >= B * N:
        return
    b = i // N
    n = i % N
    gv_next = 0.0
    gs_next = 0.0
    for t in range(T - 1, -1, -1):
        s_t = float(s[t, b, n])
        v_t = float(v[t, b, n])
        a = alpha * v_t + h[t, b, n]
        keep = 1.0 - s_t
        gs_t = grad_s[t, b, n] - gv_next * a
        gv_t = (grad_v[t, b, n] + gv_next * alpha * keep
                + gs_next * surrogate_grad(surrogate, v_t - threshold[b, n], slope))
        grad_h[t, b, n] = gv_next * keep
        gv_next = gv_t
        gs_next = gs_t


@cuda.jit
def _readout_forward(h, alpha, v0, v_out, v_final):
    T, B, N = h.shape
    i = cuda.grid(1)
    if i >= B * N:
        return
    b = i // N
    n = i % N
    v_out[0, b, n] = v0[b, n]
    for t in range(T):
        v_next = alpha * v_out[t, b, n] + h[t, b, n]
        if t + 1 < T:
            v_out[t + 1, b, n] = v_next
        else:
            v_final[b, n] = v_next


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


def lif_forward(h, alpha, threshold, v0, s0, v_out, s_out, v_final, s_final):
    _lif_forward[grid(h.shape[1] * h.shape[2])](h, alpha, threshold, v0, s0, v_out, s_out,
                                                 v_final, s_final)


def lif_backward(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v, grad_h):
    _lif_backward[grid(h.shape[1] * h.shape[2])](h, v, s, alpha, threshold, surrogate, slope,
                                                  grad_s, grad_v, grad_h)


def readout_forward(h, alpha, v0, v_out, v_final):
    _readout_forward[grid(h.shape[1] * h.shape[2])](h, alpha, v0, v_out, v_final)


def readout_backward(alpha, grad_v, grad_h):
    _readout_backward[grid(grad_v.shape[1] * grad_v.shape[2])](alpha, grad_v, grad_h)
