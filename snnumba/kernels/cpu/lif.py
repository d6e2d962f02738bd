"""LIF and leaky-readout dynamics and their backprop-through-time, time-major [T, B, N].

LIF, as in the sound-localization seed (one step of delay between membrane and spike)::

    a[t]   = alpha * v[t] + h[t]
    v[t+1] = a[t] * (1 - s[t])            reset to zero after a spike
    s[t+1] = H(v[t] - threshold)          H(x) = 1 if x > 0 else 0

Leaky readout::

    v[t+1] = alpha * v[t] + h[t]

``v[0], s[0]`` are the initial state; the kernels record ``v[0..T-1], s[0..T-1]`` and
write the state after the last step (``v[T], s[T]``) to ``v_final, s_final``. Spikes
(``s0``, ``s_out``, ``s_final``) are uint8 0/1. A ``v_out`` with zero steps
(``[0, B, N]``) records no membrane: evaluation mode, where only the spikes are wanted.

Backward (``gv``, ``gs`` are total derivatives of the loss; ``gv[T] = gs[T] = 0``;
``sg`` is the surrogate derivative standing in for H')::

    gs[t] = grad_s[t] - gv[t+1] * a[t]
    gv[t] = grad_v[t] + gv[t+1] * alpha * (1 - s[t]) + gs[t+1] * sg(v[t] - threshold)
    gh[t] = gv[t+1] * (1 - s[t])

A ``grad_v`` with zero steps stands for ``grad_v = 0`` (nothing to read).

The forward runs in the arrays' dtype (so float32 results equal a float32 NumPy
transcription bit for bit); the backward accumulates in float64.

Work is split into (batch row, block of neurons) items, each running the whole time loop
for its block with the state in local arrays (in cache), so one sample still keeps every
core busy and the inner loop runs over contiguous neurons (vectorised). Blocks are as long
as the thread count allows (``block_size``): one long contiguous run per step streams
from memory faster than many short ones (measured single-threaded, N = 100 000: 0.46e9
neuron-steps/s at 1024 neurons per block, 0.63e9 at 16 384). Each item writes only its
own neurons and every neuron's arithmetic is the same whatever the blocks, so the result
does not depend on the thread count.

The public names are thin launchers, as in the CUDA twin: they pick the block size from
the thread count (``numba.get_num_threads`` inside a kernel would make it uncacheable)
and call the compiled ``_kernel`` with it.
"""
import numba
import numpy as np
from numba import njit, prange

from ._compile import PARALLEL_KERNEL, surrogate_grad

#: Fewest and most neurons per work item: below MIN_BLOCK a step's run is too short to
#: stream well; above MAX_BLOCK the block's state (up to 20 bytes a neuron in the
#: backward pass) would no longer fit in the L2 cache.
MIN_BLOCK = 256
MAX_BLOCK = 16384
#: Work items per thread to aim for, so that items of uneven cost still even out.
ITEMS_PER_THREAD = 4


