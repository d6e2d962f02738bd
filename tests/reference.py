"""Plain-NumPy references (``naive_*``), written from the equations, not from the kernels.

Nothing here imports snnumba: a formula shared with the package would let a wrong
formula pass on both sides.
"""
import numpy as np


def surrogate_derivative(name, x, beta):
    """The documented surrogate derivatives (snnumba.surrogate's table), written out."""
    x = np.asarray(x, dtype=np.float64)
    if name == "sigmoid":
        with np.errstate(over="ignore"):
            s, one_minus_s = 1.0 / (1.0 + np.exp(-beta * x)), 1.0 / (1.0 + np.exp(beta * x))
        return beta * s * one_minus_s
    if name == "fast_sigmoid":
        return 1.0 / (1.0 + beta * np.abs(x)) ** 2
    if name == "arctan":
        return (beta / 2.0) / (1.0 + (np.pi * beta * x / 2.0) ** 2)
    if name == "triangle":
        return beta * np.maximum(0.0, 1.0 - beta * np.abs(x))
    raise ValueError(f"unknown surrogate {name!r}")


def naive_lif_forward(h, alpha, threshold, v0=None, s0=None):
    """The seed's loop: new_v = (alpha v + h[t]) (1 - s); s = H(v - th); v = new_v.

    Runs in h's dtype (alpha and threshold cast to it). Returns v, s [T, B, N] and the
    final state (v_T, s_T)."""
    dt = h.dtype.type
    T, B, N = h.shape
    th = np.broadcast_to(np.asarray(threshold, h.dtype), (B, N))
    v = np.zeros((B, N), h.dtype) if v0 is None else v0.copy()
    s = np.zeros((B, N), h.dtype) if s0 is None else s0.copy()
    vs, ss = [], []
    for t in range(T):
        vs.append(v)
        ss.append(s)
        a = dt(alpha) * v + h[t]
        new_v = a - a * s
        s = (v > th).astype(h.dtype)
        v = new_v
    return np.stack(vs), np.stack(ss), v, s


def naive_readout_forward(h, alpha):
    T = h.shape[0]
    v = np.zeros(h.shape[1:], h.dtype)
    out = []
    for t in range(T):
        out.append(v)
        v = h.dtype.type(alpha) * v + h[t]
    return np.stack(out), v


def naive_lif_backward(h, v, s, alpha, threshold, surrogate, slope, grad_s, grad_v):
    """Reverse-mode BPTT of the LIF recording (v, s) in float64, whole [B, N] slices per
    step, from the equations: a = alpha v + h, v' = a (1 - s), s' = H(v - th) with the
    surrogate for H'. Returns dL/dh for L = <grad_s, s> + <grad_v, v>."""
    h, v, s = (np.asarray(a, np.float64) for a in (h, v, s))
    th = np.broadcast_to(np.asarray(threshold, np.float64), h.shape[1:])
    gv_next = np.zeros(h.shape[1:])   # dL/dv[t+1]
    gs_next = np.zeros(h.shape[1:])   # dL/ds[t+1]
    grad_h = np.empty_like(h)
    for t in range(h.shape[0] - 1, -1, -1):
        a = alpha * v[t] + h[t]
        grad_h[t] = gv_next * (1 - s[t])
        gv = grad_v[t] + gv_next * alpha * (1 - s[t]) + gs_next * surrogate_derivative(surrogate, v[t] - th, slope)
        gs = grad_s[t] - gv_next * a
        gv_next, gs_next = gv, gs
    return grad_h


