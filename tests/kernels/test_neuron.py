"""The neuron family (kernels/cpu/neuron.py through LIF, IF, RecurrentLIF) against the
plain-NumPy reference of its equations (tests/reference.py), for every option combination:
reset x spike timing x synapse x adaptation x recurrence (with and without self-connections).

- forward: equal bit for bit, float32 and float64 (the reference does the same operations
  in the same order and dtype, the recurrent sum included);
- backward: allclose to the reference's reverse mode in float64, and to central finite
  differences where the spikes are locally constant (triangle surrogate with a huge slope,
  membranes kept away from the threshold: there the backward pass is the exact derivative).
"""
import itertools
import zlib

import numba
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import snnumba as snn
from tests.reference import naive_neuron_backward, naive_neuron_forward

DT = 1e-3
RESETS = ("zero", "subtract", "none")
TIMINGS = ("delayed", "same_step", "same_step_late_reset")
RECURRENCE = (None, "self", "no_self")
COMBOS = list(itertools.product(RESETS, TIMINGS, (False, True), (False, True), RECURRENCE))


def combo_id(combo):
    reset, timing, syn, adapt, rec = combo
    return f"{reset}-{timing}{'-syn' if syn else ''}{'-adapt' if adapt else ''}{'-' + rec if rec else ''}"


def build(combo, n, dtype, rng, learn=False, surrogate="fast_sigmoid", slope=3.0, threshold=None):
    """A layer with the combination's options, per-neuron constants, and the constants the
    reference needs (decays computed here from the time constants, not read from the layer)."""
    reset, timing, syn, adapt, rec = combo
    tau = rng.uniform(3e-3, 20e-3, n)
    tau_syn = rng.uniform(2e-3, 10e-3, n) if syn else None
    tau_adapt = rng.uniform(5e-3, 50e-3, n) if adapt else None
    strength = rng.uniform(0.1, 0.8, n) if adapt else 0.0
    th = rng.uniform(0.5, 1.2, n) if threshold is None else threshold
    opts = dict(tau=tau, threshold=th, dt=DT, surrogate=surrogate, slope=slope, dtype=dtype, reset=reset,
                spike_timing=timing, tau_syn=tau_syn, tau_adapt=tau_adapt, adapt_strength=strength, n=n,
                learn_tau=learn, learn_threshold=learn)
    if rec:
        del opts["n"]
        layer = snn.RecurrentLIF(n, self_connections=rec == "self", init_bound=0.8, rng=rng, **opts)
    else:
        layer = snn.LIF(**opts)
    ref = dict(reset=reset, timing=timing, alpha=np.exp(-DT / tau),
               alpha_syn=np.exp(-DT / tau_syn) if syn else None,
               rho=np.exp(-DT / tau_adapt) if adapt else None, adapt_strength=strength if adapt else None,
               weight=layer.params["recurrent_weight"] if rec else None)
    return layer, ref, th


def reference_forward(h, ref, th, state=None):
    cast = {k: (np.asarray(v, h.dtype) if isinstance(v, np.ndarray) else v) for k, v in ref.items()}
    return naive_neuron_forward(h, cast["alpha"], np.asarray(th, h.dtype), cast["reset"], cast["timing"],
                                cast["alpha_syn"], cast["rho"], cast["adapt_strength"], cast["weight"], state)


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
@settings(max_examples=3)
@given(st.integers(0, 2**32 - 1), st.sampled_from([np.float32, np.float64]),
       st.tuples(st.integers(1, 6), st.integers(1, 3), st.integers(1, 5)))
