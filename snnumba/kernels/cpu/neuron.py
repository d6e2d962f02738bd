"""The neuron family (LIF, IF, current-based, adaptive, recurrent) and its BPTT, [T, B, N].

One step of one neuron is ``kernels/neuron_step.py`` (equations there and in
``snnumba.neurons``); these kernels run it over time, batch and neurons. Arguments:

- ``h [T, B, N]``: input current; ``recurrent_weight [N, N]`` (``[pre, post]``) or
  ``[0, 0]``: not recurrent. The recurrent input ``r[t] = z[t-1] @ V`` sums the rows of V
  of the neurons that spiked at t-1 (``z[-1] = z0``).
- per-neuron constants ``[N]``: ``alpha`` (membrane decay; ``[1]``: the same for all),
  ``alpha_syn`` (synaptic decay;
  zero length: no synapse), ``rho`` (adaptation decay; zero length: no adaptation),
  ``adapt_strength``; ``threshold [B, N]``; ``reset``, ``timing``: codes of
  ``neuron_step.RESETS``, ``TIMINGS``.
- state before the first step ``v0, s0, i0, a0, z0 [B, N]`` (spikes uint8) and after the
  last ``v_final, ...``; ``i``, ``a``, ``z`` are read and written only when the synapse,
  the adaptation, the recurrence is there.
- recordings ``[T, B, N]``: ``v_out`` the tested membrane (zero steps: nothing recorded,
  evaluation mode), ``s_out`` the output spikes z, ``i_out``, ``a_out`` the synaptic
  current and adaptation before each step (zero steps when absent or not recorded),
  ``x_out`` the total input ``h + r`` (recurrent layers in training mode, else zero steps).

The backward pass reads the recordings and gives dL/dh (``grad_h``; equal to dL/dx) and,
per (batch, neuron) summed over time, dL/dalpha, dL/dalpha_syn and dL/dthreshold (zero
length: not wanted). The recurrent weight's gradient ``dV = sum_t z[t-1]^T dL/dx[t]`` is
summed on the way where the caller passes ``grad_weight [N, N]`` (``fuses_weight_grad``
says when that pays), else left to the layer (a product on the shifted spikes).

The default model (reset to zero, delayed spike, no synapse, no adaptation, not recurrent)
runs kernels of its own (``_forward_default``, ``_backward_default``; a network of seed LIFs
compiles only those) with the same step compiled with those options as constants: the
arithmetic of the original LIF kernel, in the arrays' dtype (the float32 flagship's forward
pass is bit-identical), vectorised over the neurons of a work item. Other options run the
same step with the options as run-time values; large calls, with them as constants
(``FIXED_OPTIONS_MIN_SIZE``).
Non-recurrent work items are (batch row, block of neurons) (``block_size``); a
recurrent item is a group of whole batch rows (a row's neurons read each other's spikes
every step; ``group_rows``). Each item writes only its own elements, so results do not
depend on the thread count.
The backward pass runs in the layer's dtype (``scalar.as_like``; the trained constants'
sums over time in float64): in float32, a vector holds twice the lanes and nothing is
converted. The seed LIF's BPTT (T=500, B=128, N=1000, sigmoid) took 105-109 ms in float64
and 63-74 ms in float32 (alternating processes), its dL/dh within 4e-7 of the float64
one relative to the largest value.
"""
import functools

import numba
import numpy as np
from numba import njit, prange

from .. import neuron_step as _ns
from .._cache import caching_into_kernel_cache_dir
from ._compile import KERNEL, PARALLEL_KERNEL, as_like, surrogate_grad
from ._simd import BLOCK, add_block_rows
from .lif import _block, block_size, rows_as_one
from .sparse import CHUNK_COPIES_BYTES, add_chunk_copies, pack_blocks


_step, _grad_at = _ns.compiled(njit(inline="always", cache=True), surrogate_grad, as_like)

RESET_ZERO, DELAYED = _ns.RESET_ZERO, _ns.DELAYED

#: Calls of at least this many neuron-steps (T x B x N) of layers other than the default
#: model run kernels compiled with their options (reset, timing, synapse, adaptation,
#: surrogate, trained constants) as constants: loops without those branches, which LLVM
#: vectorises, compiled and cached once per option set. T=100, B=256, N=256: recurrent, the
#: BPTT loop 58 -> 10 ms, the forward 68 -> 46 ms; not recurrent (current-based, reset by
#: subtraction), the forward 34-37 -> 5-6 ms, the backward 56-61 -> 6-8 ms. Smaller calls
#: (unit tests, quick trials of many option sets) share one kernel with the options as
#: run-time values. Both give the same bits (tested).
FIXED_OPTIONS_MIN_SIZE = 1 << 16

#: The fixed kernels this process has made, by (factory name, options). Every later call
#: with those options runs them, whatever its size: a training run whose batches made them
#: then does not also compile the shared kernel (10-13 s each, cold) for a smaller last
#: batch. (``_cli_common.kernel_cache_counts`` reads their cache counts here.)
fixed_kernels = {}


