"""CPU LIF (the neuron kernels' default model) / readout kernels against the NumPy references."""
import numba
import numpy as np
import pytest
from hypothesis import example, given, strategies as st
from hypothesis.extra import numpy as hnp

from snnumba.kernels import cpu
from snnumba.kernels.cpu.lif import MAX_BLOCK, MIN_BLOCK, block_size, rows_as_one
from snnumba.surrogate import resolve
from tests.reference import (naive_lif_backward, naive_lif_forward, naive_readout_forward, tangent_lif,
                             tangent_readout)

dtypes = st.sampled_from([np.float32, np.float64])
shapes = hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=7)
# (batch, neurons) around the kernels' neuron blocks: one short block, one spare neuron,
# three blocks with a ragged last one, and the largest block plus one
BLOCK_CASES = [(b, n) for b in (1, 3) for n in (MIN_BLOCK - 1, MIN_BLOCK + 1, 2 * MIN_BLOCK + 3)] + \
    [(9, MAX_BLOCK + 1)]


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


def run_lif(h, alpha, threshold, v0=None, s0=None, record_v=True):
    """The default neuron kernel's outputs (v, s, v_final, s_final) and the [B, N]
    threshold it was given (the seed's LIF: reset to zero, delayed spike, one alpha for
    all neurons: the loop LIF layers run; tests/kernels/test_neuron.py covers [N] alphas)."""
    T, B, N = h.shape
    th = np.array(np.broadcast_to(threshold, (B, N)), h.dtype)   # writable, as the layers pass it
    v0 = np.zeros((B, N), h.dtype) if v0 is None else v0
    s0 = np.zeros((B, N), np.uint8) if s0 is None else s0
    v = np.empty((T if record_v else 0, B, N), h.dtype)
    s = np.empty(h.shape, np.uint8)
    vf, sf = np.empty((B, N), h.dtype), np.empty((B, N), np.uint8)
    none, no_steps = np.empty(0, h.dtype), np.empty((0, B, N), h.dtype)
    rest, rest8 = np.zeros((B, N), h.dtype), np.zeros((B, N), np.uint8)
    cpu.neuron_forward(h, np.empty((0, 0), h.dtype), np.full(1, alpha, h.dtype), none, none, none, th, 0, 0,
                       v0, s0, rest, rest, rest8, v, s, no_steps, no_steps, no_steps, vf, sf,
                       rest.copy(), rest.copy(), rest8.copy())
    return v, s, vf, sf, th


def run_lif_backward(h, v, s, alpha, th, code, slope, gs, gv):
    T, B, N = h.shape
    grad_h = np.empty(h.shape, h.dtype)
    none, no_steps, no_rows = np.empty(0, h.dtype), np.empty((0, B, N), h.dtype), np.empty((0, 0), h.dtype)
    cpu.neuron_backward(h, no_rows, v, s, no_steps, no_steps, np.full(1, alpha, h.dtype), none, none, none, th,
                        0, 0, np.zeros((B, N), h.dtype), np.zeros((B, N), np.uint8), code, slope, gs, gv, grad_h,
                        no_rows, no_rows, no_rows)
    return grad_h


def check_forward(h, alpha, threshold):
    v, s, vf, sf, _ = run_lif(h, alpha, threshold)
    rv, rs, rvf, rsf = naive_lif_forward(h, alpha, threshold)
    # the same operations in the same dtype: equal bit for bit
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(s, rs)
    np.testing.assert_array_equal(vf, rvf)
    np.testing.assert_array_equal(sf, rsf)
    assert s.dtype == sf.dtype == np.uint8 and set(np.unique(s)) <= {0, 1}
    # evaluation mode (no membrane recorded): the same spikes and final state
    _, s_eval, vf_eval, sf_eval, _ = run_lif(h, alpha, threshold, record_v=False)
    np.testing.assert_array_equal(s_eval, s)
    np.testing.assert_array_equal(vf_eval, vf)
    np.testing.assert_array_equal(sf_eval, sf)


