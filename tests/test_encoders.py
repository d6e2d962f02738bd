"""Spike encoders against element-by-element plain-Python references."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import snnumba as snn

values = st.floats(-0.5, 1.5, allow_nan=False, width=64)
small_shapes = hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)


def naive_rate(x, num_steps, gain, offset, seed):
    u = np.random.default_rng(seed).random((num_steps,) + x.shape)
    out = np.zeros(u.shape, np.uint8)
    for t in range(num_steps):
        for idx in np.ndindex(x.shape):
            p = min(max(gain * float(x[idx]) + offset, 0.0), 1.0)
            out[(t,) + idx] = u[(t,) + idx] < p
    return out


def naive_latency(x, num_steps, threshold, mode, tau):
    out = np.zeros((num_steps,) + x.shape, np.uint8)
    for idx in np.ndindex(x.shape):
        xi = float(x[idx])
        if xi < threshold or (mode == "log" and xi == threshold):
            continue
        t = tau * (1 - xi) if mode == "linear" else tau * math.log(xi / (xi - threshold))
        step = round(max(t, 0.0))  # Python rounds ties to even, as np.rint
        if step < num_steps:
            out[(step,) + idx] = 1
    return out


def naive_delta(x, threshold, off_spikes, padding):
    T = x.shape[0]
    on = np.zeros(x.shape, np.int8)
    off = np.zeros(x.shape, np.int8)
    for t in range(T):
        for idx in np.ndindex(x.shape[1:]):
            prev = (0.0 if padding == "zero" else x[(0,) + idx]) if t == 0 else x[(t - 1,) + idx]
            change = x[(t,) + idx] - prev
            on[(t,) + idx] = change >= threshold
            off[(t,) + idx] = change <= -threshold
    if off_spikes is None:
        return on
    if off_spikes == "signed":
        return on - off
    return np.concatenate([on, off], axis=-1)


@given(hnp.arrays(np.float64, small_shapes, elements=values), st.integers(1, 6),
       st.floats(0, 2), st.floats(-0.5, 0.5), st.integers(0, 2**32 - 1))
def test_rate_equals_reference(x, num_steps, gain, offset, seed):
    out = snn.rate_encode(x, num_steps, gain=gain, offset=offset, rng=seed)
    assert out.shape == (num_steps,) + x.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, naive_rate(x, num_steps, gain, offset, seed))


def test_rate_time_major_input_is_one_probability_per_step():
    p = np.linspace(0, 1, 12).reshape(3, 4)
    out = snn.rate_encode(p, rng=5)
    assert out.shape == p.shape
    np.testing.assert_array_equal(out, np.random.default_rng(5).random(p.shape) < p)


def test_rate_mean_matches_probability():
    p = np.array([0.0, 0.02, 0.1, 0.3, 0.5, 0.9, 1.0])
    T = 20000
    rate = snn.rate_encode(p, T, rng=0, dtype=np.float64).mean(axis=0)
    tol = 5 * np.sqrt(p * (1 - p) / T) + 1e-12
    assert np.all(np.abs(rate - p) <= tol), (rate, p)
    assert rate[0] == 0 and rate[-1] == 1


def test_rate_same_seed_same_spikes_and_generator_is_consumed():
    x = np.full((5, 6), 0.4)
    np.testing.assert_array_equal(snn.rate_encode(x, 20, rng=3), snn.rate_encode(x, 20, rng=3))
    assert not np.array_equal(snn.rate_encode(x, 20, rng=3), snn.rate_encode(x, 20, rng=4))
    g = np.random.default_rng(3)
    first, second = snn.rate_encode(x, 20, rng=g), snn.rate_encode(x, 20, rng=g)
    np.testing.assert_array_equal(first, snn.rate_encode(x, 20, rng=3))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int8, np.float32, np.float64])
def test_encoders_dtypes(dtype):
    x = np.array([0.2, 0.9])
    assert snn.rate_encode(x, 3, rng=0, dtype=dtype).dtype == np.dtype(dtype)
    assert snn.latency_encode(x, 3, dtype=dtype).dtype == np.dtype(dtype)
    assert snn.delta_encode(x[:, None], dtype=dtype).dtype == np.dtype(dtype)


@given(hnp.arrays(np.float64, small_shapes, elements=values), st.integers(1, 12),
       st.floats(0.01, 0.9), st.sampled_from(["linear", "log"]),
       st.one_of(st.none(), st.floats(0.1, 20)))
def test_latency_equals_reference(x, num_steps, threshold, mode, tau):
    out = snn.latency_encode(x, num_steps, threshold=threshold, mode=mode, tau=tau)
    expected = naive_latency(x, num_steps, threshold, mode, num_steps - 1 if tau is None else tau)
    np.testing.assert_array_equal(out, expected)
    assert out.sum(axis=0).max(initial=0) <= 1


@given(st.lists(st.floats(0.011, 1.0), min_size=2, max_size=20), st.sampled_from(["linear", "log"]))
def test_latency_larger_input_spikes_no_later(xs, mode):
    x = np.array(xs)
    out = snn.latency_encode(x, 50, threshold=0.01, mode=mode, tau=10)
    fired = out.any(axis=0)
    first = out.argmax(axis=0)
    order = np.argsort(x[fired])
    assert np.all(np.diff(first[fired][order]) <= 0)


def test_latency_linear_default_spans_the_window():
    out = snn.latency_encode([1.0, 0.5, 0.01, 0.009], 11, threshold=0.01)
    # tau = 10 steps: t = 10 (1 - x) -> 0, 5, 9.9 -> 10, and no spike below threshold
    assert out.argmax(axis=0)[:3].tolist() == [0, 5, 10] and out[:, 3].sum() == 0


def test_latency_log_is_rc_charging_time():
    tau, th, x = 4.0, 0.5, 1.0
    out = snn.latency_encode([x], 10, threshold=th, mode="log", tau=tau)
    assert out[:, 0].argmax() == round(tau * math.log(2.0))  # ln(1 / (1 - 0.5)) * 4 = 2.77 -> 3


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=3, max_side=5),
                  elements=st.floats(-3, 3, allow_nan=False)),
       st.floats(0.1, 2), st.sampled_from([None, "signed", "channels"]), st.sampled_from(["zero", "repeat"]))
def test_delta_equals_reference(x, threshold, off_spikes, padding):
    out = snn.delta_encode(x, threshold=threshold, off_spikes=off_spikes, padding=padding)
    np.testing.assert_array_equal(out, naive_delta(x, threshold, off_spikes, padding))
    assert out.dtype == (np.int8 if off_spikes == "signed" else np.uint8)


def test_delta_examples():
    x = np.array([1, 2, 0, 2, 2.9])
    np.testing.assert_array_equal(snn.delta_encode(x, 1.0), [1, 1, 0, 1, 0])
    np.testing.assert_array_equal(snn.delta_encode(x, 1.0, padding="repeat"), [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(snn.delta_encode(x, 1.0, off_spikes="signed"), [1, 1, -1, 1, 0])


def test_encoded_spikes_feed_a_network():
    rng = np.random.default_rng(0)
    x = rng.random((4, 6))                                # [B, N] intensities
    net = snn.Network([snn.Dense(6, 3, rng=0), snn.LIF()])
    for spikes in (snn.rate_encode(x, 10, rng=1), snn.latency_encode(x, 10)):
        assert net.forward(spikes).shape == (10, 4, 3)
    on_off = snn.delta_encode(rng.random((10, 4, 3)), 0.2, off_spikes="channels")
    assert on_off.shape == (10, 4, 6) and net.forward(on_off).shape == (10, 4, 3)


@pytest.mark.parametrize("call,exc,name", [
    (lambda: snn.rate_encode([0.5, np.nan], 3), ValueError, "'x'"),
    (lambda: snn.rate_encode(["a"], 3), TypeError, "'x'"),
    (lambda: snn.rate_encode([0.5], 0), ValueError, "'num_steps'"),
    (lambda: snn.rate_encode([0.5], 2.5), TypeError, "'num_steps'"),
    (lambda: snn.rate_encode([0.5], 3, gain=np.inf), ValueError, "'gain'"),
    (lambda: snn.rate_encode([0.5], 3, offset="1"), TypeError, "'offset'"),
    (lambda: snn.rate_encode([0.5], 3, dtype=np.int32), TypeError, "'dtype'"),
    (lambda: snn.rate_encode([0.5], 3, rng="seed"), TypeError, "'rng'"),
    (lambda: snn.rate_encode([0.5], 3, rng=-1), TypeError, "'rng'"),
    (lambda: snn.latency_encode([0.5], 3, threshold=1.0), ValueError, "'threshold'"),
    (lambda: snn.latency_encode([0.5], 3, threshold=0), ValueError, "'threshold'"),
    (lambda: snn.latency_encode([0.5], 3, mode="exp"), ValueError, "mode"),
    (lambda: snn.latency_encode([0.5], 3, tau=-1.0), ValueError, "'tau'"),
    (lambda: snn.latency_encode([np.inf], 3), ValueError, "'x'"),
    (lambda: snn.latency_encode([0.5], None), TypeError, "'num_steps'"),
    (lambda: snn.delta_encode(1.0), ValueError, "'x'"),
    (lambda: snn.delta_encode([1.0, 2.0], threshold=0), ValueError, "'threshold'"),
    (lambda: snn.delta_encode([[1.0]], off_spikes="both"), ValueError, "off_spikes"),
    (lambda: snn.delta_encode([[1.0]], off_spikes="signed", dtype=np.uint8), TypeError, "'dtype'"),
    (lambda: snn.delta_encode([1.0, 2.0], off_spikes="channels"), ValueError, "'x'"),
    (lambda: snn.delta_encode([[1.0]], padding="edge"), ValueError, "padding"),
])
def test_bad_input_names_the_argument(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
