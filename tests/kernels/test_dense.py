"""Dense products on row chunks (kernels/cpu/dense.py, CPUBackend.matmul) against plain NumPy.

The reference is the product of float64 copies, written from the definition.
"""
import numba
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from snnumba.backend import get_backend
from snnumba.kernels.cpu import dense

# rows from one call (below 2 * MIN_CHUNK_ROWS) to several chunks, the last one partial
SHAPES = st.tuples(st.integers(1, 3 * dense.MIN_CHUNK_ROWS + 7), st.integers(1, 40), st.integers(1, 40))


@given(SHAPES, st.booleans(), st.booleans(), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
@example((3 * dense.MIN_CHUNK_ROWS + 7, 7, 5), False, True, np.float32, 0)   # chunks, the last partial
@example((2 * dense.MIN_CHUNK_ROWS, 1, 1), False, False, np.float64, 1)      # two chunks of one column
def test_backend_matmul_equals_reference(shape, trans_a, trans_b, dtype, seed):
    """Every form Dense uses (x @ W, x.T @ g, g @ W.T) on arrays stored as the layers store them."""
    R, K, N = shape
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(K, R) if trans_a else (R, K)).astype(dtype)
    b = rng.normal(size=(N, K) if trans_b else (K, N)).astype(dtype)
    out = np.full((R, N), np.nan, dtype)
    get_backend("cpu").matmul(a, b, out, trans_a=trans_a, trans_b=trans_b)
    expected = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b).astype(np.float64)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, expected, **tol)


@pytest.mark.parametrize("n_rows, expected", [(1, 0), (2 * dense.MIN_CHUNK_ROWS - 1, 0),
                                              (2 * dense.MIN_CHUNK_ROWS, dense.MIN_CHUNK_ROWS),
                                              (dense.ROW_CHUNKS * dense.MIN_CHUNK_ROWS, dense.MIN_CHUNK_ROWS),
                                              (dense.ROW_CHUNKS * dense.MIN_CHUNK_ROWS + 1, dense.MIN_CHUNK_ROWS + 1),
                                              (64000, 4000)])
def test_chunk_rows(n_rows, expected):
    """One call below two chunks of MIN_CHUNK_ROWS; at most ROW_CHUNKS chunks, none smaller."""
    assert dense.chunk_rows(n_rows) == expected


def test_backend_takes_row_chunks_for_large_products(monkeypatch):
    """x @ W and g @ W.T on row chunks, x.T @ g on the weight gradient's chunks; small
    products, mixed dtypes and weights too large for the copies in one NumPy call."""
    calls = []
    monkeypatch.setattr(dense, "row_chunk_matmul", lambda a, b, out, rows: calls.append(("rows", rows)))
    monkeypatch.setattr(dense, "row_chunk_weight_grad", lambda x, g, out, rows: calls.append(("grad", rows)))
    be = get_backend("cpu")
    big = np.ones((1000, 8), np.float32)
    w = np.ones((8, 5), np.float32)
    be.matmul(big, w, np.empty((1000, 5), np.float32))
    be.matmul(big, w.T.copy(), np.empty((1000, 5), np.float32), trans_b=True)
    grad_x = np.ones((2**14, 64), np.float32)   # a weight gradient of MIN_WEIGHT_GRAD_MACS
    be.matmul(grad_x, grad_x, np.zeros((64, 64), np.float32), trans_a=True)
    assert calls == [("rows", dense.chunk_rows(1000))] * 2 + [("grad", dense.chunk_rows(2**14))]
    be.matmul(big[:10], w, np.empty((10, 5), np.float32))
    be.matmul(big.astype(np.float64), w, np.empty((1000, 5), np.float64))
    be.matmul(big, np.ones((1000, 3), np.float32), np.zeros((8, 3), np.float32), trans_a=True)
    monkeypatch.setattr(dense, "CHUNK_COPIES_BYTES", 64 * 64 * 4)  # room for one copy of the 64 x 64 weight
    be.matmul(grad_x, grad_x, np.zeros((64, 64), np.float32), trans_a=True)
    assert len(calls) == 3


