"""Spike clusters (STCA) and first spikes.

``spike_cluster`` runs the seed's algorithm in one pass over time, on blocks of
neighbouring neurons: each step reads a contiguous row ``v[t, lo:hi]`` and updates the
block's per-neuron state with selects, which vectorize across neurons. The k_positive
mask of step ``s`` needs the spikes up to ``s + T_in``, so step ``s`` is offered as a
candidate ``T_in`` steps late (that row is still in cache). The global minimum ``v_min``
that the seed masks with is not needed inside the pass: the kernel returns each neuron's
best candidate and column extremes, and the caller applies ``v_min``
(``functional.spike_cluster``).

Two measured pitfalls shape the code. The block's state lives in one array at offsets that
are compile-time constants, so LLVM can prove that its rows do not overlap and vectorizes
the loops over neurons (with separate arrays, or a 2-D array with run-time strides, it
could not). And each pass over the state applies four time steps, so the state is loaded
and stored once per four rows (about 3x faster than once per row; 2 or 8 were slower).
A scan of one neuron at a time reads ``v[:, n]`` with a stride of N and was 4x slower.
The CUDA twin runs one thread per neuron over the same steps (``kernels.columns``).
"""
import numpy as np
from numba import njit, prange

from .. import columns
from ._compile import KERNEL, PARALLEL_KERNEL

_start = njit(inline="always", cache=True)(columns.cluster_start)
_cluster = njit(inline="always", cache=True)(columns.cluster_step)
_extremes = njit(inline="always", cache=True)(columns.extremes_step)
_positive = njit(inline="always", cache=True)(columns.positive_step)
_finish = njit(inline="always", cache=True)(columns.cluster_finish)
_first_row = njit(inline="always", cache=True)(columns.first_spike_row)

#: Neurons per block of the CPU spike_cluster.
BLOCK = 256
#: Time steps applied per pass over a block's state (``_steps`` writes out that many).
UNROLL = 4
# offsets of the state rows in a block's state array (see columns.cluster_start)
COUNT, NUM, MIN_NUM, MIN_T, LAST, BEST, BEST_T, TOP, BOTTOM, PROBE = (k * BLOCK for k in range(10))
NSTATE = 10


@njit(inline="always", cache=True)
def _load(st, i):
    return (st[COUNT + i], st[NUM + i], st[MIN_NUM + i], st[MIN_T + i], st[LAST + i],
            st[BEST + i], st[BEST_T + i], st[TOP + i], st[BOTTOM + i], st[PROBE + i])


@njit(inline="always", cache=True)
def _store(st, i, state):
    (st[COUNT + i], st[NUM + i], st[MIN_NUM + i], st[MIN_T + i], st[LAST + i],
     st[BEST + i], st[BEST_T + i], st[TOP + i], st[BOTTOM + i], st[PROBE + i]) = state


@njit(**KERNEL)
def _cluster_row(v, threshold, lo, w, t, T_in, st):
    """Step t of the cluster count and the extremes, for neurons lo .. lo + w."""
    one, tf, tin = v.dtype.type(1), v.dtype.type(t), v.dtype.type(T_in)
    for i in range(w):
        x = v[t, lo + i]
        (st[COUNT + i], st[NUM + i], st[MIN_NUM + i], st[MIN_T + i], st[LAST + i]) = _cluster(
            x >= threshold[lo + i], tf, tin, one,
            st[COUNT + i], st[NUM + i], st[MIN_NUM + i], st[MIN_T + i], st[LAST + i])
        st[TOP + i], st[BOTTOM + i], st[PROBE + i] = _extremes(x, st[TOP + i], st[BOTTOM + i], st[PROBE + i])


@njit(**KERNEL)
def _positive_row(v, lo, w, s, T_in, st):
    """Offer step s as a k_positive candidate, for neurons lo .. lo + w."""
    sf, tin = v.dtype.type(s), v.dtype.type(T_in)
    for i in range(w):
        st[BEST + i], st[BEST_T + i] = _positive(v[s, lo + i], sf, tin, st[LAST + i], st[BEST + i], st[BEST_T + i])


