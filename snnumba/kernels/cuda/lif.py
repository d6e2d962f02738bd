"""CUDA twins of ``kernels/cpu/lif.py`` (equations, uint8 spikes and the zero-step
``v_out`` / ``grad_v`` conventions there): one thread per (batch, neuron) with its state
in registers and the time loop inside; neighbouring threads read neighbouring neurons
(coalesced)."""
from numba import cuda, uint8

from ._launch import grid, surrogate_grad


@cuda.jit
def _lif_forward(h, alpha, threshold, v0, s0, v_out, s_out, v_final, s_final):
    T, B, N = h.shape
    i = cuda.grid(1)
    if i >= B * N:
        return
    b = i // N
    n = i % N
    record_v = v_out.shape[0] != 0
    v = v0[b, n]
    s = s0[b, n]
    th = threshold[b, n]
    for t in range(T):
        if record_v:
            v_out[t, b, n] = v
        s_out[t, b, n] = s
        a = alpha * v + h[t, b, n]
        fired = v > th
        v = a - a * s
        s = uint8(fired)  # stays uint8: float32 * int64 would promote to float64
    v_final[b, n] = v
    s_final[b, n] = s


@cuda.jit
def _lif_backward(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v, grad_h):
    T, B, N = h.shape
    i = cuda.grid(1)
    if i >= B * N:
        return
    b = i // N
    n = i % N
    has_grad_v = grad_v.shape[0] != 0
    th = threshold[b, n]
    gv_next = 0.0
    gs_next = 0.0
    for t in range(T - 1, -1, -1):
        v_t = float(v[t, b, n])
        a = alpha * v_t + h[t, b, n]
        keep = 1.0 - float(s[t, b, n])
        gs_t = grad_s[t, b, n] - gv_next * a
        g_v = grad_v[t, b, n] if has_grad_v else 0.0
        gv_t = g_v + gv_next * alpha * keep + gs_next * surrogate_grad(surrogate, v_t - th, slope)
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