@pytest.mark.parametrize("n_rows, n_in, n_out, expected", [
    (100, 1024, 1024, 0),                                               # too few rows, though MACs enough
    (6400, 200, 30, 0),                                                 # the flagship's: too few MACs
    (2**14, 2**6, 2**6, dense.chunk_rows(2**14)),                       # exactly MIN_WEIGHT_GRAD_MACS
    (2**14, 2**6, 2**6 - 1, 0),                                         # one output less
    (25344, 256, 256, dense.chunk_rows(25344)),                         # recurrent weights: 16 chunks
    (64000, 1000, 1000, 16000),                                         # 4 MB copies: four of them
    (64000, dense.CHUNK_COPIES_BYTES // 8, 1, 32000),                   # half the bound: two
    (64000, dense.CHUNK_COPIES_BYTES // 4, 1, 0)])                      # the whole bound: one call
def test_weight_grad_chunk_rows(n_rows, n_in, n_out, expected):
    """The row chunks from MIN_WEIGHT_GRAD_MACS on, fewer where the copies of the weight
    would exceed CHUNK_COPIES_BYTES."""
    assert 2**14 * 2**6 * 2**6 == dense.MIN_WEIGHT_GRAD_MACS
    assert dense.weight_grad_chunk_rows(n_rows, n_in, n_out, 4) == expected


@given(st.integers(1, 4 * dense.MIN_CHUNK_ROWS + 3), st.integers(1, 30), st.integers(1, 30),
       st.integers(1, 3 * dense.MIN_CHUNK_ROWS), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
@example(200, 30, 3, 64, np.float32, 0)    # fewer outputs than inputs: the transposed chunks
@example(200, 3, 30, 64, np.float64, 1)    # more outputs than inputs: the direct chunks
def test_row_chunk_weight_grad_equals_reference(R, n_in, n_out, rows, dtype, seed):
    """x.T @ g summed over chunks of any size (one row to all rows) equals the float64 product."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(R, n_in)).astype(dtype)
    g = rng.normal(size=(R, n_out)).astype(dtype)
    out = np.full((n_in, n_out), np.nan, dtype)
    dense.row_chunk_weight_grad(x, g, out, rows)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, x.astype(np.float64).T @ g.astype(np.float64), **tol)


def test_row_chunk_weight_grad_adds_chunks_in_order():
    """The chunks' products are added in chunk order: with 0/1 inputs and gradients whose
    sum depends on the order in float32 (1 + 1e-8 + ... rounds differently from the other
    way round), the result is the left-to-right sum of the chunks."""
    rows = 64
    x = np.ones((3 * rows, 1), np.float32)
    g = np.zeros((3 * rows, 2), np.float32)
    g[0, :] = 1.0                   # chunk 0 sums to 1
    g[rows, :] = 3e-8               # chunks 1 and 2 each add a value below half an ulp of 1
    g[2 * rows, :] = 3e-8
    out = np.empty((1, 2), np.float32)
    dense.row_chunk_weight_grad(x, g, out, rows)
    expected = (np.float32(1.0) + np.float32(3e-8)) + np.float32(3e-8)
    np.testing.assert_array_equal(out, np.full((1, 2), expected, np.float32))
    assert expected != np.float32(1.0) + (np.float32(3e-8) + np.float32(3e-8))


def assert_same_on_one_thread_and_all(compute):
    """``compute()`` (a tuple of arrays) gives the same bits on every thread and on one."""
    before = numba.get_num_threads()
    assert before > 1 or numba.config.NUMBA_NUM_THREADS == 1
    results = {}
    for threads in (before, 1):
        numba.set_num_threads(threads)
        try:
            results[threads] = compute()
        finally:
            numba.set_num_threads(before)
    for parallel, serial in zip(results[before], results[1]):
        np.testing.assert_array_equal(parallel, serial)


def test_parallel_equals_serial_exactly():
    """The chunks depend on the row count only: the same bits on one thread and on all."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=(1500, 33)).astype(np.float32)
    b = rng.normal(size=(33, 17)).astype(np.float32)
    rows = dense.chunk_rows(a.shape[0])

    def compute():
        out = np.empty((1500, 17), np.float32)
        dense.row_chunk_matmul(a, b, out, rows)
        grad = np.empty((33, 17), np.float32)
        dense.row_chunk_weight_grad(a, out, grad, rows)
        return out, grad
    assert_same_on_one_thread_and_all(compute)


# uint8 inputs to narrow outputs (uint8_matmul, uint8_weight_grad): rows from one chunk to
# several with a partial last one and a partial last group of four rows, outputs below,
# at and above one group of four, any uint8 values (not only spikes)
UINT8_SHAPES = st.tuples(st.integers(1, 3 * dense.MIN_CHUNK_ROWS + 7), st.integers(1, 40),
                         st.integers(1, dense.NARROW_MAX_OUTPUTS))


@given(UINT8_SHAPES, st.floats(0.0, 1.0), st.booleans(), st.sampled_from([np.float32, np.float64]),
       st.integers(0, 2**32 - 1))
@example((3 * dense.MIN_CHUNK_ROWS + 7, 9, 7), 0.3, False, np.float32, 0)
@example((1, 1, 1), 1.0, True, np.float64, 1)
def test_backend_matmul_of_uint8_equals_reference(shape, density, counts, dtype, seed):
    """x @ W and x.T @ g with uint8 x (0/1 spikes at any density, or counts up to 255),
    as Dense calls them, equal the float64 products of the definition."""
    R, K, N = shape
    rng = np.random.default_rng(seed)
    x = (rng.random((R, K)) < density).astype(np.uint8)
    if counts:
        x *= rng.integers(0, 256, (R, K)).astype(np.uint8)
    w = rng.normal(size=(K, N)).astype(dtype)
    g = rng.normal(size=(R, N)).astype(dtype)
    be = get_backend("cpu")
    assert be.keeps_spikes(N)
    out = np.full((R, N), np.nan, dtype)
    be.matmul(x, w, out)
    grad = np.full((K, N), np.nan, dtype)
    be.matmul(x, g, grad, trans_a=True)
    x64 = x.astype(np.float64)
    scale = 255 if counts else 1
    tol = dict(rtol=1e-4, atol=1e-4 * scale) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(out, x64 @ w.astype(np.float64), **tol)
    np.testing.assert_allclose(grad, x64.T @ g.astype(np.float64), **tol)


def test_uint8_products_wider_than_narrow_take_a_float_copy(monkeypatch):
    """Outputs beyond NARROW_MAX_OUTPUTS, and the forms Dense does not use with uint8
    (accumulate, transposed b), go to BLAS on a float copy: same results."""
    calls = []
    monkeypatch.setattr(dense, "uint8_matmul", lambda *a: calls.append("matmul"))
    monkeypatch.setattr(dense, "uint8_weight_grad", lambda *a: calls.append("grad"))
    be = get_backend("cpu")
    rng = np.random.default_rng(0)
    n = dense.NARROW_MAX_OUTPUTS + 1
    x = (rng.random((50, 6)) < 0.5).astype(np.uint8)
    w = rng.normal(size=(6, n)).astype(np.float32)
    out = np.empty((50, n), np.float32)
    be.matmul(x, w, out)
    np.testing.assert_allclose(out, x.astype(np.float64) @ w, rtol=1e-5, atol=1e-5)
    acc = np.ones((50, 3), np.float32)
    be.matmul(x, w[:, :3], acc, accumulate=True)
    np.testing.assert_allclose(acc, 1 + x.astype(np.float64) @ w[:, :3], rtol=1e-5, atol=1e-5)
    be.matmul(x, w[:, :3].T.copy(), np.empty((50, 3), np.float32), trans_b=True)
    assert calls == []


def test_uint8_products_do_not_depend_on_the_thread_count():
    """Each output element is summed by one thread, each weight-gradient chunk by one, and
    the chunks depend on the row count only: the same bits on one thread and on all."""
    rng = np.random.default_rng(4)
    x = (rng.random((1500, 70)) < 0.3).astype(np.uint8)
    w = rng.normal(size=(70, 13)).astype(np.float32)

    def compute():
        out = np.empty((1500, 13), np.float32)
        dense.uint8_matmul(x, np.ascontiguousarray(w.T), out)
        grad = np.empty((70, 13), np.float32)
        dense.uint8_weight_grad(x, out, grad)
        return out, grad
    assert_same_on_one_thread_and_all(compute)
