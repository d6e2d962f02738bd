"""The scalar and column helpers that the CPU kernels and the CUDA twins both compile
(``kernels/scalar.py``, ``kernels/columns.py``), called as plain Python and checked against
references written from the documented equations. CPU-vs-CUDA equality cannot see a bug
that both twins share; these tests can."""
import math

import numba
import numpy as np
import pytest
from hypothesis import example, given, strategies as st
from numba import njit

from snnumba.kernels import columns, scalar
from snnumba.kernels.cpu._compile import surrogate_grad as cpu_surrogate_grad
from snnumba.kernels.cpu._exp import exp_nonpositive, exp_nonpositive_float32
from tests.reference import (naive_adam, naive_bernoulli_cell, naive_delayed_dense, naive_gaussian_cell,
                             naive_sgd, naive_spike_cluster, surrogate_derivative)

#: The integer codes the kernels take, as documented in ``scalar.surrogate_grad``.
CODES = {"sigmoid": 0, "fast_sigmoid": 1, "arctan": 2, "triangle": 3}


@pytest.mark.parametrize("name", list(CODES))
@pytest.mark.parametrize("beta", [0.5, 1.0, 2.5, 10.0])
def test_surrogate_grad_equals_documented_formula(name, beta):
    # 0 (the peak), the triangle's kinks at |x| = 1/beta, and far tails
    x = np.concatenate([np.linspace(-3, 3, 61), [0.0, 1 / beta, -1 / beta, 1e3, -1e3]])
    got = np.array([scalar.surrogate_grad(CODES[name], float(xi), beta) for xi in x])
    np.testing.assert_allclose(got, surrogate_derivative(name, x, beta), rtol=1e-12, atol=1e-300)


def test_surrogate_grad_values_by_hand():
    """A few values worked out on paper, independent of any transcription."""
    assert scalar.surrogate_grad(0, 0.0, 4.0) == pytest.approx(1.0)          # beta / 4
    assert scalar.surrogate_grad(1, 0.5, 2.0) == pytest.approx(0.25)         # 1 / (1 + 1)^2
    assert scalar.surrogate_grad(2, 0.0, 3.0) == pytest.approx(1.5)          # beta / 2
    assert scalar.surrogate_grad(2, 1 / math.pi, 2.0) == pytest.approx(0.5)  # 1 / (1 + 1)
    assert scalar.surrogate_grad(3, 0.25, 2.0) == pytest.approx(1.0)         # 2 (1 - 0.5)
    assert scalar.surrogate_grad(3, -0.75, 2.0) == 0.0
    assert scalar.surrogate_grad(0, -1e6, 5.0) == 0.0                        # no overflow


@njit
def _cpu_exp(x, out):
    for i in range(x.size):
        out[i] = exp_nonpositive(x[i])


def _ulps_from_libm(x):
    got = np.empty_like(x)
    _cpu_exp(x, got)
    want = np.exp(x)
    return np.abs(got - want) / np.spacing(np.maximum(want, 5e-324)), got


def test_cpu_exp_is_within_one_ulp_of_libm_over_its_whole_range():
    # dense over [-800, 0]: the subnormal results below -708, rounding to 0 below -745
    x = -np.concatenate([np.linspace(0, 800, 200_001), np.geomspace(1e-300, 1, 2001), [745.13, 745.14]])
    ulps, got = _ulps_from_libm(x)
    assert ulps.max() <= 1.0
    assert got[0] == 1.0 and got[-1] == 0.0 and got[-2] > 0.0


@given(st.floats(-746, 0))
def test_cpu_exp_equals_libm_to_one_ulp(x):
    assert _ulps_from_libm(np.array([x]))[0][0] <= 1.0


def test_cpu_exp_limits():
    ulps, got = _ulps_from_libm(np.array([-np.inf, -1e308, -746.0, np.nan]))
    assert got[:3].tolist() == [0.0, 0.0, 0.0] and np.isnan(got[3])


@njit
def _cpu_exp_float32(x, out):
    for i in range(x.size):
        out[i] = exp_nonpositive_float32(x[i])


def _float32_ulps(x):
    got = np.empty_like(x)
    _cpu_exp_float32(x, got)
    want = np.exp(x.astype(np.float64))
    ulp = np.spacing(np.maximum(want, np.finfo(np.float32).smallest_subnormal).astype(np.float32))
    return np.abs(got - want) / ulp.astype(np.float64), got


def test_cpu_float32_exp_is_within_two_ulp_over_its_whole_range():
    # dense over [-110, 0]: subnormal results below -87.3, 0 below about -104
    x = -np.concatenate([np.linspace(0, 110, 400_001), np.geomspace(1e-38, 1, 2001)]).astype(np.float32)
    ulps, got = _float32_ulps(x)
    assert ulps.max() <= 2.0
    assert got[0] == 1.0 and got[400_000] == 0.0


@given(st.floats(-104, 0, width=32))
def test_cpu_float32_exp_equals_float32_exp_to_two_ulp(x):
    assert _float32_ulps(np.array([x], np.float32))[0][0] <= 2.0