@njit(inline="always", cache=True)
def _one_step(x, y, th, tf, tin, one, state):
    """Step tf of one neuron (value x), and step tf - T_in (value y) offered as a candidate."""
    count, num, min_num, min_t, last, best, best_t, top, bottom, probe = state
    count, num, min_num, min_t, last = _cluster(x >= th, tf, tin, one, count, num, min_num, min_t, last)
    top, bottom, probe = _extremes(x, top, bottom, probe)
    best, best_t = _positive(y, tf - tin, tin, last, best, best_t)
    return count, num, min_num, min_t, last, best, best_t, top, bottom, probe


@njit(**KERNEL)
def _steps(v, threshold, lo, w, t, T_in, st):
    """Steps t .. t + UNROLL - 1 of everything (candidates T_in steps late), t >= T_in.

    The rows are taken as views of the block first: indexing ``v[t, lo + i]`` directly,
    Numba's wraparound of a possibly negative index turned the loads into gathers (2-D
    indexing kept the loop at about half the speed)."""
    one, tf, tin = v.dtype.type(1), v.dtype.type(t), v.dtype.type(T_in)
    hi = lo + w
    th = threshold[lo:hi]
    x0, x1, x2, x3 = v[t, lo:hi], v[t + 1, lo:hi], v[t + 2, lo:hi], v[t + 3, lo:hi]
    y0, y1, y2, y3 = v[t - T_in, lo:hi], v[t + 1 - T_in, lo:hi], v[t + 2 - T_in, lo:hi], v[t + 3 - T_in, lo:hi]
    for i in range(w):
        state = _load(st, i)
        state = _one_step(x0[i], y0[i], th[i], tf, tin, one, state)
        state = _one_step(x1[i], y1[i], th[i], tf + one, tin, one, state)
        state = _one_step(x2[i], y2[i], th[i], tf + 2 * one, tin, one, state)
        state = _one_step(x3[i], y3[i], th[i], tf + 3 * one, tin, one, state)
        _store(st, i, state)


@njit(**PARALLEL_KERNEL)
def spike_cluster(v, threshold, T_in, n_o, k_positive, k_negative, extremes):
    """Per neuron of v [T, N]: n_o, k_positive (best candidate step), k_negative [N] and
    extremes [4, N] (best candidate value, column max, column min, NaN/inf probe)."""
    T, N = v.shape
    for block in prange((N + BLOCK - 1) // BLOCK):
        lo = block * BLOCK
        w = min(N, lo + BLOCK) - lo
        st = np.empty(NSTATE * BLOCK, v.dtype)
        for i in range(w):
            _store(st, i, _start(v, lo + i, T_in))
        head = min(T_in, T)
        for t in range(head):  # no step is settled yet
            _cluster_row(v, threshold, lo, w, t, T_in, st)
        t = head
        while t + UNROLL <= T:
            _steps(v, threshold, lo, w, t, T_in, st)
            t += UNROLL
        while t < T:
            _cluster_row(v, threshold, lo, w, t, T_in, st)
            _positive_row(v, lo, w, t - T_in, T_in, st)
            t += 1
        for s in range(max(T - T_in, 0), T):  # the last T_in steps: no spike follows them
            _positive_row(v, lo, w, s, T_in, st)
        for i in range(w):
            count, num, min_num, min_t, last, best, best_t, top, bottom, probe = _load(st, i)
            _finish(lo + i, T, count, num, min_num, min_t, last, best, best_t, top, bottom, probe,
                    n_o, k_positive, k_negative, extremes)


@njit(**PARALLEL_KERNEL)
def first_spike_index(spikes, out, finite):
    """out [R, T] (bool) marks each row's first spike of spikes [R, T]; finite [R] (bool)
    is False for rows holding a NaN or an infinity."""
    for r in prange(spikes.shape[0]):
        finite[r] = _first_row(spikes, r, out)


@njit(**KERNEL)
def mark_steps(steps, mask):
    """``mask[steps[n], n] = True`` where ``steps[n] >= 0``: spike_cluster's [T, N] outputs
    from its steps, on a zeroed mask (NumPy's fancy-index scatter for this took a third of
    the call at [1000, 10000]). Host-side, after either twin has found the steps."""
    for n in range(steps.shape[0]):
        if steps[n] >= 0:
            mask[steps[n], n] = True