@given(lif_case())
@example((np.zeros((3, 2, 5), np.float32), np.float32(0.5), np.array(1.0)))       # all-zero input
@example((np.ones((6, 2, 3), np.float64), np.float64(0.9), np.array(0.5)))        # all ones: bursts
@example((np.full((5, 1, 4), 0.75, np.float32), np.float32(0.0), np.array(0.75)))  # v == threshold
def test_lif_forward_equals_reference(case):
    check_forward(*case)


@pytest.mark.parametrize("batch,n", BLOCK_CASES)
def test_lif_across_neuron_blocks(batch, n):
    assert n % block_size(batch, n) != 0                 # a ragged last block
    rng = np.random.default_rng(n + batch)
    h = rng.normal(0.4, 1.0, (4 if n > MAX_BLOCK else 9, batch, n)).astype(np.float32)
    threshold = rng.uniform(0.5, 1.5, (batch, n))
    check_forward(h, np.float32(0.8), threshold)
    h64 = h.astype(np.float64)
    v, s, _, _, th = run_lif(h64, 0.8, threshold)
    gs, gv = rng.normal(size=h.shape), rng.normal(size=h.shape)
    grad_h = run_lif_backward(h64, v, s, 0.8, th, 1, 3.0, gs, gv)
    ref = naive_lif_backward(h64, v, s, 0.8, threshold, "fast_sigmoid", 3.0, gs, gv)
    np.testing.assert_allclose(grad_h, ref, rtol=1e-12, atol=1e-12)


def test_membrane_exactly_at_threshold_does_not_fire():
    """H(0) = 0: v == threshold stays silent, the next float above it fires."""
    th = np.float32(0.75)
    h = np.zeros((3, 1, 2), np.float32)
    h[0, 0] = [th, np.nextafter(th, np.float32(np.inf))]
    v, s, _, _, _ = run_lif(h, np.float32(0.0), th)
    assert v[1, 0, 0] == th
    np.testing.assert_array_equal(s[2, 0], [0, 1])


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
    grad_h = run_lif_backward(h, v, s, np.float64(alpha), th, code, beta, gs, gv)
    _, _, dv, ds = tangent_lif(h, dh, float(alpha), th, surrogate, beta)
    lhs = np.sum(grad_h * dh)
    rhs = np.sum(gs * ds) + np.sum(gv * dv)
    assert np.isclose(lhs, rhs, rtol=1e-9, atol=1e-9 * (1 + np.abs(gs).sum() + np.abs(gv).sum()))
    # grad_v with zero steps means dL/dv = 0
    without_gv = run_lif_backward(h, v, s, np.float64(alpha), th, code, beta, gs, np.empty((0,) + h.shape[1:]))
    np.testing.assert_array_equal(without_gv, run_lif_backward(h, v, s, np.float64(alpha), th, code, beta, gs,
                                                               np.zeros_like(h)))


def test_lif_backward_matches_central_differences():
    """Where the triangle surrogate is 0 (|v - threshold| > 1 / slope everywhere) the
    backward pass is the exact derivative of L = <grad_s, s> + <grad_v, v>: the spikes
    are locally constant and the gradient flows through leak and reset only."""
    rng = np.random.default_rng(5)
    T, B, N, alpha, slope = 12, 2, 5, 0.85, 1e4
    h = rng.normal(0.45, 0.6, (T, B, N))
    v, s, _, _, th = run_lif(h, alpha, 1.0)
    assert np.abs(v - 1.0).min() > 2 / slope and 0 < s.sum() < s.size / 3
    gs, gv = rng.normal(size=h.shape), rng.normal(size=h.shape)
    code, slope = resolve("triangle", slope)
    grad_h = run_lif_backward(h, v, s, alpha, th, code, slope, gs, gv)

    def loss(x):
        v2, s2, _, _, _ = run_lif(x, alpha, 1.0)
        return np.sum(gs * s2) + np.sum(gv * v2)

    eps = 1e-6
    fd = np.zeros_like(h)
    for i in np.ndindex(h.shape):
        up, down = h.copy(), h.copy()
        up[i] += eps
        down[i] -= eps
        fd[i] = (loss(up) - loss(down)) / (2 * eps)
    np.testing.assert_allclose(grad_h, fd, rtol=1e-7, atol=1e-8)
    assert np.abs(fd).max() > 0.1


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