def tangent_lif(h, dh, alpha, threshold, surrogate, beta):
    """Forward-mode derivative of the LIF recording (v, s) along dh, with the spike's
    derivative replaced by the surrogate: ds[t+1] = sg(v[t] - th) dv[t]."""
    T, B, N = h.shape
    th = np.broadcast_to(threshold, (B, N))
    v = np.zeros((B, N))
    s = np.zeros((B, N))
    dv = np.zeros((B, N))
    ds = np.zeros((B, N))
    vs, ss, dvs, dss = [], [], [], []
    for t in range(T):
        vs.append(v), ss.append(s), dvs.append(dv), dss.append(ds)
        a = alpha * v + h[t]
        da = alpha * dv + dh[t]
        new_v, new_dv = a * (1 - s), da * (1 - s) - a * ds
        s, ds = (v > th).astype(float), surrogate_derivative(surrogate, v - th, beta) * dv
        v, dv = new_v, new_dv
    return np.stack(vs), np.stack(ss), np.stack(dvs), np.stack(dss)


def tangent_readout(h, dh, alpha):
    v, dv = np.zeros(h.shape[1:]), np.zeros(h.shape[1:])
    vs, dvs = [], []
    for t in range(h.shape[0]):
        vs.append(v), dvs.append(dv)
        v, dv = alpha * v + h[t], alpha * dv + dh[t]
    return np.stack(vs), np.stack(dvs)


def naive_log_softmax_nll(m, labels):
    m = m - m.max(axis=1, keepdims=True)
    logp = m - np.log(np.exp(m).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(labels)), labels].mean(), np.exp(logp)


def splitmix64(seed, keys):
    """Vectorised SplitMix64 (the published constants): output number ``keys``."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.asarray(keys, np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def naive_sound_spikes(ipd, sample_ids, seed, phase_offset, anf=100, steps=100, dt=1e-3,
                       rate_max=600.0, freq=20.0, power=2.0):
    """The seed's ``input_signal`` in time-major order, with the uniforms of
    ``splitmix64`` in place of ``np.random.rand``. Returns (spikes, prob, u)."""
    times = np.arange(steps) * dt
    phi = 2 * np.pi * (freq * times + phase_offset)
    delays = np.linspace(0, np.pi / 2, anf)
    B = len(ipd)
    theta = np.zeros((steps, B, 2 * anf))
    theta[:, :, :anf] = phi[:, None, None] + delays[None, None, :]
    theta[:, :, anf:] = phi[:, None, None] + delays[None, None, :] + ipd[None, :, None]
    prob = rate_max * dt * (0.5 * (1 + np.sin(theta))) ** power
    keys = (np.asarray(sample_ids)[None, :, None] * steps + np.arange(steps)[:, None, None]) * anf \
        + np.arange(anf)[None, None, :]
    z = splitmix64(seed, keys)
    # left fibre j: bits 40-63; right fibre anf + j: bits 16-39
    u = np.concatenate([(z >> np.uint64(40)), (z >> np.uint64(16)) & np.uint64(0xFFFFFF)], axis=2) / 2.0**24
    return u < prob, prob, u


def naive_adam(p, g, m, v, step, lr, beta1, beta2, eps, weight_decay):
    """torch.optim.Adam's documented algorithm (amsgrad off, maximize off)."""
    g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** step)
    v_hat = v / (1 - beta2 ** step)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def naive_sgd(p, g, buf, step, lr, momentum, dampening, weight_decay, nesterov):
    """torch.optim.SGD's documented algorithm."""
    g = g + weight_decay * p
    if momentum:
        buf = g.copy() if step == 1 else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return p - lr * g, buf


def naive_bernoulli_cell(p, target, modulator, mask, input_logits):
    """ngclearn BernoulliErrorCell.advance_state, transcribed to NumPy."""
    eps = 1e-4
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    _p = sigmoid(p) if input_logits else p
    _p = np.clip(_p, eps, 1.0 - eps)
    x = target
    log_p, log_one_min_p = np.log(_p), np.log(1.0 - _p)
    L = np.sum(log_p * x + log_one_min_p * (1.0 - x))
    if input_logits:
        dL_dp = x - _p
    else:
        dL_dp = x / _p - (1.0 - x) / (1.0 - _p)
        dL_dp = dL_dp * sigmoid(p) * (1 - sigmoid(p))
    dL_dx = log_p - log_one_min_p
    return L, dL_dp * modulator * mask, dL_dx * modulator * mask, np.ones_like(mask)