def test_forward_equals_reference_bit_for_bit(combo, seed, dtype, shape):
    rng = np.random.default_rng(seed)
    T, B, N = shape
    layer, ref, th = build(combo, N, dtype, rng)
    h = rng.normal(0.5, 0.8, shape).astype(dtype)
    z = layer.forward(h)
    rz, rm, _, _, _, final = reference_forward(h, ref, th)
    np.testing.assert_array_equal(z, rz)
    np.testing.assert_array_equal(layer.v, rm)
    for k in "vsiaz":
        if layer.state[k] is not None:
            np.testing.assert_array_equal(layer.state[k], final[k], err_msg=k)
    # evaluation mode records nothing and gives the same spikes and state
    layer.eval()
    np.testing.assert_array_equal(layer.forward(h), rz)
    assert layer.v is None
    np.testing.assert_array_equal(layer.state["v"], final["v"])


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
@settings(max_examples=2)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["sigmoid", "fast_sigmoid", "arctan", "triangle"]))
def test_backward_equals_reference(combo, seed, surrogate):
    rng = np.random.default_rng(seed)
    T, B, N = 7, 2, 4
    layer, ref, th = build(combo, N, np.float64, rng, learn=True, surrogate=surrogate, slope=2.0)
    h = rng.normal(0.5, 0.8, (T, B, N))
    gs, gv = rng.normal(size=h.shape), rng.normal(size=h.shape)
    layer.forward(h)
    grad_h = layer.backward(gs, gv)
    r_h, r_alpha, r_alpha_syn, r_th, r_w = naive_neuron_backward(
        h, ref["alpha"], th, surrogate, 2.0, gs, gv, ref["reset"], ref["timing"], ref["alpha_syn"], ref["rho"],
        ref["adapt_strength"], ref["weight"])
    np.testing.assert_allclose(grad_h, r_h, rtol=1e-9, atol=1e-9)
    tau = layer.params["tau"]
    np.testing.assert_allclose(layer.grads["tau"], r_alpha.sum(0) * np.exp(-DT / tau) * DT / tau**2,
                               rtol=1e-9, atol=1e-9)
    if ref["alpha_syn"] is not None:
        tau_syn = layer.params["tau_syn"]
        np.testing.assert_allclose(layer.grads["tau_syn"], r_alpha_syn.sum(0) * np.exp(-DT / tau_syn) * DT / tau_syn**2,
                                   rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(layer.grads["threshold"], r_th.sum(0), rtol=1e-9, atol=1e-9)
    if r_w is not None:
        if combo[-1] == "no_self":
            np.fill_diagonal(r_w, 0.0)
        np.testing.assert_allclose(layer.grads["recurrent_weight"], r_w, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
@settings(max_examples=2)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["sigmoid", "fast_sigmoid", "arctan", "triangle"]))
def test_float32_backward_is_the_reference_to_float32_rounding(combo, seed, surrogate):
    """A float32 layer's BPTT runs in float32 (``scalar.as_like``): it stays within float32
    rounding of the float64 reference, trained constants and recurrent weights included."""
    rng = np.random.default_rng(seed)
    T, B, N = 9, 2, 4
    layer, ref, th = build(combo, N, np.float32, rng, learn=True, surrogate=surrogate, slope=2.0)
    h = rng.normal(0.5, 0.8, (T, B, N)).astype(np.float32)
    gs, gv = rng.normal(size=h.shape).astype(np.float32), rng.normal(size=h.shape).astype(np.float32)
    z = layer.forward(h)
    ref64 = dict(ref, weight=None if ref["weight"] is None else ref["weight"].astype(np.float64))
    # the reference runs its own forward pass in float64: compare only where the spikes agree
    assume(np.array_equal(z, reference_forward(h.astype(np.float64), ref64, th)[0]))
    grad_h = layer.backward(gs, gv)
    r_h, r_alpha, _, r_th, r_w = naive_neuron_backward(
        h, ref["alpha"], th, surrogate, 2.0, gs, gv, ref["reset"], ref["timing"], ref["alpha_syn"], ref["rho"],
        ref["adapt_strength"], ref64["weight"])
    assert grad_h.dtype == np.float32

    def close(got, want):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(want).max()))
    close(grad_h, r_h)
    close(layer.grads["threshold"], r_th.sum(0))
    tau = layer.params["tau"].astype(np.float64)
    close(layer.grads["tau"], r_alpha.sum(0) * np.exp(-DT / tau) * DT / tau**2)
    if r_w is not None:
        if combo[-1] == "no_self":
            np.fill_diagonal(r_w, 0.0)
        close(layer.grads["recurrent_weight"], r_w)


