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
from memory faster than many short ones (measured single-threaded on a shared host, N =
100 000: 0.46e9 neuron-steps/s at 1024 neurons per block, 0.63e9 at 16 384). Each item
writes only its own neurons and every neuron's arithmetic is the same whatever the
blocks, so the result does not depend on the thread count.

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
    """Batch row and neuron range ``[start, stop)`` of work item ``job``. The range is
    unsigned: Numba then indexes without its negative-index wraparound, which keeps the
    inner loops vectorised (signed offsets measured 2-3x slower)."""
    b = job // n_blocks
    start = (job - b * n_blocks) * size
    return b, np.uint64(start), np.uint64(min(start + size, n))


@njit(inline="always", cache=True)
def _lif_step(h, alpha, t, b, start, stop, v, s, th, v_out, s_out, record_v):
    """Step t of one block; v, s, th hold the block's state and threshold. Called with a
    literal ``record_v`` so that each call compiles to a loop without the branch."""
    for n in range(start, stop):
        i = n - start
        if record_v:
            v_out[t, b, n] = v[i]
        s_out[t, b, n] = s[i]
        a = alpha * v[i] + h[t, b, n]
        fired = v[i] > th[i]
        # a * (1 - s) without a literal that would promote float32 to float64
        v[i] = a - a * s[i]
        s[i] = fired


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
                _lif_step(h, alpha, t, b, start, stop, v, s, th, v_out, s_out, True)
            else:
                _lif_step(h, alpha, t, b, start, stop, v, s, th, v_out, s_out, False)
        v_final[b, start:stop] = v
        s_final[b, start:stop] = s


@njit(inline="always", cache=True)
def _lif_backward_step(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v, grad_h,
                       t, b, start, stop, gv_next, gs_next, use_grad_v):
    """Step t of one block's BPTT; gv_next, gs_next hold gv[t+1], gs[t+1] and receive
    gv[t], gs[t]. Called with a literal ``use_grad_v`` (as ``_lif_step``)."""
    for n in range(start, stop):
        i = n - start
        v_t = np.float64(v[t, b, n])
        a = alpha * v_t + h[t, b, n]
        keep = 1.0 - np.float64(s[t, b, n])
        gs_t = grad_s[t, b, n] - gv_next[i] * a
        g_v = grad_v[t, b, n] if use_grad_v else 0.0
        gv_t = (g_v + gv_next[i] * alpha * keep
                + gs_next[i] * surrogate_grad(surrogate, v_t - threshold[b, n], slope))
        grad_h[t, b, n] = gv_next[i] * keep
        gv_next[i] = gv_t
        gs_next[i] = gs_t


@njit(**PARALLEL_KERNEL)
def _lif_backward(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v, grad_h, size):
    T, B, N = h.shape
    has_grad_v = grad_v.shape[0] != 0
    n_blocks = (N + size - 1) // size
    for job in prange(B * n_blocks):
        b, start, stop = _block(job, n_blocks, size, N)
        gv_next = np.zeros(stop - start)
        gs_next = np.zeros(stop - start)
        for t in range(T - 1, -1, -1):
            if has_grad_v:
                _lif_backward_step(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v, grad_h,
                                   t, b, start, stop, gv_next, gs_next, True)
            else:  # grad_s stands in for the grad_v that is never read
                _lif_backward_step(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_s, grad_h,
                                   t, b, start, stop, gv_next, gs_next, False)


@njit(**PARALLEL_KERNEL)
def _readout_forward(h, alpha, v0, v_out, v_final, size):
    T, B, N = h.shape
    n_blocks = (N + size - 1) // size
    for job in prange(B * n_blocks):
        b, start, stop = _block(job, n_blocks, size, N)
        # the recorded membrane is the state: no local copy
        for n in range(start, stop):
            v_out[0, b, n] = v0[b, n]
        for t in range(T - 1):
            for n in range(start, stop):
                v_out[t + 1, b, n] = alpha * v_out[t, b, n] + h[t, b, n]
        for n in range(start, stop):
            v_final[b, n] = alpha * v_out[T - 1, b, n] + h[T - 1, b, n]


@njit(**PARALLEL_KERNEL)
def _readout_backward(alpha, grad_v, grad_h, size):
    T, B, N = grad_v.shape
    n_blocks = (N + size - 1) // size
    for job in prange(B * n_blocks):
        b, start, stop = _block(job, n_blocks, size, N)
        gv_next = np.zeros(stop - start)
        for t in range(T - 1, -1, -1):
            for n in range(start, stop):
                i = n - start
                grad_h[t, b, n] = gv_next[i]
                gv_next[i] = grad_v[t, b, n] + alpha * gv_next[i]


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