def naive_gaussian_cell(mu, target, modulator, mask, sigma):
    """ngclearn GaussianErrorCell.advance_state, transcribed to NumPy."""
    e = target - mu
    dmu = e / sigma
    return -np.sum(e * e) * (0.5 / sigma), dmu * modulator * mask, -dmu * modulator * mask, np.ones_like(mask)


def naive_spike_cluster(v, v_threshold, T_in):
    """SpikingFlow's spike_cluster transcribed to NumPy: loops over time with whole-array
    masks, in v's dtype (T >= 2, as the seed needs)."""
    spike = (v >= v_threshold).astype(v.dtype)
    T = v.shape[0]
    N_o = np.zeros_like(v[1])
    spikes_num = np.ones_like(v[1]) * T * 2
    min_spikes_num = np.ones_like(v[1]) * T * 2
    min_spikes_num_t = np.ones_like(v[1]) * T * 2
    last_spike_t = -np.ones_like(v[1]) * T_in * 2
    for t in range(T):
        delta_t = (t - last_spike_t) * spike[t]
        mask0 = delta_t > T_in
        mask1 = np.logical_and(delta_t <= T_in, spike[t].astype(bool))
        temp_mask = np.logical_and(mask0, min_spikes_num > spikes_num)
        min_spikes_num_t[temp_mask] = last_spike_t[temp_mask]
        min_spikes_num[temp_mask] = spikes_num[temp_mask]
        spikes_num[mask0] = 1
        N_o[mask0] += 1
        spikes_num[mask1] += 1
        last_spike_t[spike[t].astype(bool)] = t
    mask = spikes_num < min_spikes_num
    min_spikes_num[mask] = spikes_num[mask]
    min_spikes_num_t[mask] = last_spike_t[mask]
    v_ = v.copy()
    v_min = v_.min()
    v_[spike.astype(bool)] = v_min
    last_spike_t = -np.ones_like(v[1]) * T_in * 2
    for t in range(T):
        delta_t = t - last_spike_t
        mask = np.logical_and(delta_t <= T_in, (1 - spike[t]).astype(bool))
        v_[t][mask] = v_min
        last_spike_t[spike[t].astype(bool)] = t
    next_spike_t = np.ones_like(v[1]) * T_in * 2 + T
    for t in range(T - 1, -1, -1):
        delta_t = next_spike_t - t
        mask = np.logical_and(delta_t <= T_in, (1 - spike[t]).astype(bool))
        v_[t][mask] = v_min
        next_spike_t[spike[t].astype(bool)] = t
    k_positive = v_.argmax(axis=0)
    k_negative = min_spikes_num_t.astype(np.int64)
    arrange = np.arange(0, T)[:, None].repeat(v.shape[1], axis=1)
    k_positive = arrange == k_positive
    k_negative = arrange == k_negative
    k_positive_mask = v_.max(axis=0) != v_min
    k_positive_mask[v.max(axis=0) == v_min] = True
    return N_o, np.logical_and(k_positive, k_positive_mask), k_negative


