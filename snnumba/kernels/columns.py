"""Per-column scans shared by the CPU kernels and their CUDA twins.

Like ``scalar.py``, each function is plain Python (scalar arithmetic and array indexing)
compiled twice: ``njit(inline="always")`` in ``kernels/cpu`` and ``cuda.jit(device=True)``
in ``kernels/cuda``. A CPU ``prange`` iteration or a CUDA thread runs one column, or (the
``spike_cluster`` steps) the CPU applies a step to a block of neurons at once.
"""
import numpy as np


def cluster_start(v, n, T_in):
    """Initial per-neuron state of ``spike_cluster`` (floats in v's dtype), the seed's start
    values: ``(count, num, min_num, min_t, last, best, best_t, top, bottom, probe)``.

    ``count``: clusters so far; ``num``: spikes in the current cluster; ``min_num``, ``min_t``:
    the smallest finished cluster and its last spike; ``last``: the last spike (at
    ``-2 T_in`` before any, so ``T_in = 0`` behaves as the seed's does); ``best``, ``best_t``:
    the highest settled k_positive candidate and its step; ``top``, ``bottom``: the column's
    max and min; ``probe``: the sum of ``x - x``, NaN once a NaN or inf was read.
    """
    big = v.dtype.type(2 * v.shape[0])
    zero = v.dtype.type(0)
    return (zero, big, big, big, v.dtype.type(-2 * T_in), v.dtype.type(-np.inf), zero,
            v[0, n], v[0, n], zero)


def cluster_step(spike, t, T_in, one, count, num, min_num, min_t, last):
    """One step of the seed's cluster bookkeeping: a spike more than ``T_in`` steps after
    the last one opens a cluster (and closes the previous one, kept if it is the smallest
    so far: the first such on ties). Selects, not branches, so that loops vectorize."""
    new = spike & (t - last > T_in)
    take = new & (min_num > num)
    min_t = last if take else min_t
    min_num = num if take else min_num
    num = one if new else (num + one if spike else num)
    count = count + one if new else count
    last = t if spike else last
    return count, num, min_num, min_t, last


def extremes_step(x, top, bottom, probe):
    """Column max and min, and the NaN/inf probe (``x - x`` is 0 for finite x, else NaN)."""
    return max(top, x), min(bottom, x), probe + (x - x)


def positive_step(y, s, T_in, last, best, best_t):
    """Offer step ``s`` (value ``y``) as a k_positive candidate.

    A step qualifies when no spike lies within ``T_in`` steps of it (the seed sets ``v``
    there to ``v_min``). Call it once ``last`` holds every spike up to ``s + T_in``: then
    ``last >= s - T_in`` exactly when such a spike exists. ``>`` keeps the first maximum.
    """
    better = (last < s - T_in) & (y > best)
    return (y if better else best), (s if better else best_t)


def cluster_finish(n, T, count, num, min_num, min_t, last, best, best_t, top, bottom, probe,
                   n_o, k_positive, k_negative, extremes):
    """Write neuron ``n``'s results: the number of clusters, the best candidate step (the
    caller decides with the global minimum whether it counts), the last spike of the smallest
    cluster (-1 for none) and ``extremes[:, n] = (best, top, bottom, probe)``."""
    if num < min_num:  # the last cluster, still open, is the smallest
        min_t = last
    n_o[n] = count
    k_positive[n] = int(best_t)
    k_negative[n] = int(min_t) if 0 <= min_t < T else -1
    extremes[0, n] = best
    extremes[1, n] = top
    extremes[2, n] = bottom
    extremes[3, n] = probe


def first_spike_row(spikes, r, out):
    """``out[r] = (cumsum(cumsum(spikes[r])) == 1)``, the seed's rule, with the sums in
    float64; returns False where the row holds a NaN or an infinity.

    Leading zeros leave both sums at 0. Once the inner sum is >= 0 and the outer one > 1, a
    rest of finite non-negative values keeps the outer sum above 1, so that rest is False
    without the serial sums (for 0/1 spikes: right after the first spike).
    """
    T = spikes.shape[1]
    for u in range(T):
        out[r, u] = False
    t = 0
    while t + 32 <= T:  # skip leading zeros 32 at a time (the test vectorizes)
        nonzero = False
        for u in range(t, t + 32):
            nonzero |= spikes[r, u] != 0
        if nonzero:
            break
        t += 32
    c1 = np.float64(0.0)  # not 0.0: the CUDA simulator would sum float32 spikes in float32
    c2 = np.float64(0.0)
    finite = True
    while t < T and not (c2 > 1.0 and c1 >= 0.0):
        x = spikes[r, t]
        finite &= abs(x) < np.inf
        c1 += x
        c2 += c1
        out[r, t] = c2 == 1.0
        t += 1
    plain = True
    for u in range(t, T):
        plain &= (spikes[r, u] >= 0) & (spikes[r, u] < np.inf)
    if not plain:  # a negative value could bring the sums back to 1: run them
        for u in range(t, T):
            x = spikes[r, u]
            finite &= abs(x) < np.inf
            c1 += x
            c2 += c1
            out[r, u] = c2 == 1.0
    return finite


def delayed_input(x, t, b, i, s, f):
    """Input ``i`` of sample ``b`` seen at step ``t`` through a delay of ``s + f`` steps:
    ``(1 - f) x[t - s] + f x[t - s - 1]``, zero before step 0 (``kernels/cpu/delay.py``)."""
    a = x[t - s, b, i] if 0 <= t - s else 0.0
    c = x[t - s - 1, b, i] if 0 <= t - s - 1 else 0.0
    return (1.0 - f) * a + f * c


def delayed_input_grad_value(g, w, steps, frac, t, b, i):
    """dL/dx[t, b, i] of a delayed projection: ``sum_j w[i, j] ((1 - f) g[t + s] + f g[t + s + 1])``."""
    T = g.shape[0]
    acc = 0.0
    for j in range(g.shape[2]):
        s = t + steps[i, j]
        f = frac[i, j]
        a = g[s, b, j] if s < T else 0.0
        c = g[s + 1, b, j] if s + 1 < T else 0.0
        acc += w[i, j] * ((1.0 - f) * a + f * c)
    return acc
