"""LIF and leaky-readout dynamics and their backprop-through-time, time-major [T, B, N].

LIF, as in the sound-localization seed (one step of delay between membrane and spike)::

    a[t]   = alpha * v[t] + h[t]
    v[t+1] = a[t] * (1 - s[t])            reset to zero after a spike
    s[t+1] = H(v[t] - threshold)          H(x) = 1 if x > 0 else 0

Leaky readout::

    v[t+1] = alpha * v[t] + h[t]

``v[0], s[0]`` are the initial state; the kernels record ``v[0..T-1], s[0..T-1]`` and
write the state after the last step (``v[T], s[T]``) to ``v_final, s_final``.

Backward (``gv``, ``gs`` are total derivatives of the loss; ``gv[T] = gs[T] = 0``;
``sg`` is the surrogate derivative standing in for H')::

    gs[t] = grad_s[t] - gv[t+1] * a[t]
    gv[t] = grad_v[t] + gv[t+1] * alpha * (1 - s[t]) + gs[t+1] * sg(v[t] - threshold)
    gh[t] = gv[t+1] * (1 - s[t])

The forward runs in the arrays' dtype (so float32 results equal a float32 NumPy
transcription bit for bit); the backward accumulates in float64.
"""
import numpy as np
from numba import njit, prange

from ._compile import PARALLEL_KERNEL, surrogate_grad


@njit(**PARALLEL_KERNEL)
def lif_forward(h, alpha, threshold, v0, s0, v_out, s_out, v_final, s_final):
    """LIF forward. h, v_out, s_out: [T, B, N]; threshold, v0, s0, v_final, s_final: [B, N]."""
    T, B, N = h.shape
    for b in prange(B):
        for n in range(N):
            v_out[0, b, n] = v0[b, n]
            s_out[0, b, n] = s0[b, n]
        for t in range(T):
            for n in range(N):
                v = v_out[t, b, n]
                s = s_out[t, b, n]
                a = alpha * v + h[t, b, n]
                # a * (1 - s) without a literal that would promote float32 to float64
                v_next = a - a * s
                fired = v > threshold[b, n]
                if t + 1 < T:
                    v_out[t + 1, b, n] = v_next
                    s_out[t + 1, b, n] = fired
                else:
                    v_final[b, n] = v_next
                    s_final[b, n] = fired


@njit(**PARALLEL_KERNEL)
def lif_backward(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v, grad_h):
    """LIF BPTT. grad_s, grad_v: dL/ds, dL/dv recorded [T, B, N]; writes grad_h = dL/dh."""
    T, B, N = h.shape
    for b in prange(B):
        gv_next = np.zeros(N)
        gs_next = np.zeros(N)
        for t in range(T - 1, -1, -1):
            for n in range(N):
                s_t = np.float64(s[t, b, n])
                v_t = np.float64(v[t, b, n])
                a = alpha * v_t + h[t, b, n]
                keep = 1.0 - s_t
                gs_t = grad_s[t, b, n] - gv_next[n] * a
                gv_t = (grad_v[t, b, n] + gv_next[n] * alpha * keep
                        + gs_next[n] * surrogate_grad(surrogate, v_t - threshold[b, n], slope))
                grad_h[t, b, n] = gv_next[n] * keep
                gv_next[n] = gv_t
                gs_next[n] = gs_t


@njit(**PARALLEL_KERNEL)
def readout_forward(h, alpha, v0, v_out, v_final):
    """Leaky readout forward. h, v_out: [T, B, N]; v0, v_final: [B, N]."""
    T, B, N = h.shape
    for b in prange(B):
        for n in range(N):
            v_out[0, b, n] = v0[b, n]
        for t in range(T):
            for n in range(N):
                v_next = alpha * v_out[t, b, n] + h[t, b, n]
                if t + 1 < T:
                    v_out[t + 1, b, n] = v_next
                else:
                    v_final[b, n] = v_next


@njit(**PARALLEL_KERNEL)
def readout_backward(alpha, grad_v, grad_h):
    """Leaky readout BPTT: gh[t] = gv[t+1], gv[t] = grad_v[t] + alpha * gv[t+1]."""
    T, B, N = grad_v.shape
    for b in prange(B):
        gv_next = np.zeros(N)
        for t in range(T - 1, -1, -1):
            for n in range(N):
                grad_h[t, b, n] = gv_next[n]
                gv_next[n] = grad_v[t, b, n] + alpha * gv_next[n]