def _compile_fixed(kernel):
    """A fixed-option kernel, compiled in parallel and cached with the module's kernels. Numba
    picks a kernel's cache folder when it is decorated, here long after the import's block
    (``kernels/_cache.py``): outside it they were cached beside the sources, keyed on this
    file alone, and served stale after a change to the helpers they inline."""
    with caching_into_kernel_cache_dir():
        return njit(**PARALLEL_KERNEL)(kernel)


def _fixed_kernel(factory, options, size=None):
    """``factory(*options)`` for a call of ``size`` neuron-steps, or None where it takes the
    kernel shared by all options (see FIXED_OPTIONS_MIN_SIZE); without ``size``, always."""
    key = (factory.__name__, options)
    if size is not None and size < FIXED_OPTIONS_MIN_SIZE and key not in fixed_kernels:
        return None
    fixed_kernels[key] = factory(*options)
    return fixed_kernels[key]


#: The recurrent BPTT's batch rows per work item; fixed, not per thread, so that each
#: item's matrix product (whose rounding depends on its row count) and so the result do
#: not depend on the thread count.
RECURRENT_CHUNK_ROWS = 64
#: The recurrent forward's batch rows per work item, at most (``group_rows``): a group
#: steps through time together, each block of V's columns added into all its rows while in
#: L1 (``_simd.add_block_rows``). RecurrentLIF's forward, T=100, B=256, N=256 at 33 %
#: spikes: groups of 8 rows 17.8 ms, 16: 18.7, 32: 17.4, 64: 17.6; a row at a time, whole
#: rows of V from L2, 24-30 ms (alternating processes).
RECURRENT_GROUP_ROWS = 32
#: The recurrent BPTT sums dV itself (``fuses_weight_grad``) at spike densities in this
#: range: each chunk of rows adds its rows of dL/dx into dV while they are in the core's
#: cache, at the cost of listing the chunk's spikes input by input every step. Apart, dV
#: is a product on the shifted spikes (event-driven below ``layers.EVENT_DENSITY_THRESHOLD``,
#: else dense). RecurrentLIF's backward, T=100, B=256, N=256, alternating in one process
#: (in the BPTT / apart): 0.8 %: 38.3 / 33.9 ms, 5 %: 41.3 / 40.2, 16 %: 42.6 / 56.8,
#: 26 %: 43.7 / 55.1, 48 %: 47.9 / 57.7, 77 %: 55.3 / 56.0, 97 %: 59.3 / 58.5.
FUSED_WEIGHT_GRAD_DENSITIES = (0.1, 0.8)


