"""CPU LIF / readout kernels against the NumPy references."""
import numba
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from snnumba.kernels import cpu
from snnumba.surrogate import resolve
from tests.reference import (naive_lif_forward, naive_readout_forward, tangent_lif,
                             tangent_readout)

dtypes = st.sampled_from([np.float32, np.float64])
shapes = hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=7)


#: Exactly representable values: with them a membrane lands exactly on the threshold
#: (H(0) = 0: no spike), the decay is exact and an input is exactly zero.
EDGE_H = [0.0, 0.25, 0.5, 1.0, -0.5]
EDGE_ALPHA = [0.0, 0.5, 1.0]
EDGE_THRESHOLD = [0.5, 1.0]


@st.composite
def lif_case(draw):
    dtype = draw(dtypes)
    shape = draw(shapes)
    edge = draw(st.booleans())   # half of the cases use only the edge values
    h = draw(hnp.arrays(dtype, shape, elements=st.sampled_from(EDGE_H) if edge else st.floats(-2, 3, width=32)))
    alpha = draw(st.sampled_from(EDGE_ALPHA) if edge else st.floats(0.0, 1.0))
    per_neuron = draw(st.booleans())
    th_shape = shape[1:] if per_neuron else ()
    threshold = draw(hnp.arrays(np.float64, th_shape,
                                elements=st.sampled_from(EDGE_THRESHOLD) if edge else st.floats(0.05, 2.0)))
    return h, dtype(alpha), threshold


def run_lif(h, alpha, threshold, v0=None, s0=None):
    T, B, N = h.shape
    th = np.ascontiguousarray(np.broadcast_to(threshold, (B, N)), h.dtype)
    v0 = np.zeros((B, N), h.dtype) if v0 is None else v0
    s0 = np.zeros((B, N), h.dtype) if s0 is None else s0
    v, s = np.empty_like(h), np.empty_like(h)
    vf, sf = np.empty((B, N), h.dtype), np.empty((B, N), h.dtype)
    cpu.lif_forward(h, alpha, th, v0, s0, v, s, vf, sf)
    return v, s, vf, sf, th


@given(lif_case())
def test_lif_forward_equals_reference(case):
    h, alpha, threshold = case
    v, s, vf, sf, _ = run_lif(h, alpha, threshold)
    rv, rs, rvf, rsf = naive_lif_forward(h, alpha, threshold)
    # the same operations in the same dtype: equal bit for bit
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(s, rs)
    np.testing.assert_array_equal(vf, rvf)
    np.testing.assert_array_equal(sf, rsf)
    assert set(np.unique(s)) <= {0.0, 1.0}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_membrane_exactly_at_threshold_does_not_spike(dtype):
    """H(0) = 0: v[t] == threshold gives no spike at t + 1; the next float above does."""
    h = np.zeros((4, 2, 1), dtype)
    h[0, 0, 0] = 1.0                                         # v[1] = 1.0 == threshold
    h[0, 1, 0] = np.nextafter(dtype(1.0), dtype(2.0))        # v[1] just above it
    v, s, _, _, _ = run_lif(h, dtype(0.5), 1.0)
    assert v[1, 0, 0] == 1.0 and v[1, 1, 0] > 1.0
    np.testing.assert_array_equal(s[:, 0, 0], [0, 0, 0, 0])
    np.testing.assert_array_equal(s[:, 1, 0], [0, 0, 1, 0])


def test_lif_forward_continues_from_state():
    rng = np.random.default_rng(1)
    h = rng.normal(0.5, 1, (20, 3, 4))
    whole = run_lif(h, 0.9, 1.0)
    first = run_lif(h[:8], 0.9, 1.0)
    second = run_lif(h[8:], 0.9, 1.0, first[2], first[3])
    np.testing.assert_array_equal(np.concatenate([first[0], second[0]]), whole[0])
    np.testing.assert_array_equal(np.concatenate([first[1], second[1]]), whole[1])


@given(lif_case(), st.sampled_from(["sigmoid", "fast_sigmoid", "arctan", "triangle"]),
       st.floats(0.5, 8.0), st.integers(0, 2**32 - 1))
def test_lif_backward_equals_forward_mode_tangent(case, surrogate, beta, seed):
    """<grad_h, dh> == sum_t <grad_s, ds> + <grad_v, dv> for the surrogate model."""
    h, alpha, threshold = case
    h = h.astype(np.float64)
    rng = np.random.default_rng(seed)
    gs, gv, dh = (rng.normal(size=h.shape) for _ in range(3))
    v, s, _, _, th = run_lif(h, np.float64(alpha), threshold)
    code, beta = resolve(surrogate, beta)
    grad_h = np.empty_like(h)
    cpu.lif_backward(h, v, s, np.float64(alpha), th, code, beta, gs, gv, grad_h)
    _, _, dv, ds = tangent_lif(h, dh, float(alpha), th, surrogate, beta)
    lhs = np.sum(grad_h * dh)
    rhs = np.sum(gs * ds) + np.sum(gv * dv)
    assert np.isclose(lhs, rhs, rtol=1e-9, atol=1e-9 * (1 + np.abs(gs).sum() + np.abs(gv).sum()))


@given(dtypes, shapes, st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_readout_forward_and_backward(dtype, shape, alpha, seed):
    rng = np.random.default_rng(seed)
    h = rng.normal(size=shape).astype(dtype)
    T, B, N = shape
    v, vf = np.empty_like(h), np.empty((B, N), dtype)
    cpu.readout_forward(h, dtype(alpha), np.zeros((B, N), dtype), v, vf)
    rv, rvf = naive_readout_forward(h, alpha)
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(vf, rvf)
    # backward of a linear map: <grad_h, dh> == <grad_v, dv>
    h64, gv, dh = h.astype(np.float64), rng.normal(size=shape), rng.normal(size=shape)
    grad_h = np.empty_like(h64)
    cpu.readout_backward(np.float64(alpha), gv, grad_h)
    _, dv = tangent_readout(h64, dh, alpha)
    assert np.isclose(np.sum(grad_h * dh), np.sum(gv * dv), rtol=1e-10, atol=1e-12)


def test_parallel_kernels_equal_serial():
    """prange iterations own disjoint (batch) rows, so parallel == serial exactly."""
    rng = np.random.default_rng(3)
    h = rng.normal(0.4, 1, (30, 17, 9))
    v, s, vf, sf, th = run_lif(h, 0.8, 1.0)
    serial = numba.njit(cpu.lif_forward.py_func)
    v2, s2 = np.empty_like(h), np.empty_like(h)
    serial(h, 0.8, th, np.zeros_like(vf), np.zeros_like(sf), v2, s2, np.empty_like(vf), np.empty_like(sf))
    np.testing.assert_array_equal(v, v2)
    np.testing.assert_array_equal(s, s2)
    gs = rng.normal(size=h.shape)
    g1, g2 = np.empty_like(h), np.empty_like(h)
    cpu.lif_backward(h, v, s, 0.8, th, 0, 5.0, gs, np.zeros_like(h), g1)
    numba.njit(cpu.lif_backward.py_func)(h, v, s, 0.8, th, 0, 5.0, gs, np.zeros_like(h), g2)
    np.testing.assert_array_equal(g1, g2)