class NaiveMaxRate:
    """inferno's MaxRateClassifier transcribed to NumPy (float32 state)."""

    def __init__(self, shape, K, decay):
        self.shape, self.K, self.decay = tuple(shape), K, decay
        self.set_rates(np.zeros(self.shape + (K,), np.float32))

    def set_rates(self, value):
        self.rates = value.astype(np.float32)
        self.proportions = self.rates / np.maximum(np.abs(self.rates).sum(-1, keepdims=True), 1e-12)
        self.assignments = np.argmax(self.proportions, -1)
        self.occurrences = np.bincount(self.assignments.reshape(-1), minlength=self.K)

    def regress(self, inputs, proportional=True):
        one_hot = np.eye(self.K)[self.assignments.reshape(-1)]
        assocs = one_hot * self.proportions.reshape(-1, self.K) if proportional else one_hot
        with np.errstate(divide="ignore", invalid="ignore"):
            y = (inputs.reshape(inputs.shape[0], -1).astype(np.float64) @ assocs) / self.occurrences
        return np.nan_to_num(y.astype(np.float32), nan=0, posinf=0)

    def update(self, inputs, labels):
        counts = np.bincount(labels, minlength=self.K).astype(np.float32)
        flat = inputs.reshape(inputs.shape[0], -1).astype(np.float64)
        sums = np.zeros((flat.shape[1], self.K))
        for b, k in enumerate(labels):
            sums[:, k] += flat[b]
        with np.errstate(divide="ignore", invalid="ignore"):
            batch = np.nan_to_num((sums / counts).astype(np.float32), nan=0, posinf=0).reshape(self.rates.shape)
        self.set_rates(np.exp(-self.decay * counts) * self.rates + batch)

    def forward(self, inputs, labels, logits=False, proportional=True):
        if inputs.ndim == len(self.shape) + 2:
            inputs = inputs.astype(np.float32).mean(axis=0)
        res = None
        if logits is False:
            res = np.argmax(self.regress(inputs, proportional), 1)
        elif logits:
            r = self.regress(inputs, proportional)
            res = (np.argmax(r, 1), r)
        if labels is not None:
            self.update(inputs, labels)
        return res


def naive_delayed_dense(x, w, delay_steps):
    """h[t, b, j] = sum_i w[i, j] x[t - delay_steps[i, j], b, i] (fractional steps interpolate)."""
    T, B, I = x.shape
    h = np.zeros((T, B, w.shape[1]))
    for i in range(I):
        for j in range(w.shape[1]):
            s = int(np.floor(delay_steps[i, j]))
            f = delay_steps[i, j] - s
            for t in range(T):
                a = x[t - s, :, i] if t - s >= 0 else 0.0
                c = x[t - s - 1, :, i] if t - s - 1 >= 0 else 0.0
                h[t, :, j] += w[i, j] * ((1 - f) * a + f * c)
    return h


def _reset(u, flag, theta, reset):
    """R(u, r, theta) of the neuron family: reset to zero, by subtraction, or none."""
    if reset == "zero":
        return u - u * flag
    if reset == "subtract":
        return u - flag * theta
    return u


def naive_neuron_forward(h, alpha, threshold, reset="zero", timing="delayed", alpha_syn=None, rho=None,
                         adapt_strength=None, weight=None, state=None):
    """The neuron family's equations (snnumba.neurons' docstring), whole [B, N] slices per
    step, in h's dtype (constants cast to it). ``alpha_syn``, ``rho`` None: no synapse, no
    adaptation; ``weight`` [N, N] (``[pre, post]``): recurrent, its input summed over the
    neurons that spiked in increasing order. ``state``: dict of v, s, i, a, z [B, N] to start
    from (rest when None). Returns ``(z, membrane, x, i_before, a_before, final)``: output
    spikes, the tested membrane, the input h + r, the synaptic current and adaptation before
    each step ([T, B, N]) and the final state dict."""
    f_ = h.dtype.type
    T, B, N = h.shape

    def c(x):
        return np.broadcast_to(np.asarray(x, h.dtype), (B, N))
    alpha, th = c(alpha), c(threshold)
    st = {k: np.zeros((B, N), h.dtype) for k in "vsiaz"}
    if state is not None:
        st.update({k: np.asarray(x, h.dtype) for k, x in state.items() if x is not None})
    v, s, i, a, z = (st[k].copy() for k in "vsiaz")
    outs = {k: [] for k in ("z", "m", "x", "i", "a")}
    for t in range(T):
        x = h[t]
        if weight is not None:
            r = np.zeros((B, N), h.dtype)
            for j in range(N):
                r = r + z[:, j, None] * weight[j][None, :]
            x = h[t] + r
        outs["x"].append(x)
        outs["i"].append(i)
        outs["a"].append(a)
        if alpha_syn is not None:
            i = c(alpha_syn) * i + x
            d = i
        else:
            d = x
        theta = th + c(adapt_strength) * a if rho is not None else th
        if timing == "delayed":
            out = s
            m = v
            fired = (v > theta).astype(h.dtype)
            u = alpha * v + d
            v = _reset(u, s, theta, reset)
        elif timing == "same_step":
            u = alpha * v + d
            m = u
            fired = (u > theta).astype(h.dtype)
            out = fired
            v = _reset(u, fired, theta, reset)
        else:
            u = alpha * v + d
            m = _reset(u, s, theta, reset)
            fired = (m > theta).astype(h.dtype)
            out = fired
            v = m
        s = fired
        if rho is not None:
            a = c(rho) * a + fired
        z = out
        outs["z"].append(out)
        outs["m"].append(m)
    final = dict(v=v, s=s, i=i, a=a, z=z)
    return (np.stack(outs["z"]).astype(np.uint8), np.stack(outs["m"]), np.stack(outs["x"]), np.stack(outs["i"]),
            np.stack(outs["a"]), {k: f_(0) + x for k, x in final.items()})


