"""Leaky-readout dynamics and their backprop-through-time, time-major [T, B, N], and the
(batch row, block of neurons) work items that the neuron kernels (``neuron.py``) share.

Leaky readout::

    v[t+1] = alpha * v[t] + h[t]

``v_out[0]`` is ``v0``; ``v_final`` gets ``v[T]``. Backward: ``gh[t] = gv[t+1]``,
``gv[t] = grad_v[t] + alpha * gv[t+1]``.

Work is split into (batch row, block of neurons) items, each running the whole time loop
for its block with the state in local arrays (in cache), so one sample still keeps every
core busy and the inner loop runs over contiguous neurons (vectorised). Blocks are as long
as the thread count allows (``block_size``): one long contiguous run per step streams
from memory faster than many short ones (measured single-threaded on a shared host, N =
100 000: 0.46e9 neuron-steps/s at 1024 neurons per block, 0.63e9 at 16 384). Each item
writes only its own neurons and every neuron's arithmetic is the same whatever the
blocks, so the result does not depend on the thread count. For the same reason, rows
shorter than a block are first joined into one row of ``B * N`` neurons (``rows_as_one``)
where the dynamics allow it (no recurrence, no per-neuron constants).

The public names are thin launchers, as in the CUDA twin: they pick the block size from
the thread count (``numba.get_num_threads`` inside a kernel would make it uncacheable)
and call the compiled ``_kernel`` with it.
"""
import numba
import numpy as np
from numba import njit, prange

from ._compile import PARALLEL_KERNEL, ParallelWithSerialTwin

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


def rows_as_one(*arrays):
    """``[..., B, N]`` arrays as ``[..., 1, B * N]`` views when a row is shorter than MIN_BLOCK,
    for dynamics in which every (batch row, neuron) evolves on its own: the work items are
    then whole blocks, not short rows (flagship BPTT, 64 rows of 30 neurons: 0.95 -> 0.37
    ms, the same bits). Unchanged when the rows are long enough, or when one array is not
    C-contiguous (a reshape would copy it and lose the kernel's writes)."""
    B, N = arrays[0].shape[-2:]
    if N >= MIN_BLOCK or B == 1 or not all(a.flags.c_contiguous for a in arrays):
        return arrays
    return tuple(a.reshape(a.shape[:-2] + (1, B * N)) for a in arrays)


@njit(inline="always", cache=True)
def _block(job, n_blocks, size, n):
    """Batch row and neuron range ``[start, stop)`` of work item ``job``. The range is
    unsigned: Numba then indexes without its negative-index wraparound, which keeps the
    inner loops vectorised (signed offsets measured 2-3x slower)."""
    b = job // n_blocks
    start = (job - b * n_blocks) * size
    return b, np.uint64(start), np.uint64(min(start + size, n))


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


# Small calls serial: the first kernel of a backward pass, it finds the other threads
# asleep after the loss. Flagship (100 x 64 x 12), in an epoch: 199 -> 35 us a call, the
# backward pass as a whole unchanged (its next parallel kernel wakes the threads instead),
# and 1.2 -> 0.6 s of compiling in the cold start's helper.
@ParallelWithSerialTwin
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


def readout_forward(h, alpha, v0, v_out, v_final):
    """Leaky readout forward. h, v_out: [T, B, N]; v0, v_final: [B, N]."""
    h, v0, v_out, v_final = rows_as_one(h, v0, v_out, v_final)
    _readout_forward(h, alpha, v0, v_out, v_final, block_size(*h.shape[1:]))


def readout_backward(alpha, grad_v, grad_h):
    """Leaky readout BPTT: gh[t] = gv[t+1], gv[t] = grad_v[t] + alpha * gv[t+1]."""
    grad_v, grad_h = rows_as_one(grad_v, grad_h)
    _readout_backward(alpha, grad_v, grad_h, block_size(*grad_v.shape[1:]))
