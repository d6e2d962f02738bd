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


def test_backend_takes_row_chunks_only_for_row_products(monkeypatch):
    """x @ W and g @ W.T on row chunks; x.T @ g (a sum over the rows), small products and
    mixed dtypes in one NumPy call."""
    calls = []
    monkeypatch.setattr(dense, "row_chunk_matmul", lambda a, b, out, rows: calls.append(rows))
    be = get_backend("cpu")
    big = np.ones((1000, 8), np.float32)
    w = np.ones((8, 5), np.float32)
    be.matmul(big, w, np.empty((1000, 5), np.float32))
    be.matmul(big, w.T.copy(), np.empty((1000, 5), np.float32), trans_b=True)
    assert calls == [dense.chunk_rows(1000)] * 2
    be.matmul(big, np.ones((1000, 3), np.float32), np.zeros((8, 3), np.float32), trans_a=True)
    be.matmul(big[:10], w, np.empty((10, 5), np.float32))
    be.matmul(big.astype(np.float64), w, np.empty((1000, 5), np.float64))
    assert len(calls) == 2


def test_parallel_equals_serial_exactly():
    """The chunks depend on the row count only: the same bits on one thread and on all."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=(1500, 33)).astype(np.float32)
    b = rng.normal(size=(33, 17)).astype(np.float32)
    rows = dense.chunk_rows(a.shape[0])
    before = numba.get_num_threads()
    assert before > 1 or numba.config.NUMBA_NUM_THREADS == 1
    parallel, serial = np.empty((1500, 17), np.float32), np.empty((1500, 17), np.float32)
    dense.row_chunk_matmul(a, b, parallel, rows)
    numba.set_num_threads(1)
    try:
        dense.row_chunk_matmul(a, b, serial, rows)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(parallel, serial)