@pytest.mark.parametrize("B,n", BLOCK_CASES)
def test_readout_across_neuron_blocks(B, n):
    rng = np.random.default_rng(n)
    T = 7
    h = rng.normal(size=(T, B, n)).astype(np.float32)
    v, vf = np.empty_like(h), np.empty((B, n), np.float32)
    cpu.readout_forward(h, np.float32(0.7), np.zeros((B, n), np.float32), v, vf)
    rv, rvf = naive_readout_forward(h, 0.7)
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(vf, rvf)
    gv, grad_h = rng.normal(size=h.shape), np.empty(h.shape)
    cpu.readout_backward(0.7, gv, grad_h)
    expected, g = np.empty_like(grad_h), np.zeros((B, n))   # gh[t] = gv[t+1]; gv[t] = grad_v[t] + a gv[t+1]
    for t in range(T - 1, -1, -1):
        expected[t] = g
        g = gv[t] + 0.7 * g
    np.testing.assert_array_equal(grad_h, expected)


def run_all_kernels(h, threshold, gs):
    """Every kernel's outputs on one input (float64), at the current thread count."""
    v, s, vf, sf, th = run_lif(h, 0.8, threshold)
    _, s_eval, vf_eval, sf_eval, _ = run_lif(h, 0.8, threshold, record_v=False)
    grad_h = run_lif_backward(h, v, s, 0.8, th, 0, 5.0, gs, gs)
    B, N = h.shape[1:]
    rv, rvf, rgh = np.empty_like(h), np.empty((B, N)), np.empty_like(h)
    cpu.readout_forward(h, 0.8, np.zeros((B, N)), rv, rvf)
    cpu.readout_backward(0.8, gs, rgh)
    return v, s, vf, sf, s_eval, vf_eval, sf_eval, grad_h, rv, rvf, rgh


def test_parallel_kernels_equal_serial():
    """Work items own disjoint (batch, neuron block) ranges, so the result does not depend
    on the thread count (nor on the blocks, which it changes)."""
    rng = np.random.default_rng(3)
    h = rng.normal(0.4, 1, (15, 2, 2 * MIN_BLOCK + 3))
    gs = rng.normal(size=h.shape)
    assert block_size(2, h.shape[2]) < h.shape[2]       # several items per row
    parallel = run_all_kernels(h, 1.0, gs)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        serial = run_all_kernels(h, 1.0, gs)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(parallel, serial):
        np.testing.assert_array_equal(a, b)


def test_short_rows_become_one_row_of_views():
    """Rows shorter than MIN_BLOCK are handed to the kernels as one row of B * N neurons:
    views of the same memory (the kernels' writes land in the caller's arrays)."""
    h, v = np.zeros((5, 4, 30)), np.zeros((4, 30))
    empty = np.zeros((0, 4, 30))                       # a recording with zero steps
    flat_h, flat_v, flat_empty = rows_as_one(h, v, empty)
    assert (flat_h.shape, flat_v.shape, flat_empty.shape) == ((5, 1, 120), (1, 120), (0, 1, 120))
    flat_v[0, 37] = 1.0
    assert v[1, 7] == 1.0


@pytest.mark.parametrize("case", ["long rows", "one row", "not contiguous"])
def test_rows_stay_rows(case):
    """Long rows, a single row and an array a reshape would copy are passed on as they are."""
    shape = {"long rows": (3, MIN_BLOCK), "one row": (1, 30), "not contiguous": (3, 30)}[case]
    h, v = np.zeros((5,) + shape), np.zeros(shape)
    if case == "not contiguous":
        v = np.zeros((shape[0], 2 * shape[1]))[:, ::2]
    out = rows_as_one(h, v)
    assert out[0] is h and out[1] is v