def block_size(batch, n):
    """Neurons per work item for ``batch`` rows of ``n`` neurons on the current Numba
    threads: ITEMS_PER_THREAD items per thread where the rows allow, within [MIN_BLOCK,
    MAX_BLOCK], in whole 64-neuron steps (no cache line of spikes is shared by two items)."""
    per_row = -(-ITEMS_PER_THREAD * numba.get_num_threads() // batch)
    size = min(MAX_BLOCK, max(MIN_BLOCK, -(-n // per_row)))
    return -(-size // 64) * 64


@njit(inline="always", cache=True)
def _block(job, n_blocks, size, n):
    """Batch row and neuron range ``[start, stop)`` of work item ``job``."""
    b = job // n_blocks
    start = (job - b * n_blocks) * size
    return b, start, min(start + size, n)


@njit(**PARALLEL_KERNEL)
def _lif_forward(h, alpha, threshold, v0, s0, v_out, s_out, v_final, s_final, size):
    T, B, N = h.shape
    record_v = v_out.shape[0] != 0
    n_blocks = (N + size - 1) // size
    for job in prange(B * n_blocks):
        b, start, stop = _block(job, n_blocks, size, N)
        v = v0[b, start:stop].copy()
        s = s0[b, start:stop].copy()
        th = threshold[b, start:stop].copy()
        for t in range(T):
            if record_v:
                v_out[t, b, start:stop] = v
            s_out[t, b, start:stop] = s
            h_t = h[t, b, start:stop]
            for i in range(stop - start):
                a = alpha * v[i] + h_t[i]
                fired = v[i] > th[i]
                # a * (1 - s) without a literal that would promote float32 to float64
                v[i] = a - a * s[i]
                s[i] = fired
        v_final[b, start:stop] = v
        s_final[b, start:stop] = s


@njit(**PARALLEL_KERNEL)
def _lif_backward(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v, grad_h, size):
    T, B, N = h.shape
    has_grad_v = grad_v.shape[0] != 0
    n_blocks = (N + size - 1) // size
    for job in prange(B * n_blocks):
        b, start, stop = _block(job, n_blocks, size, N)
        th = threshold[b, start:stop].copy()
        gv_next = np.zeros(stop - start)
        gs_next = np.zeros(stop - start)
        sg = np.empty(stop - start)
        g_v = np.zeros(stop - start)
        for t in range(T - 1, -1, -1):
            h_t, v_t, s_t = h[t, b, start:stop], v[t, b, start:stop], s[t, b, start:stop]
            gs_in, gh_t = grad_s[t, b, start:stop], grad_h[t, b, start:stop]
            # the surrogate (a branch on its code, maybe an exp) and grad_v in loops of
            # their own, so that the recurrence below vectorises
            for i in range(stop - start):
                sg[i] = surrogate_grad(surrogate, np.float64(v_t[i]) - th[i], slope)
            if has_grad_v:
                g_v[:] = grad_v[t, b, start:stop]
            for i in range(stop - start):
                vi = np.float64(v_t[i])
                a = alpha * vi + h_t[i]
                keep = 1.0 - np.float64(s_t[i])
                gs = gs_in[i] - gv_next[i] * a
                gv = g_v[i] + gv_next[i] * alpha * keep + gs_next[i] * sg[i]
                gh_t[i] = gv_next[i] * keep
                gv_next[i] = gv
                gs_next[i] = gs


@njit(**PARALLEL_KERNEL)
def _readout_forward(h, alpha, v0, v_out, v_final, size):
    T, B, N = h.shape
    n_blocks = (N + size - 1) // size
    for job in prange(B * n_blocks):
        b, start, stop = _block(job, n_blocks, size, N)
        v = v0[b, start:stop].copy()
        for t in range(T):
            v_out[t, b, start:stop] = v
            h_t = h[t, b, start:stop]
            for i in range(stop - start):
                v[i] = alpha * v[i] + h_t[i]
        v_final[b, start:stop] = v


@njit(**PARALLEL_KERNEL)
def _readout_backward(alpha, grad_v, grad_h, size):
    T, B, N = grad_v.shape
    n_blocks = (N + size - 1) // size
    for job in prange(B * n_blocks):
        b, start, stop = _block(job, n_blocks, size, N)
        gv_next = np.zeros(stop - start)
        for t in range(T - 1, -1, -1):
            gv_in, gh_t = grad_v[t, b, start:stop], grad_h[t, b, start:stop]
            for i in range(stop - start):
                gh_t[i] = gv_next[i]
                gv_next[i] = gv_in[i] + alpha * gv_next[i]


def lif_forward(h, alpha, threshold, v0, s0, v_out, s_out, v_final, s_final):
    """LIF forward. h, v_out, s_out: [T, B, N] (v_out may be [0, B, N]: not recorded);
    threshold, v0, s0, v_final, s_final: [B, N]; spikes uint8."""
    _lif_forward(h, alpha, threshold, v0, s0, v_out, s_out, v_final, s_final, block_size(*h.shape[1:]))


def lif_backward(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v, grad_h):
    """LIF BPTT. grad_s, grad_v: dL/ds, dL/dv recorded [T, B, N] (grad_v may be [0, B, N]:
    zero); writes grad_h = dL/dh."""
    _lif_backward(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v, grad_h,
                  block_size(*h.shape[1:]))


def readout_forward(h, alpha, v0, v_out, v_final):
    """Leaky readout forward. h, v_out: [T, B, N]; v0, v_final: [B, N]."""
    _readout_forward(h, alpha, v0, v_out, v_final, block_size(*h.shape[1:]))


def readout_backward(alpha, grad_v, grad_h):
    """Leaky readout BPTT: gh[t] = gv[t+1], gv[t] = grad_v[t] + alpha * gv[t+1]."""
    _readout_backward(alpha, grad_v, grad_h, block_size(*grad_v.shape[1:]))