def group_rows(batch):
    """Batch rows per work item of the recurrent forward: RECURRENT_GROUP_ROWS, or fewer so
    that every Numba thread has an item. Each row's sums keep their order in any group, so
    the bits do not depend on it."""
    return max(1, min(RECURRENT_GROUP_ROWS, -(-batch // numba.get_num_threads())))


def fuses_weight_grad(s, itemsize):
    """Whether the recurrent BPTT should sum dV itself for the spikes ``s [T, B, N]`` of
    a layer of ``itemsize``-byte floats: at densities in FUSED_WEIGHT_GRAD_DENSITIES, and
    when its chunks' copies of dV fit in ``sparse.CHUNK_COPIES_BYTES``."""
    T, B, N = s.shape
    if -(-B // RECURRENT_CHUNK_ROWS) * N * N * itemsize > CHUNK_COPIES_BYTES:
        return False
    low, high = FUSED_WEIGHT_GRAD_DENSITIES
    return bool(low * s.size <= np.count_nonzero(s) < high * s.size)


@njit(inline="always", cache=True)
def _block_steps(x, t, b, start, stop, state, s, const, v_out, s_out, i_out, a_out, reset, timing, syn, adapt,
                 record, uniform):
    """Step t of the neurons [start, stop) of row b, whose input is ``x[N]`` (the row's
    ``h[t, b]``, or its total input when recurrent). ``state[3, n]`` holds their v, i, a,
    ``s[n]`` their spike flags, ``const[5, n]`` their alpha, alpha_syn, rho, beta,
    threshold (2-D arrays, not tuples of arrays: parfors lose writes through those).
    Called with constant options in the default model, so that the loop compiles without
    their branches. ``uniform``: every neuron has the same alpha (read once, not per neuron:
    measured 10-15 % faster on the seed's LIF)."""
    v, i, a = state[0], state[1], state[2]
    al, al_syn, rho, beta, th = const[0], const[1], const[2], const[3], const[4]
    for n in range(start, stop):
        k = n - start
        if record:
            if syn:
                i_out[t, b, n] = i[k]
            if adapt:
                a_out[t, b, n] = a[k]
        z, m, v_k, s_k, i_k, a_k = _step(x[n], v[k], s[k], i[k], a[k], al[0] if uniform else al[k], al_syn[k], rho[k], beta[k],
                                         th[k], reset, timing, syn, adapt)
        v[k] = v_k
        s[k] = s_k
        if syn:                            # stores only where the state exists: the
            i[k] = i_k                     # default loop stays as lean as the seed's
        if adapt:
            a[k] = a_k
        if record:
            v_out[t, b, n] = m
        s_out[t, b, n] = z


@njit(**KERNEL)
def _copy_into(dst, src):
    """``dst[:] = src`` element by element: a slice assignment compiles Numba's shape-mismatch
    message with it, 3-5 s of a first run's compiling."""
    for k in range(dst.shape[0]):
        dst[k] = src[k]


@njit(inline="always", cache=True)
def _constants(alpha, alpha_syn, rho, adapt_strength, threshold, start, stop, syn, adapt):
    """``[5, stop - start]``: alpha, alpha_syn, rho, beta, threshold of the neurons [start,
    stop) (``threshold`` is one batch row), zeros for the absent ones."""
    const = np.zeros((5, stop - start), alpha.dtype)
    if alpha.shape[0] == 1:                # one alpha for all neurons
        const[0] = alpha[0]
    else:
        _copy_into(const[0], alpha[start:stop])
    if syn:
        _copy_into(const[1], alpha_syn[start:stop])
    if adapt:
        _copy_into(const[2], rho[start:stop])
        _copy_into(const[3], adapt_strength[start:stop])
    _copy_into(const[4], threshold[start:stop])
    return const


@njit(inline="always", cache=True)
def _initial(v0, i0, a0, start, stop, syn, adapt):
    """``[3, stop - start]``: v, i, a of one batch row's neurons [start, stop)."""
    state = np.zeros((3, stop - start), v0.dtype)
    _copy_into(state[0], v0[start:stop])
    if syn:
        _copy_into(state[1], i0[start:stop])
    if adapt:
        _copy_into(state[2], a0[start:stop])
    return state


@njit(inline="always", cache=True)
def _final(state, s, start, stop, v_final, s_final, i_final, a_final, syn, adapt):
    _copy_into(v_final[start:stop], state[0])
    _copy_into(s_final[start:stop], s)
    if syn:
        _copy_into(i_final[start:stop], state[1])
    if adapt:
        _copy_into(a_final[start:stop], state[2])


@njit(**PARALLEL_KERNEL)
def _forward_default(h, alpha, alpha_syn, rho, adapt_strength, threshold, v0, s0, i0, a0, v_out, s_out, i_out,
                     a_out, v_final, s_final, i_final, a_final, size):
    """``_forward_blocks`` for the default model (the seed's LIF, one alpha), its options as
    constants: a kernel of its own, so that a network of seed LIFs compiles only this small
    loop, not the general one (flagship's first run: 58 s of compiling with both in one)."""
    T, B, N = h.shape
    record = v_out.shape[0] != 0
    n_blocks = (N + size - 1) // size
    for job in prange(B * n_blocks):
        b, start, stop = _block(job, n_blocks, size, N)
        state = _initial(v0[b], i0[b], a0[b], start, stop, False, False)
        s = s0[b, start:stop].copy()
        const = _constants(alpha, alpha_syn, rho, adapt_strength, threshold[b], start, stop, False, False)
        for t in range(T):
            # one inlined copy for training and evaluation: a copy per case ran no faster
            # (in-process A/B, within 5 %) and took 15 % longer to compile
            _block_steps(h[t, b], t, b, start, stop, state, s, const, v_out, s_out, i_out, a_out,
                         0, 0, False, False, record, True)
        _final(state, s, start, stop, v_final[b], s_final[b], i_final[b], a_final[b], False, False)


@njit(inline="always", cache=True)
def _block_forward(h, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing, syn, adapt,
                   v0, s0, i0, a0, v_out, s_out, i_out, a_out, v_final, s_final, i_final, a_final, size):
    """The non-recurrent forward loop, compiled into ``_forward_blocks`` (options as run-time
    values) and ``_forward_blocks_fixed`` (as constants)."""
    T, B, N = h.shape
    record = v_out.shape[0] != 0
    n_blocks = (N + size - 1) // size
    for job in prange(B * n_blocks):
        b, start, stop = _block(job, n_blocks, size, N)
        state = _initial(v0[b], i0[b], a0[b], start, stop, syn, adapt)
        s = s0[b, start:stop].copy()
        const = _constants(alpha, alpha_syn, rho, adapt_strength, threshold[b], start, stop, syn, adapt)
        for t in range(T):
            _block_steps(h[t, b], t, b, start, stop, state, s, const, v_out, s_out, i_out, a_out,
                         reset, timing, syn, adapt, record, False)
        _final(state, s, start, stop, v_final[b], s_final[b], i_final[b], a_final[b], syn, adapt)


@njit(**PARALLEL_KERNEL)
def _forward_blocks(h, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing,
                    v0, s0, i0, a0, v_out, s_out, i_out, a_out, v_final, s_final, i_final, a_final, size):
    _block_forward(h, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing, alpha_syn.shape[0] != 0,
                   rho.shape[0] != 0, v0, s0, i0, a0, v_out, s_out, i_out, a_out, v_final, s_final, i_final,
                   a_final, size)


@functools.lru_cache(maxsize=None)
def _forward_blocks_fixed(reset, timing, syn, adapt):
    """``_block_forward`` compiled with these options as constants (as
    ``_forward_recurrent_fixed``)."""
    def kernel(h, alpha, alpha_syn, rho, adapt_strength, threshold, v0, s0, i0, a0, v_out, s_out, i_out, a_out,
               v_final, s_final, i_final, a_final, size):
        _block_forward(h, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing, syn, adapt,
                       v0, s0, i0, a0, v_out, s_out, i_out, a_out, v_final, s_final, i_final, a_final, size)
    return _compile_fixed(kernel)


@njit(inline="always", cache=True)
def _recurrent_steps(h, weight, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing, syn, adapt,
                     v0, s0, i0, a0, z0, v_out, s_out, i_out, a_out, x_out,
                     v_final, s_final, i_final, a_final, z_final, rows):
    """The recurrent forward loop, compiled into ``_forward_recurrent`` (options as run-time
    values) and ``_forward_recurrent_fixed`` (as constants); ``rows`` per work item."""
    T, B, N = h.shape
    record = v_out.shape[0] != 0
    record_x = x_out.shape[0] != 0
    # groups of rows step through time together (RECURRENT_GROUP_ROWS)
    n_blocks = (N + BLOCK - 1) // BLOCK
    width = n_blocks * BLOCK
    packed = np.empty(N * width, weight.dtype)
    pack_blocks(weight, packed, 0)
    for c in prange((B + rows - 1) // rows):
        lo = c * rows
        G = min(B, lo + rows) - lo
        state = np.empty((G, 3, N), h.dtype)
        s = np.empty((G, N), s0.dtype)
        const = np.empty((G, 5, N), alpha.dtype)
        for q in range(G):
            state_q = _initial(v0[lo + q], i0[lo + q], a0[lo + q], 0, N, syn, adapt)
            const_q = _constants(alpha, alpha_syn, rho, adapt_strength, threshold[lo + q], 0, N, syn, adapt)
            for k in range(3):
                _copy_into(state[q, k], state_q[k])
            for k in range(5):
                _copy_into(const[q, k], const_q[k])
            _copy_into(s[q], s0[lo + q])
        r = np.empty(G * width, h.dtype)   # r = z[t-1] @ V, row q from q * width
        active = np.empty(G * N, np.int64)  # the neurons that spiked at t-1, row after row
        offsets = np.zeros(G + 1, np.int64)
        x_row = np.empty(N, h.dtype)       # the total input, where x_out does not keep it
        for t in range(T):
            for q in range(G):
                z = z0[lo + q] if t == 0 else s_out[t - 1, lo + q]
                count = offsets[q]
                for j in range(N):
                    active[count] = j
                    count += z[j] != 0
                offsets[q + 1] = count
            r[:] = 0
            for block in range(n_blocks):
                for q in range(G):
                    add_block_rows(r, q * width + block * BLOCK, packed, block * N * BLOCK, active, offsets[q],
                                   offsets[q + 1])
            for q in range(G):
                b = lo + q
                x = x_out[t, b] if record_x else x_row
                h_row = h[t, b]
                for n in range(N):
                    x[n] = h_row[n] + r[q * width + n]
                # the neuron step in a loop of its own, as the non-recurrent layers run it, one
                # copy per value of ``record``: with the sum and the listing in its loop, or with
                # the flag read in it, the step ran 2-3x slower than there (T=100, B=256, N=256,
                # no spikes: 15-17 -> 10.5-12 ms; 40 % spikes: 41-45 -> 37-39 ms)
                if record:
                    _block_steps(x, t, b, 0, N, state[q], s[q], const[q], v_out, s_out, i_out, a_out, reset,
                                 timing, syn, adapt, True, False)
                else:
                    _block_steps(x, t, b, 0, N, state[q], s[q], const[q], v_out, s_out, i_out, a_out, reset,
                                 timing, syn, adapt, False, False)
        for q in range(G):
            b = lo + q
            _final(state[q], s[q], 0, N, v_final[b], s_final[b], i_final[b], a_final[b], syn, adapt)
            _copy_into(z_final[b], z0[b] if T == 0 else s_out[T - 1, b])


@njit(**PARALLEL_KERNEL)
def _forward_recurrent(h, weight, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing, syn, adapt,
                       v0, s0, i0, a0, z0, v_out, s_out, i_out, a_out, x_out,
                       v_final, s_final, i_final, a_final, z_final, rows):
    _recurrent_steps(h, weight, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing, syn, adapt,
                     v0, s0, i0, a0, z0, v_out, s_out, i_out, a_out, x_out,
                     v_final, s_final, i_final, a_final, z_final, rows)


@functools.lru_cache(maxsize=None)
def _forward_recurrent_fixed(reset, timing, syn, adapt):
    """``_recurrent_steps`` compiled with these options as constants (closure variables: Numba
    compiles and caches one kernel per option set)."""
    def kernel(h, weight, alpha, alpha_syn, rho, adapt_strength, threshold, v0, s0, i0, a0, z0,
               v_out, s_out, i_out, a_out, x_out, v_final, s_final, i_final, a_final, z_final, rows):
        _recurrent_steps(h, weight, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing, syn, adapt,
                         v0, s0, i0, a0, z0, v_out, s_out, i_out, a_out, x_out,
                         v_final, s_final, i_final, a_final, z_final, rows)
    return _compile_fixed(kernel)


def _is_default(reset, timing, alpha, alpha_syn, rho):
    """The seed's LIF: reset to zero, delayed spike, no synapse, no adaptation, one alpha."""
    return (reset == RESET_ZERO and timing == DELAYED and alpha_syn.shape[0] == 0 and rho.shape[0] == 0
            and alpha.shape[0] == 1)


def neuron_forward(h, recurrent_weight, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing,
                   v0, s0, i0, a0, z0, v_out, s_out, i_out, a_out, x_out,
                   v_final, s_final, i_final, a_final, z_final):
    """Forward pass of the neuron family (arguments in the module docstring)."""
    if recurrent_weight.shape[0] == 0 and _is_default(reset, timing, alpha, alpha_syn, rho):
        (h, threshold, v0, s0, i0, a0, v_out, s_out, i_out, a_out, v_final, s_final, i_final,
         a_final) = rows_as_one(h, np.ascontiguousarray(threshold), v0, s0, i0, a0, v_out, s_out, i_out, a_out,
                                v_final, s_final, i_final, a_final)
        _forward_default(h, alpha, alpha_syn, rho, adapt_strength, threshold, v0, s0, i0, a0, v_out, s_out,
                         i_out, a_out, v_final, s_final, i_final, a_final, block_size(*h.shape[1:]))
    elif recurrent_weight.shape[0] == 0:
        states = (v0, s0, i0, a0, v_out, s_out, i_out, a_out, v_final, s_final, i_final, a_final,
                  block_size(*h.shape[1:]))
        kernel = _fixed_kernel(_forward_blocks_fixed, (reset, timing, alpha_syn.shape[0] != 0, rho.shape[0] != 0),
                               h.size)
        if kernel is not None:
            kernel(h, alpha, alpha_syn, rho, adapt_strength, threshold, *states)
        else:
            _forward_blocks(h, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing, *states)
    else:
        options = (reset, timing, alpha_syn.shape[0] != 0, rho.shape[0] != 0)
        states = (v0, s0, i0, a0, z0, v_out, s_out, i_out, a_out, x_out, v_final, s_final, i_final, a_final,
                  z_final, group_rows(h.shape[1]))
        kernel = _fixed_kernel(_forward_recurrent_fixed, options, h.size)
        if kernel is not None:
            kernel(h, recurrent_weight, alpha, alpha_syn, rho, adapt_strength, threshold, *states)
        else:
            _forward_recurrent(h, recurrent_weight, alpha, alpha_syn, rho, adapt_strength, threshold, *options,
                               *states)


@njit(inline="always", cache=True)
def _grad_one(x, v_out, s_out, i_out, a_out, v0, s0, t, b, n, k, const, reset, timing, syn, adapt, code, slope,
              learn, gz, gm, carry, acc):
    """BPTT of step t of neuron n (row b, local index k): ``carry[4, :]`` holds dL/d(v, s,
    i, a after the step) and receives dL/d(state before it); ``acc[3, :]`` accumulates
    dL/d(alpha, alpha_syn, threshold) when ``learn``. Returns dL/dx."""
    gx, gv, gs, gi, ga, g_al, g_al_syn, g_th = _grad_at(
        x, v_out, s_out, i_out, a_out, v0, s0, t, b, n, const[0, k], const[1, k], const[2, k], const[3, k],
        const[4, k], reset, timing, syn, adapt, code, slope, gz, gm, carry[0, k], carry[1, k], carry[2, k],
        carry[3, k])
    carry[0, k] = gv
    carry[1, k] = gs
    if syn:                                # only what exists and is wanted: the default
        carry[2, k] = gi                   # loop stays as lean as the seed's
    if adapt:
        carry[3, k] = ga
    if learn:
        acc[0, k] += g_al
        acc[1, k] += g_al_syn
        acc[2, k] += g_th
    return gx


@njit(inline="always", cache=True)
def _block_grads(x, v_out, s_out, i_out, a_out, v0, s0, t, b, start, stop, const, reset, timing, syn, adapt, code,
                 slope, learn, grad_s, grad_v,
                 grad_h, carry, acc, use_grad_v):
    """Step t of the BPTT of the neurons [start, stop) of row b (constant options in the
    default model, as ``_block_steps``)."""
    for n in range(start, stop):
        # read always, then selected (the callers pass grad_s as a stand-in grad_v): read
        # only under the flag, the loop stayed scalar (A/B, sigmoid: 221 -> 195 ms)
        gm = grad_v[t, b, n]
        gm = gm if use_grad_v else as_like(0.0, gm)
        grad_h[t, b, n] = _grad_one(x, v_out, s_out, i_out, a_out, v0, s0, t, b, n, n - start, const, reset, timing,
                                    syn, adapt, code, slope, learn,
                                    grad_s[t, b, n], gm, carry, acc)


@njit(inline="always", cache=True)
def _write_grads(acc, b, start, stop, grad_alpha, grad_alpha_syn, grad_threshold):
    if grad_alpha.shape[0] != 0:
        _copy_into(grad_alpha[b, start:stop], acc[0])
    if grad_alpha_syn.shape[0] != 0:
        _copy_into(grad_alpha_syn[b, start:stop], acc[1])
    if grad_threshold.shape[0] != 0:
        _copy_into(grad_threshold[b, start:stop], acc[2])


@functools.lru_cache(maxsize=None)
def _backward_default(surrogate):
    """``_backward_blocks`` for the default model without trained constants, its options and
    the surrogate as constants: a kernel of its own, as ``_forward_default``, made for each
    surrogate at its first use. With the surrogate read at run time the LIF BPTT (T=500,
    B=128, N=1000, float32, sigmoid) took 117-119 ms against 104-105 ms with it constant
    (in one process). (``_backward_blocks_fixed`` with these options gives the same bits
    but has more to compile: the flagship's cold start took 7.5-10.2 s with it, 6.4-8.9 s
    with this kernel.)"""
    def kernel(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold, v0, s0, slope,
               grad_s, grad_v, grad_h, size):
        T, B, N = x.shape
        has_grad_v = grad_v.shape[0] != 0
        n_blocks = (N + size - 1) // size
        for job in prange(B * n_blocks):
            b, start, stop = _block(job, n_blocks, size, N)
            carry = np.zeros((4, stop - start), x.dtype)
            acc = np.zeros((3, stop - start))
            const = _constants(alpha, alpha_syn, rho, adapt_strength, threshold[b], start, stop, False, False)
            for t in range(T - 1, -1, -1):
                # one inlined copy of the step for both cases (grad_s stands in for a grad_v that is
                # never read): two copies, one per case, ran 7-8 % faster but took 19 s to compile, not 10
                _block_grads(x, v_out, s_out, i_out, a_out, v0, s0, t, b, start, stop, const,
                             0, 0, False, False, surrogate, slope, False, grad_s,
                             grad_v if has_grad_v else grad_s, grad_h, carry, acc, has_grad_v)
    return _compile_fixed(kernel)


@njit(inline="always", cache=True)
def _block_backward(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold,
                    reset, timing, syn, adapt, surrogate, learn, v0, s0, slope, grad_s, grad_v, grad_h,
                    grad_alpha, grad_alpha_syn, grad_threshold, size):
    """The non-recurrent BPTT loop, compiled into ``_backward_blocks`` (options as run-time
    values) and ``_backward_blocks_fixed`` (as constants)."""
    T, B, N = x.shape
    has_grad_v = grad_v.shape[0] != 0
    n_blocks = (N + size - 1) // size
    for job in prange(B * n_blocks):
        b, start, stop = _block(job, n_blocks, size, N)
        carry = np.zeros((4, stop - start), x.dtype)
        acc = np.zeros((3, stop - start))
        const = _constants(alpha, alpha_syn, rho, adapt_strength, threshold[b], start, stop, syn, adapt)
        for t in range(T - 1, -1, -1):
            _block_grads(x, v_out, s_out, i_out, a_out, v0, s0, t, b, start, stop, const,
                         reset, timing, syn, adapt, surrogate, slope, learn, grad_s,
                         grad_v if has_grad_v else grad_s, grad_h, carry, acc, has_grad_v)
        _write_grads(acc, b, start, stop, grad_alpha, grad_alpha_syn, grad_threshold)


@njit(**PARALLEL_KERNEL)
def _backward_blocks(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold,
                     reset, timing, syn, adapt, surrogate, learn, v0, s0, slope, grad_s, grad_v, grad_h,
                     grad_alpha, grad_alpha_syn, grad_threshold, size):
    _block_backward(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold,
                    reset, timing, syn, adapt, surrogate, learn, v0, s0, slope, grad_s, grad_v, grad_h,
                    grad_alpha, grad_alpha_syn, grad_threshold, size)


@functools.lru_cache(maxsize=None)
def _backward_blocks_fixed(reset, timing, syn, adapt, surrogate, learn):
    """``_block_backward`` compiled with these options as constants (as
    ``_forward_recurrent_fixed``)."""
    def kernel(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold, v0, s0, slope,
               grad_s, grad_v, grad_h, grad_alpha, grad_alpha_syn, grad_threshold, size):
        _block_backward(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold,
                        reset, timing, syn, adapt, surrogate, learn, v0, s0, slope, grad_s, grad_v, grad_h,
                        grad_alpha, grad_alpha_syn, grad_threshold, size)
    return _compile_fixed(kernel)


@njit(inline="always", cache=True)
def _add_spike_rows_by_input(z, g, lo, hi, dv, first, offsets, rows, packed):
    """``dv[first + i] += g[b]`` for every spike ``z[b, i]`` of the rows b in [lo, hi), in
    increasing b. The rows are listed by input (``offsets``, ``rows``) and g's rows packed
    in blocks of columns (``packed``); each block is then added into every row of dv while
    it is in L1 (``add_block_rows``; dv's rows padded to whole blocks). T=100, B=256,
    N=256 at 33 % spikes, the BPTT with dV against without: +23-25 ms with whole rows
    (``add_rows``), +15-20 ms so."""
    N = z.shape[1]
    count = 0
    for i in range(N):
        offsets[i] = count
        for b in range(lo, hi):
            rows[count] = b - lo
            count += z[b, i] != 0
    offsets[N] = count
    pack_blocks(g[lo:hi], packed, 0)
    width = dv.shape[1]
    for block in range(width // BLOCK):
        for i in range(N):
            add_block_rows(dv, (first + i) * width + block * BLOCK, packed, block * (hi - lo) * BLOCK, rows,
                           offsets[i], offsets[i + 1])


@njit(inline="always", cache=True)
def _recurrent_grads(x, weight, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold,
                     reset, timing, syn, adapt, surrogate, learn, v0, s0, slope, grad_s, grad_v, grad_h,
                     grad_alpha, grad_alpha_syn, grad_threshold, z0, grad_weight):
    """The recurrent BPTT loop, compiled into ``_backward_recurrent`` (options as run-time
    values) and ``_backward_recurrent_fixed`` (as constants). Adds dV into ``grad_weight``
    unless it has zero rows."""
    T, B, N = x.shape
    has_grad_v = grad_v.shape[0] != 0
    # Time runs outside, the batch rows in parallel inside: each step's dL/dz[t-1] = V @ dL/dx[t]
    # is then a matrix product over a chunk of rows (BLAS reuses V from cache across rows;
    # a matrix-vector product per row re-read all of V per row and step: 4x slower at N = 256)
    weight_t = np.ascontiguousarray(weight.T)
    carry = np.zeros((B, 4, N), x.dtype)
    acc = np.zeros((B, 3, N))
    const = np.empty((B, 5, N), alpha.dtype)
    for b in prange(B):
        const_b = _constants(alpha, alpha_syn, rho, adapt_strength, threshold[b], 0, N, syn, adapt)
        for k in range(5):
            _copy_into(const[b, k], const_b[k])
    g_rec = np.zeros((B, N), weight.dtype)  # dL/dz[t] through the recurrence: V @ dL/dx[t+1]
    gx = np.empty((B, N), weight.dtype)
    n_chunks = (B + RECURRENT_CHUNK_ROWS - 1) // RECURRENT_CHUNK_ROWS
    # dV: each chunk of rows into its own copy (stacked [n_chunks * N, N], the rows padded to
    # whole blocks), summed in chunk order at the end, so the bits do not depend on the threads
    fuse = grad_weight.shape[0] != 0
    copies = np.zeros((n_chunks * N if fuse else 0, -(-N // BLOCK) * BLOCK), weight.dtype)
    # each chunk's spikes listed by input, and its rows of dL/dx in blocks of columns
    chunks = n_chunks if fuse else 0
    list_offsets = np.empty((chunks, N + 1), np.int64)
    list_rows = np.empty((chunks, N * RECURRENT_CHUNK_ROWS), np.int64)
    packed = np.empty((chunks, RECURRENT_CHUNK_ROWS * copies.shape[1]), weight.dtype)
    for t in range(T - 1, -1, -1):
        # chunks of rows, the row's views taken once per row (a prange over the rows with views
        # per neuron ran this loop 1.7x slower); each chunk's product right after its rows:
        # every core multiplies (T=100, B=256, N=256: 67 -> 40-50 ms, one product: 44 -> 28 ms)
        for c in prange(n_chunks):
            lo = c * RECURRENT_CHUNK_ROWS
            hi = min(B, lo + RECURRENT_CHUNK_ROWS)
            for b in range(lo, hi):
                carry_b, acc_b, const_b = carry[b], acc[b], const[b]
                for n in range(N):
                    gm = grad_v[t, b, n] if has_grad_v else as_like(0.0, x[t, b, n])
                    g = _grad_one(x, v_out, s_out, i_out, a_out, v0, s0, t, b, n, n, const_b, reset, timing, syn,
                                  adapt, surrogate, slope, learn,
                                  grad_s[t, b, n] + g_rec[b, n], gm, carry_b, acc_b)
                    gx[b, n] = g
                    grad_h[t, b, n] = g
            if t > 0:  # dL/dz[-1] (the initial spikes) is not wanted
                np.dot(gx[lo:hi], weight_t, g_rec[lo:hi])
            if fuse:
                _add_spike_rows_by_input(z0 if t == 0 else s_out[t - 1], gx, lo, hi, copies, c * N, list_offsets[c],
                                         list_rows[c], packed[c])
    for b in prange(B):
        _write_grads(acc[b], b, 0, N, grad_alpha, grad_alpha_syn, grad_threshold)
    if fuse:  # a serial loop: one parallel loop less to compile, and N * N * n_chunks additions are few
        for i in range(N):
            add_chunk_copies(copies, n_chunks, i, grad_weight[i])


@njit(**PARALLEL_KERNEL)
def _backward_recurrent(x, weight, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength,
                        threshold, reset, timing, syn, adapt, surrogate, learn, v0, s0, slope, grad_s, grad_v,
                        grad_h, grad_alpha, grad_alpha_syn, grad_threshold, z0, grad_weight):
    _recurrent_grads(x, weight, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold,
                     reset, timing, syn, adapt, surrogate, learn, v0, s0, slope, grad_s, grad_v, grad_h,
                     grad_alpha, grad_alpha_syn, grad_threshold, z0, grad_weight)


@functools.lru_cache(maxsize=None)
def _backward_recurrent_fixed(reset, timing, syn, adapt, surrogate, learn):
    """``_recurrent_grads`` compiled with these options as constants (as
    ``_forward_recurrent_fixed``)."""
    def kernel(x, weight, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold, v0, s0,
               slope, grad_s, grad_v, grad_h, grad_alpha, grad_alpha_syn, grad_threshold, z0, grad_weight):
        _recurrent_grads(x, weight, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold,
                         reset, timing, syn, adapt, surrogate, learn, v0, s0, slope, grad_s, grad_v, grad_h,
                         grad_alpha, grad_alpha_syn, grad_threshold, z0, grad_weight)
    return _compile_fixed(kernel)


def neuron_backward(x, recurrent_weight, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength,
                    threshold, reset, timing, v0, s0, surrogate, slope, grad_s, grad_v, grad_h,
                    grad_alpha, grad_alpha_syn, grad_threshold, z0=None, grad_weight=None):
    """BPTT of the neuron family. ``x``: the input the forward pass saw (``h``, or its
    ``x_out`` when recurrent); ``v_out .. a_out``, ``v0, s0``: its recordings and initial
    state; ``grad_s``, ``grad_v`` [T, B, N]: dL/dz and dL/d(recorded membrane) (grad_v
    may have zero steps: zero). Writes ``grad_h`` and, where not of zero length, the
    per-(batch, neuron) ``grad_alpha``, ``grad_alpha_syn``, ``grad_threshold`` [B, N].
    Recurrent only: adds dV into ``grad_weight [N, N]`` when given, with the initial
    spikes ``z0 [B, N]``."""
    wanted = grad_alpha.shape[0] + grad_alpha_syn.shape[0] + grad_threshold.shape[0]
    if recurrent_weight.shape[0] == 0 and _is_default(reset, timing, alpha, alpha_syn, rho) and not wanted:
        x, v_out, s_out, i_out, a_out, threshold, v0, s0, grad_s, grad_v, grad_h = rows_as_one(
            x, v_out, s_out, i_out, a_out, np.ascontiguousarray(threshold), v0, s0, grad_s, grad_v, grad_h)
        _fixed_kernel(_backward_default, (surrogate,))(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho,
                                                      adapt_strength, threshold, v0, s0, slope, grad_s, grad_v,
                                                      grad_h, block_size(*x.shape[1:]))
        return
    options = (reset, timing, alpha_syn.shape[0] != 0, rho.shape[0] != 0, surrogate, wanted != 0)
    if recurrent_weight.shape[0] == 0:
        recorded = (x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold)
        grads = (v0, s0, slope, grad_s, grad_v, grad_h, grad_alpha, grad_alpha_syn, grad_threshold,
                 block_size(*x.shape[1:]))
        kernel = _fixed_kernel(_backward_blocks_fixed, options, x.size)
        if kernel is not None:
            kernel(*recorded, *grads)
        else:
            _backward_blocks(*recorded, *options, *grads)
    else:
        recorded = (x, recurrent_weight, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength,
                    threshold)
        if grad_weight is None:
            grad_weight, z0 = np.zeros((0, 0), recurrent_weight.dtype), s0
        grads = (v0, s0, slope, grad_s, grad_v, grad_h, grad_alpha, grad_alpha_syn, grad_threshold, z0, grad_weight)
        kernel = _fixed_kernel(_backward_recurrent_fixed, options, x.size)
        if kernel is not None:
            kernel(*recorded, *grads)
        else:
            _backward_recurrent(*recorded, *options, *grads)