def test_the_float32_bptt_step_is_float32():
    """The BPTT step of float32 recordings returns float32 values for every option (the
    options as run-time values: every branch is compiled), even from float64 constants (a
    per-neuron decay): no float64 literal promotes it (1.6x slower)."""
    from snnumba.kernels.cpu import neuron

    @numba.njit
    def grad_at(x, v_out, s_out, v0, s0, reset, timing, syn, adapt, code):
        return neuron._grad_at(x, v_out, s_out, v_out, v_out, v0, s0, 1, 0, 0, 0.9, 0.8, 0.7, 0.2, 1.0, reset,
                               timing, syn, adapt, code, 5.0, x[1, 0, 0], x[0, 0, 0], x[0, 0, 0], x[0, 0, 0],
                               x[0, 0, 0], x[0, 0, 0])
    f = np.ones((2, 1, 1), np.float32)
    grad_at(f, f, np.ones((2, 1, 1), np.uint8), f[0], np.ones((1, 1), np.uint8), 0, 0, True, True, 0)
    assert grad_at.nopython_signatures[0].return_type == numba.types.UniTuple(numba.float32, 8)


@pytest.mark.parametrize("recurrence", ["no_self", None])
def test_kernels_with_fixed_options_equal_the_shared_ones(monkeypatch, recurrence):
    """Large calls of recurrent and of non-default non-recurrent layers run kernels compiled
    with their options as constants; they give the bits of the kernels that take the options
    at run time, forward and backward (one option set, with every state and trained
    constants: each set is a compile of its own)."""
    combo = ("subtract", "same_step_late_reset", True, True, recurrence)
    from snnumba.kernels.cpu import neuron
    factory = neuron._backward_recurrent_fixed if recurrence else neuron._backward_blocks_fixed
    results, calls = [], factory.cache_info()
    monkeypatch.setattr(neuron, "fixed_kernels", {})  # kernels made by earlier tests would run at any size
    for min_size in (np.inf, 0):
        monkeypatch.setattr(neuron, "FIXED_OPTIONS_MIN_SIZE", min_size)
        rng = np.random.default_rng(7)
        layer, _, _ = build(combo, 5, np.float64, rng, learn=True, surrogate="sigmoid")
        h = rng.normal(0.5, 0.8, (9, 3, 5))
        z = layer.forward(h)
        grad_h = layer.backward(rng.normal(size=h.shape), rng.normal(size=h.shape))
        results.append([z, layer.v, grad_h, *layer.state.values(), *layer.grads.values()])
    after = factory.cache_info()
    assert after.hits + after.misses == calls.hits + calls.misses + 1           # the fixed kernels ran once
    assert results[0][0].any() and not results[0][0].all()                     # some spikes, some silence
    for shared, fixed in zip(*results):
        if shared is not None:
            np.testing.assert_array_equal(fixed, shared)


def test_a_small_call_runs_the_fixed_kernels_that_a_large_one_made(monkeypatch):
    """Once a large call made the fixed kernels of an option set, smaller calls with those
    options run them too (a training run's small last batch compiles nothing more); calls
    with other options still take the shared kernels."""
    from snnumba.kernels.cpu import neuron
    monkeypatch.setattr(neuron, "fixed_kernels", {})
    # the option set of test_kernels_with_fixed_options_equal_the_shared_ones: its fixed
    # kernels are compiled once for both tests (20-30 s, cold)
    combo = ("subtract", "same_step_late_reset", True, True, "no_self")
    rng = np.random.default_rng(5)
    layer, _, _ = build(combo, 6, np.float64, rng, learn=True, surrogate="sigmoid")
    small, large = rng.normal(0.5, 0.8, (4, 2, 6)), rng.normal(0.5, 0.8, (8, 3, 6))
    monkeypatch.setattr(neuron, "FIXED_OPTIONS_MIN_SIZE", large.size)

    def fixed_calls():
        counts = [f.cache_info() for f in (neuron._forward_recurrent_fixed, neuron._backward_recurrent_fixed)]
        return [c.hits + c.misses for c in counts]

    def step(h, layer=layer):
        before = fixed_calls()
        layer.forward(h)
        layer.backward(np.ones_like(h))
        return [a - b for a, b in zip(fixed_calls(), before)]

    assert step(small) == [0, 0]                  # nothing made yet: the shared kernels
    assert step(large) == [1, 1]
    assert step(small) == [1, 1]                  # now the fixed ones
    other, _, _ = build(("zero", "same_step", True, False, "self"), 6, np.float64, rng)
    assert step(small, other) == [0, 0]


