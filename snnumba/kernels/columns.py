"""Per-column scans shared by the CPU kernels and their CUDA twins.

Like ``scalar.py``, each function is plain Python (scalar arithmetic and array indexing)
compiled twice: ``njit(inline="always")`` in ``kernels/cpu`` and ``cuda.jit(device=True)``
in ``kernels/cuda``. A CPU ``prange`` iteration or a CUDA thread runs one column.
"""


def spike_cluster_column(v, n, threshold, T_in, v_min):
    """STCA spike clusters of neuron ``n`` of ``v[T, N]`` (SpikingFlow's algorithm).

    A spike is ``v >= threshold``. Spikes at most ``T_in`` steps apart share a cluster.
    Returns ``(N_o, k_positive, k_negative)``: the number of clusters, the step of the
    argmax of ``v`` over the steps more than ``T_in`` away from every spike (where a new
    spike would open a new cluster), and the last spike of the smallest cluster (the first
    such cluster on ties); -1 where the seed marks no step.
    The arithmetic follows the seed step for step, including its start values
    (last spike at ``-2 T_in``, next spike at ``T + 2 T_in``), so ``T_in = 0`` behaves as
    the seed's does.
    """
    T = v.shape[0]
    big = 2.0 * T
    n_o = 0.0
    spikes_num = big
    min_spikes_num = big
    min_spikes_num_t = big
    last_spike_t = -2.0 * T_in
    for t in range(T):
        spike = v[t, n] >= threshold
        delta_t = (t - last_spike_t) * (1.0 if spike else 0.0)
        new_cluster = delta_t > T_in
        same_cluster = delta_t <= T_in and spike
        if new_cluster and min_spikes_num > spikes_num:
            min_spikes_num_t = last_spike_t
            min_spikes_num = spikes_num
        if new_cluster:
            spikes_num = 1.0
            n_o += 1.0
        if same_cluster:
            spikes_num += 1.0
        if spike:
            last_spike_t = t
    if spikes_num < min_spikes_num:
        min_spikes_num = spikes_num
        min_spikes_num_t = last_spike_t

    # k_positive: argmax over t of v with spikes and steps within T_in of a spike set to
    # v_min (the minimum of the whole array); "next spike" comes from a lookahead pointer
    best = v_min
    best_t = 0
    any_above = False
    column_max = v[0, n]
    prev_spike = -2.0 * T_in
    ahead = 0
    for t in range(T):
        spike = v[t, n] >= threshold
        if ahead <= t:
            ahead = t + 1
            while ahead < T and not v[ahead, n] >= threshold:
                ahead += 1
        next_spike = ahead if ahead < T else T + 2.0 * T_in
        masked = spike or (t - prev_spike <= T_in) or (next_spike - t <= T_in)
        value = v_min if masked else v[t, n]
        if value > best:
            best = value
            best_t = t
        if value != v_min:
            any_above = True
        if v[t, n] > column_max:
            column_max = v[t, n]
        if spike:
            prev_spike = t
    # the seed keeps argmax 0 when v itself never rises above v_min
    k_positive = best_t if (any_above or column_max == v_min) else -1
    k_negative = int(min_spikes_num_t) if 0 <= min_spikes_num_t < T else -1
    return n_o, k_positive, k_negative


def first_spike_row(spikes, r, out):
    """``out[r] = (cumsum(cumsum(spikes[r])) == 1)``, the seed's rule, in one pass."""
    c1 = 0.0
    c2 = 0.0
    for t in range(spikes.shape[1]):
        c1 += spikes[r, t]
        c2 += c1
        out[r, t] = c2 == 1.0


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
