"""The CPU backend's recycled large arrays (snnumba/_buffers.py): a buffer goes out again only
once nothing outside the pool refers to it."""
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from snnumba._buffers import MIN_BYTES, BufferPool, size_class
from snnumba.backend import get_backend

BIG = (MIN_BYTES // 4, 2)     # float32: 2 * MIN_BYTES


def address(a):
    return a.__array_interface__["data"][0]


def test_a_dropped_array_is_handed_out_again_with_the_shape_and_dtype_asked():
    pool = BufferPool()
    a = pool.empty(BIG, np.float32)
    first = address(a)
    del a
    b = pool.empty((MIN_BYTES // 4,), np.float64)      # the same bytes, another shape and dtype
    assert address(b) == first and b.shape == (MIN_BYTES // 4,) and b.dtype == np.float64
    assert b.flags.c_contiguous and b.flags.writeable
    assert pool.held_bytes() == 2 * MIN_BYTES


@pytest.mark.parametrize("keep", ["array", "view", "slice", "reshaped"])
def test_an_array_or_anything_made_from_it_keeps_its_buffer(keep):
    pool = BufferPool()
    a = pool.empty(BIG, np.float32)
    a[...] = 7
    held = {"array": lambda: a, "view": lambda: a.view(np.int32), "slice": lambda: a[1:3],
            "reshaped": lambda: a.reshape(-1)}[keep]()
    del a
    b = pool.empty(BIG, np.float32)
    b[...] = -1
    assert not np.shares_memory(b, held)
    assert np.all(held.view(np.float32) == 7)


def test_sizes_that_vary_a_little_share_a_buffer():
    """Requests of slightly different sizes, one after another (a batch's list of spikes), are
    served by one buffer of their rounded size (at most 12.5 % larger), not a new one each."""
    pool = BufferPool()
    sizes = [3 * MIN_BYTES // 2 + 4 * (k + 1) for k in range(40)]  # within one size class
    for n in sizes:
        a = pool.empty((n // 4,), np.float32)
        a[...] = 1
        assert a.shape == (n // 4,) and a.flags.c_contiguous
        del a
    assert len(pool._buffers) == 1
    assert max(sizes) <= pool.held_bytes() <= 1.125 * min(sizes)


@given(st.integers(1, 2**40))
def test_size_classes_round_up_by_at_most_an_eighth(n):
    size = size_class(n)
    assert n <= size <= max(n + 1, 1.125 * n) and size_class(size) == size


def test_small_requests_and_requests_over_the_limit_get_numpy_memory():
    pool = BufferPool(max_bytes=3 * MIN_BYTES)
    small = pool.empty((10,), np.float64)
    assert small.base is None and pool.held_bytes() == 0
    a = pool.empty(BIG, np.float32)
    b = pool.empty(BIG, np.float32)                     # would hold 4 MIN_BYTES: not pooled
    assert a.base is not None and b.base is None and pool.held_bytes() == 2 * MIN_BYTES
    del a
    c = pool.empty((3 * MIN_BYTES,), np.uint8)          # the free buffer is dropped to make room
    assert c.base is not None and pool.held_bytes() == 3 * MIN_BYTES
    assert BufferPool(max_bytes=2 * MIN_BYTES - 1).empty(BIG, np.float32).base is None  # one byte short
    pool.release()                                      # c lives on with its array
    c[...] = 1
    assert pool.held_bytes() == 0 and np.all(c == 1)


def test_threads_never_share_a_buffer():
    pool = BufferPool()
    errors = []

    def work(value):
        for _ in range(200):
            a = pool.empty(BIG, np.float32)
            a[...] = value
            if not np.all(a == value):
                errors.append(value)
    threads = [threading.Thread(target=work, args=(v,)) for v in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@settings(max_examples=30)
@given(st.sampled_from([np.uint8, np.bool_, np.float32, np.float64, np.int64]),
       st.sampled_from([None, np.float32, np.float64]), st.booleans(), st.integers(0, 2))
def test_cpu_asarray_equals_numpy_ascontiguousarray(src, dtype, transposed, size):
    """Copies come from the pool (large ones), with NumPy's values, dtype and layout."""
    rng = np.random.default_rng(size)
    shape = [(), (3, 5), (MIN_BYTES // 8 + 3, 2)][size]
    x = (rng.normal(size=shape) * 3).astype(src)
    if transposed:
        x = x.T
    expected = np.ascontiguousarray(x, dtype=dtype)
    got = get_backend("cpu").asarray(x, dtype)
    assert got.dtype == expected.dtype and got.shape == expected.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)
    if x.flags.c_contiguous and (dtype is None or x.dtype == dtype) and x.ndim:
        assert np.shares_memory(got, x)                  # no copy when none is needed


def test_release_memory_lets_go_of_the_backends_free_buffers():
    import snnumba as snn
    from snnumba._buffers import POOL
    a = get_backend("cpu").empty(BIG, np.float32)
    a[...] = 3
    assert POOL.held_bytes() >= a.nbytes
    snn.release_memory()
    assert POOL.held_bytes() == 0 and np.all(a == 3)