@pytest.mark.parametrize("group", [1, 7, 32])
def test_recurrent_forward_over_row_groups_and_column_blocks_equals_reference(monkeypatch, group):
    """Batch rows in groups of any size (the last part full), more neurons than a block of
    V's columns (the last block part full): the reference's bits."""
    from snnumba.kernels.cpu import neuron
    from snnumba.kernels.cpu._simd import BLOCK
    monkeypatch.setattr(neuron, "RECURRENT_GROUP_ROWS", group)
    B, N = 69, 2 * BLOCK + 6
    assert neuron.group_rows(B) == group
    rng = np.random.default_rng(5)
    layer, ref, th = build(("subtract", "same_step", True, True, "self"), N, np.float32, rng)
    h = rng.normal(0.2, 0.8, (6, B, N)).astype(np.float32)
    z = layer.forward(h)
    rz, rm, *_ = reference_forward(h, ref, th)
    assert 0.05 < rz.mean() < 0.95
    np.testing.assert_array_equal(z, rz)
    np.testing.assert_array_equal(layer.v, rm)


@pytest.mark.parametrize("densities", [(0.0, 1.1), (0.0, 0.0)], ids=["dV_in_bptt", "dV_apart"])
def test_recurrent_backward_over_several_row_chunks_equals_reference_on_any_thread_count(monkeypatch, densities):
    """More batch rows than one work item of the recurrent BPTT holds (the last item partly
    full): each item's product feeds its own rows (and its copy of dV, where the kernel sums
    it), and the bits do not depend on the threads."""
    from snnumba.kernels.cpu import neuron
    monkeypatch.setattr(neuron, "FUSED_WEIGHT_GRAD_DENSITIES", densities)
    B = 2 * neuron.RECURRENT_CHUNK_ROWS + 3
    combo = ("subtract", "same_step", True, False, "self")
    results, before = [], numba.get_num_threads()
    try:
        for threads in (numba.config.NUMBA_NUM_THREADS, 1):
            numba.set_num_threads(threads)
            rng = np.random.default_rng(3)
            layer, ref, th = build(combo, 4, np.float64, rng)
            h = rng.normal(0.5, 0.8, (5, B, 4))
            gs = rng.normal(size=h.shape)
            layer.forward(h)
            results.append((layer.backward(gs), layer.grads["recurrent_weight"].copy()))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    r_h, *_, r_w = naive_neuron_backward(h, ref["alpha"], th, "fast_sigmoid", 3.0, gs, np.zeros_like(gs),
                                         ref["reset"], ref["timing"], ref["alpha_syn"], ref["rho"],
                                         ref["adapt_strength"], ref["weight"])
    np.testing.assert_allclose(results[0][0], r_h, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(results[0][1], r_w, rtol=1e-9, atol=1e-9)


def away_from_threshold(seed, combo, T=6, B=2, N=3, margin=0.02, learn=True):
    """A float64 layer and input whose tested membranes all stay ``margin`` away from the
    threshold, with some spikes and some silence: small perturbations change no spike."""
    for attempt in range(200):
        rng = np.random.default_rng(seed * 1000 + attempt)
        layer, ref, th = build(combo, N, np.float64, rng, learn=learn, surrogate="triangle", slope=1e4)
        h = rng.normal(0.6, 0.7, (T, B, N))
        z = layer.forward(h)
        theta = reference_theta(layer, ref, h, th)
        if np.abs(layer.v - theta).min() > margin and 0 < z.sum() < z.size:
            return layer, ref, th, h
    raise AssertionError("no input found with membranes away from the threshold")


def reference_theta(layer, ref, h, th):
    """The effective threshold at every step (threshold + beta_a * a before the step)."""
    if ref["rho"] is None:
        return np.broadcast_to(th, h.shape)
    _, _, _, _, a, _ = reference_forward(h, ref, th)
    return th + ref["adapt_strength"] * a


def central_difference(f, x, eps=1e-6):
    """d f / d x for every entry of the array x (changed in place and restored)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        keep = x[idx]
        x[idx] = keep + eps
        up = f()
        x[idx] = keep - eps
        down = f()
        x[idx] = keep
        grad[idx] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_backward_matches_central_differences(combo):
    """dL/dh, dL/dtau, dL/dtau_syn, dL/dthreshold and dL/dV against central differences
    of L = <grad_s, z> + <grad_v, membrane> where no spike can change (see the module doc)."""
    # a seed fixed per combination (str.__hash__ changes with every process)
    layer, ref, th, h = away_from_threshold(zlib.crc32(combo_id(combo).encode()) % 1000, combo)
    rng = np.random.default_rng(1)
    gs, gv = rng.normal(size=h.shape), rng.normal(size=h.shape)
    layer.zero_grad()
    layer.forward(h)
    grad_h = layer.backward(gs, gv)
    z_fixed = layer.forward(h).copy()

    def loss():
        z = layer.forward(h)
        np.testing.assert_array_equal(z, z_fixed)   # the spikes stay put
        return np.sum(gs * z) + np.sum(gv * layer.v)

    np.testing.assert_allclose(grad_h, central_difference(loss, h), rtol=1e-6, atol=1e-7)
    for name, p in layer.params.items():
        fd = central_difference(loss, p, eps=1e-9 if name.startswith("tau") else 1e-6)
        if name == "recurrent_weight" and combo[-1] == "no_self":
            np.fill_diagonal(fd, 0.0)             # not trained
        np.testing.assert_allclose(layer.grads[name], fd, rtol=1e-5, atol=1e-6, err_msg=name)
    assert np.abs(grad_h).max() > 0.1


def all_outputs(layer, h, gs):
    z = layer.forward(h).copy()
    grad_h = layer.backward(gs, gs)
    return [z, layer.v.copy(), grad_h] + [g.copy() for g in layer.grads.values()]


@pytest.mark.parametrize("combo", [("subtract", "same_step", True, True, None),
                                   ("zero", "delayed", False, False, None),
                                   ("zero", "same_step_late_reset", True, True, "no_self")], ids=combo_id)
def test_parallel_equals_serial(combo):
    """Work items own disjoint (batch, neuron block) or batch-row ranges: the thread count
    changes nothing (600 neurons: several blocks per row)."""
    rng = np.random.default_rng(4)
    n = 40 if combo[-1] else 600
    layer, _, _ = build(combo, n, np.float64, rng, learn=True)
    h = rng.normal(0.5, 1.0, (9, 3, n))
    gs = rng.normal(size=h.shape)
    parallel = all_outputs(layer, h, gs)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        layer.zero_grad()
        serial = all_outputs(layer, h, gs)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(parallel, serial):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_membrane_exactly_at_threshold_does_not_fire(timing, dtype):
    """H(0) = 0 in every timing: a tested membrane equal to the threshold stays silent, the
    next float above fires."""
    h = np.zeros((3, 2, 1), dtype)
    h[0, 0, 0] = 1.0
    h[0, 1, 0] = np.nextafter(dtype(1.0), dtype(2.0))
    layer = snn.IF(threshold=1.0, dtype=dtype, spike_timing=timing)
    z = layer.forward(h)
    tested = 1 if timing == "delayed" else 0     # the step whose tested membrane is 1.0
    step = 2 if timing == "delayed" else 0       # the delayed spike is output one step later still
    assert layer.v[tested, 0, 0] == 1.0 and layer.v[tested, 1, 0] > 1.0
    assert z[:, 0, 0].sum() == 0
    assert z[step, 1, 0] == 1 and z[:, 1, 0].sum() == 1


@pytest.mark.parametrize("combo", [c for c in COMBOS if c[2] and c[3]], ids=combo_id)
def test_edge_cases_one_step_silent_and_saturated(combo):
    """T = 1; an all-silent input; and an input that makes every neuron spike."""
    rng = np.random.default_rng(0)
    layer, ref, th = build(combo, 3, np.float64, rng, learn=True)
    for h in (rng.normal(0.5, 1, (1, 2, 3)), np.full((5, 2, 3), -3.0), np.full((5, 2, 3), 50.0)):
        z = layer.forward(h)
        rz, rm, _, _, _, _ = reference_forward(h, ref, th)
        np.testing.assert_array_equal(z, rz)
        np.testing.assert_array_equal(layer.v, rm)
        gs = np.ones_like(h)
        grad_h = layer.backward(gs)
        r_h = naive_neuron_backward(h, ref["alpha"], th, "fast_sigmoid", 3.0, gs, np.zeros_like(h), ref["reset"],
                                    ref["timing"], ref["alpha_syn"], ref["rho"], ref["adapt_strength"],
                                    ref["weight"])[0]
        np.testing.assert_allclose(grad_h, r_h, rtol=1e-9, atol=1e-12)
    assert z.any(axis=0).all()                   # the saturated input makes every neuron spike


@pytest.mark.parametrize("path", ["dense", "events", "in_bptt"])
def test_recurrent_weight_gradient_on_each_path(monkeypatch, path):
    """The recurrent weight's gradient sum_t z[t-1]^T dL/dx[t] is summed by the BPTT kernel
    in its density range, else by a product on the shifted spikes: dense (on row chunks,
    here for any size) at or above Dense's event threshold, event-driven below it. Each path
    equals the float64 sum, the initial spikes z[-1] included (a call continuing the state)."""
    from snnumba import layers
    from snnumba.kernels.cpu import dense, neuron
    from snnumba.kernels.cpu._simd import BLOCK
    monkeypatch.setattr(neuron, "FUSED_WEIGHT_GRAD_DENSITIES", (0.0, 1.1) if path == "in_bptt" else (0.0, 0.0))
    monkeypatch.setattr(layers, "EVENT_DENSITY_THRESHOLD", 1.1 if path == "events" else 0.0)
    monkeypatch.setattr(layers, "EVENT_MIN_MACS", 0)
    monkeypatch.setattr(dense, "MIN_WEIGHT_GRAD_MACS", 0)
    rng = np.random.default_rng(11)
    # three chunks of rows and three blocks of columns, the last of each part full
    T, B, N = 20, 2 * neuron.RECURRENT_CHUNK_ROWS + 5, 2 * BLOCK + 6
    layer = snn.RecurrentLIF(N, tau=5e-3, threshold=0.5, init_bound=0.5, rng=rng)
    layer.forward(rng.normal(0.4, 0.6, (T, B, N)).astype(np.float32))
    z0 = layer.state["z"].copy()
    assert 0.05 < z0.mean() < 0.95
    z = layer.forward(rng.normal(0.4, 0.6, (T, B, N)).astype(np.float32), continue_state=True)
    assert 0.05 < z.mean() < 0.95
    grad_x = layer.backward(rng.normal(size=(T, B, N)).astype(np.float32))
    prev = np.concatenate([z0[None], z[:-1]]).reshape(T * B, N)
    terms = grad_x.reshape(T * B, N).astype(np.float64)
    expected = prev.T @ terms
    # float32 sums of up to T * B terms, in chunks: errors of order sqrt(terms) units of
    # rounding of the sum of their sizes (a term missing or added twice: about 1e-3 of it)
    bound = 1e-6 + 2e-6 * (prev.T @ np.abs(terms))
    np.testing.assert_array_less(np.abs(layer.grads["recurrent_weight"] - expected), bound)


@pytest.mark.parametrize("density, n, dtype, fused", [(0.3, 64, np.float32, True), (0.1, 64, np.float64, True),
                                                      (0.05, 64, np.float32, False), (0.8, 64, np.float32, False),
                                                      (0.3, 2048, np.float32, False)])
def test_the_bptt_sums_the_recurrent_weight_gradient_in_its_density_range(density, n, dtype, fused):
    """It sums dV at densities in FUSED_WEIGHT_GRAD_DENSITIES (0.1 included, 0.8 not) when its
    chunks' copies of dV fit in CHUNK_COPIES_BYTES (B = 256: 4 copies; n = 2048 float32:
    64 MB); the CUDA backend never."""
    from snnumba.backend import CUDABackend, get_backend
    s = np.zeros((10, 256, n), np.uint8)
    s.reshape(-1)[:int(density * s.size)] = 1
    assert get_backend("cpu").fuses_recurrent_weight_grad(s, dtype) is fused
    assert CUDABackend.fuses_recurrent_weight_grad(s, dtype) is False