def test_cpu_float32_exp_limits():
    _, got = _float32_ulps(np.array([-np.inf, -1e38, -104.0, np.nan], np.float32))
    assert got[:3].tolist() == [0.0, 0.0, 0.0] and np.isnan(got[3])


@njit
def _cpu_surrogate(code, x, slope, like=0.0):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = cpu_surrogate_grad(code, x[i], slope, like)
    return out


@pytest.mark.parametrize("name", list(CODES))
def test_cpu_surrogate_for_float32_layers_equals_the_float64_one_to_float32_rounding(name):
    """Given a float32 ``like`` (a float32 layer's recordings), the sigmoid's exponential is
    computed in float32; every surrogate stays within float32 rounding of the float64 one."""
    x = np.concatenate([np.linspace(-3, 3, 601), [1e3, -1e3, -150.0, 150.0]])
    got = _cpu_surrogate(CODES[name], x, 5.0, np.float32(0.0))
    np.testing.assert_allclose(got, surrogate_derivative(name, x, 5.0), rtol=1e-6, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_surrogate_keeps_the_layer_precision(dtype):
    """Given values of a layer's dtype (as the neuron BPTT passes them), the compiled
    surrogate returns that dtype, for every code: a float64 literal anywhere in it would
    promote a float32 layer's BPTT to float64 (1.6x slower)."""
    surrogate = njit(lambda code, x, slope: cpu_surrogate_grad(code, x, slope, x))
    surrogate(0, dtype(-0.3), dtype(5.0))
    assert surrogate.nopython_signatures[0].return_type == numba.from_dtype(np.dtype(dtype))


@pytest.mark.parametrize("name", list(CODES))
def test_cpu_compiled_surrogate_equals_documented_formula(name):
    x = np.concatenate([np.linspace(-3, 3, 61), [1e3, -1e3, -150.0, 150.0]])
    got = _cpu_surrogate(CODES[name], x, 5.0)
    np.testing.assert_allclose(got, surrogate_derivative(name, x, 5.0), rtol=1e-14, atol=1e-300)


@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(-1, 1), st.floats(0, 2), st.integers(1, 4),
       st.sampled_from([0.0, 0.01]), st.sampled_from([(0.9, 0.999), (0.0, 0.5)]))
def test_adam_update_equals_reference(p, g, m, v, step, weight_decay, betas):
    beta1, beta2 = betas
    got = scalar.adam_update(p, g, m, v, 0.01, beta1, beta2, 1e-8, weight_decay,
                             1 - beta1 ** step, 1 - beta2 ** step)
    want = naive_adam(np.float64(p), g, m, v, step, 0.01, beta1, beta2, 1e-8, weight_decay)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("momentum,dampening,nesterov", [(0.0, 0.0, False), (0.9, 0.0, True),
                                                         (0.5, 0.3, False), (0.9, 0.0, False)])
@pytest.mark.parametrize("first", [True, False])
def test_sgd_update_equals_reference(momentum, dampening, nesterov, first):
    p, g, buf = 0.7, -1.3, 0.4
    got = scalar.sgd_update(p, g, buf, 0.05, momentum, dampening, 0.01, nesterov, first)
    want = naive_sgd(np.array(p), np.array(g), np.array(buf), 1 if first else 2, 0.05, momentum,
                     dampening, 0.01, nesterov)
    np.testing.assert_allclose(got, [float(want[0]), float(want[1]) if momentum else buf], rtol=1e-14)


# probabilities at and beyond the clip (1e-4), targets at 0 and 1
@pytest.mark.parametrize("p", [0.0, 5e-5, 0.3, 0.5, 1.0, -4.0, 2.5])
@pytest.mark.parametrize("x", [0.0, 0.4, 1.0])
@pytest.mark.parametrize("logits", [False, True])
def test_bernoulli_error_equals_reference(p, x, logits):
    if not logits and not 0 <= p <= 1:
        return
    got = scalar.bernoulli_error(p, x, 1.5, 1.0, logits)
    want = naive_bernoulli_cell(np.array(p), np.array(x), 1.5, 1.0, logits)
    np.testing.assert_allclose(got, want[:3], rtol=1e-12, atol=1e-12)
    assert scalar.bernoulli_error(p, x, 1.5, 0.0, logits)[1:] == (0.0, 0.0)   # masked out