def naive_neuron_backward(h, alpha, threshold, surrogate, slope, grad_s, grad_v, reset="zero", timing="delayed",
                          alpha_syn=None, rho=None, adapt_strength=None, weight=None):
    """Reverse-mode BPTT of ``naive_neuron_forward`` (from rest) in float64, whole [B, N]
    slices per step, for L = <grad_s, z> + <grad_v, membrane>, with the surrogate for H'.
    Returns dL/dh [T, B, N], dL/dalpha, dL/dalpha_syn, dL/dthreshold per (batch, neuron)
    [B, N] and dL/dweight [N, N] (None when not recurrent)."""
    h = np.asarray(h, np.float64)
    T, B, N = h.shape

    def c(x):
        return np.broadcast_to(np.asarray(x, np.float64), (B, N))
    alpha, th = c(alpha), c(threshold)
    syn, adapt = alpha_syn is not None, rho is not None
    a_syn = c(alpha_syn) if syn else None
    rho_, beta = (c(rho), c(adapt_strength)) if adapt else (None, None)
    # forward again, keeping every intermediate
    v, s, i, a, z = (np.zeros((B, N)) for _ in range(5))
    rec = []
    for t in range(T):
        r = z @ weight if weight is not None else 0.0
        x = h[t] + r
        i_new = a_syn * i + x if syn else None
        d = i_new if syn else x
        theta = th + beta * a if adapt else th
        u = alpha * v + d
        if timing == "delayed":
            m, flag = v, s
            fired = (v > theta) * 1.0
            v_new = _reset(u, s, theta, reset)
        elif timing == "same_step":
            m = u
            fired = (u > theta) * 1.0
            flag = fired
            v_new = _reset(u, fired, theta, reset)
        else:
            m = _reset(u, s, theta, reset)
            flag = s
            fired = (m > theta) * 1.0
            v_new = m
        out = s if timing == "delayed" else fired
        rec.append(dict(z_prev=z, v=v, i=i, a=a, theta=theta, u=u, m=m, flag=flag, out=out))
        v, s, z = v_new, fired, out
        i = i_new if syn else i
        a = rho_ * a + fired if adapt else a
    gv, gs, gi, ga = (np.zeros((B, N)) for _ in range(4))
    grad_h = np.zeros((T, B, N))
    g_alpha, g_alpha_syn, g_th = (np.zeros((B, N)) for _ in range(3))
    g_weight = np.zeros((N, N)) if weight is not None else None
    for t in range(T - 1, -1, -1):
        q = rec[t]
        gz = grad_s[t] + (grad_h[t + 1] @ weight.T if weight is not None and t + 1 < T else 0.0)
        gf = gs + (ga if adapt else 0.0)
        ga_prev = rho_ * ga if adapt else 0.0
        sg = surrogate_derivative(surrogate, q["m"] - q["theta"], slope)
        g_theta = np.zeros((B, N))
        if timing != "delayed":
            gf = gf + gz
        if timing == "same_step_late_reset":
            g_R = gv + grad_v[t] + gf * sg       # m is kept, recorded and tested
            g_theta -= gf * sg
        else:
            g_R = gv
        # through R(u, flag, theta)
        if reset == "zero":
            gu, g_flag = g_R * (1 - q["flag"]), -g_R * q["u"]
        elif reset == "subtract":
            gu, g_flag = g_R, -g_R * q["theta"]
            g_theta -= g_R * q["flag"]
        else:
            gu, g_flag = g_R, 0.0
        gs_prev = np.zeros((B, N))
        if timing == "delayed":
            gs_prev = gs_prev + g_flag + gz
            gv_prev = grad_v[t] + gf * sg      # v is recorded and tested
            g_theta -= gf * sg
        elif timing == "same_step":
            gf = gf + g_flag
            gu = gu + grad_v[t] + gf * sg
            g_theta -= gf * sg
            gv_prev = 0.0
        else:
            gs_prev = gs_prev + g_flag
            gv_prev = 0.0
        gv_prev = gv_prev + alpha * gu
        g_alpha += gu * q["v"]
        if syn:
            g_i = gi + gu
            gx, gi = g_i, a_syn * g_i
            g_alpha_syn += g_i * q["i"]
        else:
            gx = gu
        g_th += g_theta
        ga = ga_prev + (beta * g_theta if adapt else 0.0)
        grad_h[t] = gx
        if weight is not None:
            g_weight += q["z_prev"].T @ gx
        gv, gs = gv_prev, gs_prev
    return grad_h, g_alpha, g_alpha_syn, g_th, g_weight