@pytest.mark.parametrize("mu,x,sigma", [(0.3, -1.2, 1.0), (2.0, 0.5, 0.25), (0.0, 0.0, 3.0)])
def test_gaussian_error_equals_reference(mu, x, sigma):
    got = scalar.gaussian_error(mu, x, -0.7, 1.0, sigma)
    want = naive_gaussian_cell(np.array(mu), np.array(x), -0.7, 1.0, sigma)
    np.testing.assert_allclose(got, want[:3], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("a,b", [(1.0, 2.0), (-3.0, 4.0), (0.0, 0.0), (3.0, 0.0), (-3.0, 0.0), (0.0, -2.0)])
def test_clean_divide_is_nan_to_num(a, b):
    lowest = float(np.finfo(np.float32).min)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.nan_to_num(np.float32(a) / np.float32(b), nan=0, posinf=0)
    assert scalar.clean_divide(a, b, lowest) == float(want)


@st.composite
def membranes(draw):
    T, N = draw(st.integers(2, 12)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    v = rng.uniform(-1.0, 2.0, (T, N))
    return np.round(v, 1) if draw(st.booleans()) else v   # ties and exact threshold hits


def mask_steps(mask):
    """[T, N] masks with at most one True per column -> step per column, -1 for none."""
    return np.where(mask.any(axis=0), mask.argmax(axis=0), -1)


def cluster_by_steps(v, threshold, T_in):
    """spike_cluster of v[T, N] from the shared steps, called one neuron at a time as the
    CUDA twin calls them, then the seed's k_positive rule on the extremes (as the wrapper)."""
    T, N = v.shape
    n_o, k_pos, k_neg = np.zeros(N), np.zeros(N, np.int64), np.zeros(N, np.int64)
    extremes = np.zeros((4, N))
    for n in range(N):
        count, num, min_num, min_t, last, best, best_t, top, bottom, probe = columns.cluster_start(v, n, T_in)
        for t in range(T):
            count, num, min_num, min_t, last = columns.cluster_step(
                v[t, n] >= threshold, float(t), float(T_in), 1.0, count, num, min_num, min_t, last)
            top, bottom, probe = columns.extremes_step(v[t, n], top, bottom, probe)
            if t >= T_in:
                best, best_t = columns.positive_step(v[t - T_in, n], float(t - T_in), float(T_in), last, best, best_t)
        for s in range(max(T - T_in, 0), T):
            best, best_t = columns.positive_step(v[s, n], float(s), float(T_in), last, best, best_t)
        columns.cluster_finish(n, T, count, num, min_num, min_t, last, best, best_t, top, bottom, probe,
                               n_o, k_pos, k_neg, extremes)
    best, top, bottom = extremes[:3]
    v_min = bottom.min()
    k_pos = np.where(best > v_min, k_pos, np.where(top == v_min, 0, -1))
    return n_o, k_pos, k_neg


@given(membranes(), st.integers(0, 3))
@example(np.array([[1.0, 0.0], [0.5, 1.0], [0.5, 0.0], [1.0, 0.5], [0.0, 0.5]]), 1)   # ties, v == threshold
def test_spike_cluster_steps_equal_seed(v, T_in):
    n_o, k_pos, k_neg = naive_spike_cluster(v, 1.0, T_in)
    got = cluster_by_steps(v, 1.0, T_in)
    np.testing.assert_array_equal(got[0], n_o)
    np.testing.assert_array_equal(got[1], mask_steps(k_pos))
    np.testing.assert_array_equal(got[2], mask_steps(k_neg))


@given(st.lists(st.sampled_from([0.0, 1.0]), min_size=1, max_size=12), st.integers(1, 3))
def test_first_spike_row(row, rows):
    spikes = np.tile(np.array(row), (rows, 1))
    spikes[0] = 0.0                               # a silent row
    out = np.zeros(spikes.shape, bool)
    for r in range(rows):
        columns.first_spike_row(spikes, r, out)
    np.testing.assert_array_equal(out, np.cumsum(np.cumsum(spikes, 1), 1) == 1)


def test_delayed_input_reads_the_documented_steps():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2, 3))
    past = lambda k, b, i: x[k, b, i] if k >= 0 else 0.0  # noqa: E731 - x is zero before step 0
    for t in range(6):
        for s in range(0, 8):
            for f in (0.0, 0.25, 0.5):
                want = (1 - f) * past(t - s, 1, 2) + f * past(t - s - 1, 1, 2)
                assert columns.delayed_input(x, t, 1, 2, s, f) == pytest.approx(want, rel=1e-15, abs=0)


@given(st.integers(1, 6), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_delayed_input_grad_is_the_adjoint_of_the_delay(T, I, J, seed):
    """sum_{t,b,i} x grad_x == sum_{t,b,j} g h for h = the delayed projection of x (reference)."""
    rng = np.random.default_rng(seed)
    B = 2
    x, g, w = rng.normal(size=(T, B, I)), rng.normal(size=(T, B, J)), rng.normal(size=(I, J))
    d = rng.uniform(0, T + 1, (I, J))
    d[0, 0] = 0.0                                 # an immediate synapse
    steps, frac = np.floor(d).astype(np.int64), d - np.floor(d)
    grad_x = np.array([[[columns.delayed_input_grad_value(g, w, steps, frac, t, b, i) for i in range(I)]
                        for b in range(B)] for t in range(T)])
    h = naive_delayed_dense(x, w, d)
    assert np.sum(x * grad_x) == pytest.approx(np.sum(g * h), rel=1e-10, abs=1e-12)