def tangent_neuron(h, dh, alpha, threshold, surrogate, slope, reset="zero", timing="delayed", alpha_syn=None,
                   rho=None, adapt_strength=None, weight=None, dweight=None):
    """Forward-mode derivative of the neuron family's output spikes z along (dh, dweight)
    with the surrogate for H' (float64, from rest). Returns (z, dz) [T, B, N]."""
    T, B, N = h.shape

    def c(x):
        return np.broadcast_to(np.asarray(x, np.float64), (B, N))
    alpha, th = c(alpha), c(threshold)
    syn, adapt = alpha_syn is not None, rho is not None
    zeros = [np.zeros((B, N)) for _ in range(10)]
    v, s, i, a, z, dv, ds, di, da, dz = zeros
    zs, dzs = [], []
    for t in range(T):
        x, dx = h[t], dh[t]
        if weight is not None:
            x, dx = x + z @ weight, dx + dz @ weight + z @ dweight
        if syn:
            i, di = c(alpha_syn) * i + x, c(alpha_syn) * di + dx
            d, dd = i, di
        else:
            d, dd = x, dx
        theta = th + c(adapt_strength) * a if adapt else th
        dtheta = c(adapt_strength) * da if adapt else 0.0
        u, du = alpha * v + d, alpha * dv + dd

        def R(u, du, flag, dflag):
            if reset == "zero":
                return u * (1 - flag), du * (1 - flag) - u * dflag
            if reset == "subtract":
                return u - flag * theta, du - dflag * theta - flag * dtheta
            return u, du
        if timing == "delayed":
            out, dout = s, ds
            f = (v > theta) * 1.0
            df = surrogate_derivative(surrogate, v - theta, slope) * (dv - dtheta)
            v, dv = R(u, du, s, ds)
        elif timing == "same_step":
            f = (u > theta) * 1.0
            df = surrogate_derivative(surrogate, u - theta, slope) * (du - dtheta)
            out, dout = f, df
            v, dv = R(u, du, f, df)
        else:
            v, dv = R(u, du, s, ds)
            f = (v > theta) * 1.0
            df = surrogate_derivative(surrogate, v - theta, slope) * (dv - dtheta)
            out, dout = f, df
        s, ds = f, df
        if adapt:
            a, da = c(rho) * a + f, c(rho) * da + df
        z, dz = out, dout
        zs.append(z), dzs.append(dz)
    return np.stack(zs), np.stack(dzs)
