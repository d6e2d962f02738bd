"""Event-driven projections (kernels/*/sparse.py and Dense on spikes) against plain NumPy.

The references below are the dense products on a float64 copy, written from the
definitions; the kernels never make that copy.
"""
import contextlib
from unittest import mock

import numba
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from numba import njit

import snnumba as snn
from snnumba import layers
from snnumba.kernels import cpu
from snnumba.kernels.cpu import sparse
from snnumba.kernels.cpu._simd import BLOCK, add_block_rows
from snnumba.kernels.cpu.dense import NARROW_MAX_OUTPUTS


def naive_counts(x):
    """Spikes per row; -1 for a row holding a value other than 0 and 1."""
    return np.where((x > 1).any(axis=1), -1, np.count_nonzero(x, axis=1))


def naive_csr(x):
    """(offsets, indices) of the non-zero entries of x, row by row, columns increasing."""
    rows, cols = np.nonzero(x)
    offsets = np.zeros(x.shape[0] + 1, np.int64)
    np.add.at(offsets, rows + 1, 1)
    return np.cumsum(offsets), cols.astype(np.int32)


def naive_projection(x, w, bias):
    return x.astype(np.float64) @ w.astype(np.float64) + bias


def naive_weight_grad(x, g):
    return x.astype(np.float64).T @ g.astype(np.float64)


def spikes(rng, shape, density):
    return (rng.random(shape) < density).astype(np.uint8)


def build_index(x):
    """The kernels' CSR of uint8 x[R, N], as Dense builds it."""
    counts = np.empty(x.shape[0], np.int64)
    cpu.spike_row_counts(x, counts)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    indices = np.empty(offsets[-1], np.int32)
    cpu.spike_row_indices(x, offsets, indices)
    return counts, offsets, indices


@pytest.mark.parametrize("byteorder", ["little", "big"])
@given(st.integers(1, 12), st.integers(1, 200), st.integers(0, 7),
       st.sampled_from([0.0, 0.03, 0.3, 1.0]) | st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
@example(2, 136, 0, 1.0, 0)   # two groups of eight words per row, all bits set
@example(3, 71, 5, 0.5, 1)    # rows that start and end inside words
def test_listing_straddles_words_and_groups_of_words(byteorder, R, N, offset, density, seed):
    """Rows are read as groups of eight 64-bit words, each gathered into a 64-bit mask:
    rows that start or end inside a word or a group, arrays whose data do not start on a
    word boundary, every density up to all bits set, and (where the machine is big-endian)
    the byte-by-byte fallback all give the plain listing."""
    rng = np.random.default_rng(seed)
    buffer = np.zeros(R * N + offset, np.uint8)
    x = buffer[offset:].reshape(R, N)
    x[:] = spikes(rng, (R, N), density)
    with mock.patch.object(sparse.sys, "byteorder", byteorder):
        _, offsets, indices = build_index(x)
    ref_offsets, ref_indices = naive_csr(x)
    np.testing.assert_array_equal(offsets, ref_offsets)
    np.testing.assert_array_equal(indices, ref_indices)


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


DENSITIES = st.sampled_from([0.0, 0.01, 0.5, 1.0]) | st.floats(0.0, 1.0)
# rows and columns cross the CPU's input blocks (one per thread) and small CUDA blocks
SIZES = st.tuples(st.integers(1, 40), st.integers(1, 70), st.integers(1, 70))


@given(SIZES, DENSITIES, st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1),
       st.sampled_from([None, 1, 7, 10**6]))
@example((3, 5, 4), 0.0, np.float64, 0, None)     # no spike at all
@example((3, 5, 4), 1.0, np.float32, 0, 1)        # every input fires
@example((1, 1, 1), 1.0, np.float64, 0, None)
@example((40, 3, 2), 1.0, np.float64, 0, None)    # more rows than row chunks
@example((6, 64, 2), 0.1, np.float64, 3, None)    # a whole group of eight words per row
@example((9, 12, 40), 0.5, np.float32, 1, None)   # narrow rows padded to three whole vectors
def test_kernels_equal_dense_reference(sizes, density, dtype, seed, chunk_bytes):
    """Both weight-gradient strategies are drawn: row chunks with copies (``chunk_bytes``
    None) and events by input, whose walk over g takes chunks of one row, of a few rows
    or of all of them."""
    R, N, J = sizes
    rng = np.random.default_rng(seed)
    x = spikes(rng, (R, N), density)
    w = rng.normal(size=(N, J)).astype(dtype)
    bias = rng.normal(size=J).astype(dtype)
    g = rng.normal(size=(R, J)).astype(dtype)
    counts, offsets, indices = build_index(x)
    np.testing.assert_array_equal(counts, naive_counts(x))
    ref_offsets, ref_indices = naive_csr(x)
    np.testing.assert_array_equal(offsets, ref_offsets)
    np.testing.assert_array_equal(indices, ref_indices)
    out = np.full((R, J), np.nan, dtype)
    cpu.spike_matmul(offsets, indices, w, bias, out)
    np.testing.assert_allclose(out, naive_projection(x, w, bias), **tolerance(dtype))
    start = rng.normal(size=(N, J)).astype(dtype)
    grad_w = start.copy()
    with mock.patch.object(sparse, "CHUNK_COPIES_BYTES", sparse.CHUNK_COPIES_BYTES if chunk_bytes is None else 0), \
            mock.patch.object(sparse, "G_CHUNK_BYTES", chunk_bytes or sparse.G_CHUNK_BYTES):
        cpu.spike_weight_grad(offsets, indices, g, grad_w)
    np.testing.assert_allclose(grad_w, start + naive_weight_grad(x, g), **tolerance(dtype))


@settings(max_examples=40)
@given(st.integers(0, 13), st.integers(1, 80), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
def test_projection_adds_rows_in_input_order(active, J, dtype, seed):
    """Each output is ``((0 + w[i1]) + w[i2]) + ... + bias`` in increasing input order,
    exactly: the same bits as the one-row loop, however many rows a pass adds (rows with
    0..13 active inputs cover whole groups of four and every remainder) and at every width
    (rows of fewer than 64 outputs are padded to whole vectors, wider ones are not)."""
    rng = np.random.default_rng(seed)
    N = 20
    x = np.zeros((3, N), np.uint8)
    for r in range(3):
        x[r, rng.choice(N, size=min(active + r, N), replace=False)] = 1
    w = rng.normal(size=(N, J)).astype(dtype)
    bias = rng.normal(size=J).astype(dtype)
    _, offsets, indices = build_index(x)
    out = np.empty((3, J), dtype)
    cpu.spike_matmul(offsets, indices, w, bias, out)
    for r in range(3):
        expected = np.zeros(J, dtype)
        for i in np.flatnonzero(x[r]):
            expected = expected + w[i]
        np.testing.assert_array_equal(out[r], expected + bias)


ADDERS = ("rows", "vectors", "blocks")


@njit
def _add_rows_compiled(w, J, indices, row, adder):
    """``row += w[i]`` for i in indices by ``add_rows`` (adder 0), ``add_vector_rows`` (1),
    or ``add_block_rows`` on ``pack_blocks(w[:, :J])`` written from offset 3 of a NaN array
    (2, which it returns)."""
    packed = np.full(3 + w.size if adder == 2 else 0, np.nan, w.dtype)
    if adder == 0:
        sparse.add_rows(w, indices, 0, indices.shape[0], row)
    elif adder == 1:
        sparse.add_vector_rows(w, indices, 0, indices.shape[0], row)
    else:
        sparse.pack_blocks(w[:, :J], packed, 3)
        for block in range(row.shape[0] // BLOCK):
            add_block_rows(row, block * BLOCK, packed, 3 + block * w.shape[0] * BLOCK, indices, 0, indices.shape[0])
    return packed


@settings(max_examples=80)
@given(st.integers(1, 80), st.integers(0, 11), st.sampled_from([np.float32, np.float64]), st.sampled_from(ADDERS),
       st.integers(0, 2**32 - 1))
def test_compiled_row_additions_equal_adding_one_row_after_another(J, n_rows, dtype, adder, seed):
    """``add_rows``, ``add_vector_rows`` (whole vectors, ``_simd.py``; on rows padded to
    them) and ``add_block_rows`` (blocks of BLOCK columns, the sums in registers; on rows
    padded to whole blocks) give exactly ``row + w[i1] + w[i2] + ...`` added one row after
    another (NumPy), at every width and for every remainder of four rows. ``pack_blocks``
    writes w's columns in blocks, zeros past the last, from a given offset."""
    rng = np.random.default_rng(seed)
    width = {"rows": J, "vectors": J + (-J) % sparse.LANES, "blocks": J + (-J) % BLOCK}[adder]
    w = np.zeros((6, width), dtype)
    w[:, :J] = rng.normal(size=(6, J))
    indices = rng.integers(0, 6, n_rows)
    start = np.zeros(width, dtype)
    start[:J] = rng.normal(size=J)
    expected = start.copy()
    for i in indices:
        expected = expected + w[i]
    row = start.copy()
    packed = _add_rows_compiled(w, J, indices, row, ADDERS.index(adder))
    np.testing.assert_array_equal(row, expected)
    if adder == "blocks":
        assert np.isnan(packed[:3]).all()
        np.testing.assert_array_equal(packed[3:], w.reshape(6, -1, BLOCK).transpose(1, 0, 2).reshape(-1))


@settings(max_examples=40)
@given(st.integers(1, 30), st.integers(1, 40), st.sampled_from([np.float32, np.float64]), st.integers(1, 2000),
       st.integers(0, 2**32 - 1))
def test_events_by_input_add_rows_in_row_order(R, J, dtype, chunk_bytes, seed):
    """With the events listed by input, each grad_w[i, j] is ``((start + g[r1]) + g[r2]) +
    ...`` over the rows where input i fired, increasing, exactly: the same bits as the walk
    over the rows, whatever the chunks of g."""
    rng = np.random.default_rng(seed)
    N = 9
    x = spikes(rng, (R, N), rng.uniform(0, 1))
    g = rng.normal(size=(R, J)).astype(dtype)
    start = rng.normal(size=(N, J)).astype(dtype)
    _, offsets, indices = build_index(x)
    grad_w = start.copy()
    with mock.patch.object(sparse, "CHUNK_COPIES_BYTES", 0), mock.patch.object(sparse, "G_CHUNK_BYTES", chunk_bytes):
        cpu.spike_weight_grad(offsets, indices, g, grad_w)
    for i in range(N):
        expected = start[i].copy()
        for r in np.flatnonzero(x[:, i]):
            expected = expected + g[r]
        np.testing.assert_array_equal(grad_w[i], expected)


@pytest.mark.parametrize("pattern", ["last input only", "first input only", "uniform", "none"])
@pytest.mark.parametrize("n_blocks", [1, 2, 3, 7])
def test_input_blocks_take_each_input_once(pattern, n_blocks):
    """However the events fall on the inputs, the blocks of inputs (cut at equal event
    counts) cover every input exactly once: the same bits for any number of blocks."""
    rng = np.random.default_rng(5)
    R, N, J = 50, 6, 3
    x = np.zeros((R, N), np.uint8)
    if pattern == "last input only":
        x[:, -1] = 1
    elif pattern == "first input only":
        x[:, 0] = 1
    elif pattern == "uniform":
        x = spikes(rng, (R, N), 0.5)
    g = rng.normal(size=(R, J))
    _, offsets, indices = build_index(x)
    input_offsets, rows = sparse._events_by_input(offsets, indices, N, 4)
    grad_w = np.zeros((N, J))
    sparse._input_block_weight_grad(input_offsets, rows, g, grad_w, 7, n_blocks)
    expected = np.zeros((N, J))
    for i in range(N):
        for r in np.flatnonzero(x[:, i]):
            expected[i] = expected[i] + g[r]
    np.testing.assert_array_equal(grad_w, expected)


def test_counts_mark_rows_that_are_not_spikes():
    x = np.array([[0, 1, 1, 0], [0, 2, 0, 0], [0, 0, 0, 0], [1, 1, 1, 255]], np.uint8)
    counts = np.empty(4, np.int64)
    cpu.spike_row_counts(x, counts)
    np.testing.assert_array_equal(counts, [2, -1, 0, -1])


@pytest.mark.parametrize("copies_bytes", [0, sparse.CHUNK_COPIES_BYTES], ids=["events by input", "row chunks"])
def test_parallel_equals_serial_exactly(copies_bytes, monkeypatch):
    """Both weight-gradient strategies give the same bits whatever the thread count."""
    monkeypatch.setattr(sparse, "CHUNK_COPIES_BYTES", copies_bytes)
    monkeypatch.setattr(sparse, "G_CHUNK_BYTES", 1000)  # several chunks of g
    rng = np.random.default_rng(7)
    R, N, J = 300, 90, 77
    x = spikes(rng, (R, N), 0.1)
    w, g = rng.normal(size=(N, J)).astype(np.float32), rng.normal(size=(R, J)).astype(np.float32)
    bias = rng.normal(size=J).astype(np.float32)

    def run():
        counts, offsets, indices = build_index(x)
        out = np.empty((R, J), np.float32)
        cpu.spike_matmul(offsets, indices, w, bias, out)
        grad_w = np.zeros((N, J), np.float32)
        cpu.spike_weight_grad(offsets, indices, g, grad_w)
        return counts, indices, out, grad_w
    before = numba.get_num_threads()
    assert before > 1 or numba.config.NUMBA_NUM_THREADS == 1
    parallel = run()
    numba.set_num_threads(1)
    try:
        serial = run()
    finally:
        numba.set_num_threads(before)
    for a, b in zip(parallel, serial):
        np.testing.assert_array_equal(a, b)


# --- Dense on spikes ---------------------------------------------------------------------

@contextlib.contextmanager
def always_events():
    """Dense takes the event path whatever the density and size."""
    with mock.patch.object(layers, "EVENT_DENSITY_THRESHOLD", 2.0), mock.patch.object(layers, "EVENT_MIN_MACS", 0):
        yield


def dense(n_in, n_out, bias, dales_law, dtype, seed=0):
    return snn.Dense(n_in, n_out, bias=bias, dales_law=dales_law, ie_ratio=0.3, rng=seed, dtype=dtype)


@settings(max_examples=20)
@given(st.tuples(st.integers(1, 6), st.integers(1, 5), st.integers(1, 40), st.integers(1, 40)), DENSITIES,
       st.booleans(), st.booleans(), st.sampled_from([np.float32, np.float64]), st.sampled_from([np.uint8, bool]),
       st.integers(0, 2**32 - 1))
@example((4, 3, 10, 7), 0.0, True, True, np.float64, np.uint8, 0)
@example((4, 3, 10, 7), 1.0, True, False, np.float32, bool, 0)
def test_dense_event_path_equals_dense_product(shape, density, bias, dales_law, dtype,
                                               spike_dtype, seed):
    T, B, n_in, n_out = shape
    rng = np.random.default_rng(seed)
    layer = dense(n_in, n_out, bias, dales_law, dtype, seed)
    x = spikes(rng, (T, B, n_in), density).astype(spike_dtype)
    with always_events():
        h = layer.forward(x)
    assert layer._events is not None and layer._x is None  # the event path ran, keeping no input
    w = np.abs(layer.params["weight"]) * layer.buffers["sign"] if dales_law else layer.params["weight"]
    b = layer.params["bias"] if bias else 0.0
    assert h.dtype == dtype
    np.testing.assert_allclose(h, naive_projection(x, w, b), **tolerance(dtype))
    G = rng.normal(size=(T, B, n_out)).astype(dtype)
    layer.zero_grad()
    grad_x = layer.backward(G)
    assert grad_x.dtype == dtype
    grad_eff = naive_weight_grad(x.reshape(T * B, n_in), G.reshape(T * B, n_out))
    ref = grad_eff * layer.buffers["sign"] * np.sign(layer.params["weight"]) if dales_law else grad_eff
    np.testing.assert_allclose(layer.grads["weight"], ref, **tolerance(dtype))
    np.testing.assert_allclose(grad_x, G.astype(np.float64) @ w.T.astype(np.float64), **tolerance(dtype))
    if bias:
        np.testing.assert_allclose(layer.grads["bias"], G.reshape(-1, n_out).sum(0), **tolerance(dtype))


@always_events()
def test_backward_accumulates():
    rng = np.random.default_rng(2)
    layer = dense(12, 5, True, False, np.float64)
    x = spikes(rng, (6, 3, 12), 0.2)
    G = rng.normal(size=(6, 3, 5))
    layer.forward(x)
    layer.zero_grad()
    layer.backward(G, need_input_grad=False)
    once = {k: v.copy() for k, v in layer.grads.items()}
    layer.backward(G, need_input_grad=False)
    for k in once:
        np.testing.assert_allclose(layer.grads[k], 2 * once[k], rtol=1e-14)
    assert np.abs(once["weight"]).sum() > 0


@pytest.mark.parametrize("dales_law", [False, True])
@always_events()
def test_event_path_matches_central_differences(dales_law):
    rng = np.random.default_rng(3)
    assert_gradients_match_central_differences(dense(5, 3, True, dales_law, np.float64, seed=3),
                                               spikes(rng, (4, 2, 5), 0.4), rng.normal(size=(4, 2, 3)))


def assert_gradients_match_central_differences(layer, x, G):
    """The layer's parameter gradients of sum(G * layer(x)) against central differences."""
    layer.forward(x)
    layer.zero_grad()
    layer.backward(G)
    for name, p in layer.params.items():
        fd = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + 1e-6
            up = np.sum(G * layer.forward(x))
            p[i] = old - 1e-6
            down = np.sum(G * layer.forward(x))
            p[i] = old
            fd[i] = (up - down) / 2e-6
        np.testing.assert_allclose(layer.grads[name], fd, rtol=1e-7, atol=1e-8)


def test_dispatch_by_density_and_values(monkeypatch):
    monkeypatch.setattr(layers, "EVENT_MIN_MACS", 0)
    rng = np.random.default_rng(4)
    layer = dense(200, 6, False, False, np.float64)
    sparse_x = np.zeros((5, 4, 200), np.uint8)
    sparse_x.reshape(-1)[:: int(2 / layers.EVENT_DENSITY_THRESHOLD)] = 1  # half the threshold
    layer.forward(sparse_x)
    assert layer._events is not None
    dense_x = spikes(rng, (5, 4, 200), min(1.0, 2 * layers.EVENT_DENSITY_THRESHOLD + 0.01))
    h = layer.forward(dense_x)
    # dense: the product, on the uint8 itself to few outputs (kernels/cpu/dense.py), on a
    # float copy to more
    assert layer._events is None and layer._x.dtype == np.uint8
    np.testing.assert_allclose(h, naive_projection(dense_x, layer.params["weight"], 0.0), rtol=1e-12)
    wide = dense(200, NARROW_MAX_OUTPUTS + 1, False, False, np.float64)
    h = wide.forward(dense_x)
    assert wide._events is None and wide._x.dtype == np.float64
    np.testing.assert_allclose(h, naive_projection(dense_x, wide.params["weight"], 0.0), rtol=1e-12)
    # uint8 that are not spikes (counts) are multiplied, not read as events
    counts = sparse_x * 3
    h = layer.forward(counts)
    assert layer._events is None and layer._x.dtype == np.uint8
    np.testing.assert_allclose(h, naive_projection(counts, layer.params["weight"], 0.0), rtol=1e-12)
    # float inputs always take the dense product
    layer.forward(sparse_x.astype(np.float32))
    assert layer._events is None


@pytest.mark.parametrize("dales_law", [False, True])
def test_dense_spikes_to_few_outputs_match_float_input_and_central_differences(monkeypatch, dales_law):
    """Spikes too dense for events, to at most NARROW_MAX_OUTPUTS outputs, are multiplied
    as uint8 (no float copy): forward, input and weight gradients as for the same spikes
    given as floats, and the weight and bias gradients as central differences (float64)."""
    monkeypatch.setattr(layers, "EVENT_MIN_MACS", 0)
    rng = np.random.default_rng(12)
    x = spikes(rng, (7, 3, 11), 0.5)
    G = rng.normal(size=(7, 3, 5))
    results = []
    for inputs in (x, x.astype(np.float64)):
        layer = dense(11, 5, True, dales_law, np.float64, seed=12)
        h = layer.forward(inputs)
        assert layer._events is None and layer._x.dtype == inputs.dtype
        layer.zero_grad()
        results.append([h, layer.backward(G), layer.grads["weight"].copy(), layer.grads["bias"].copy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    assert_gradients_match_central_differences(dense(11, 5, True, dales_law, np.float64, seed=12), x, G)


def test_small_products_take_the_dense_path():
    """Fewer than EVENT_MIN_MACS multiply-adds: the dense product at any density; from
    EVENT_MIN_MACS on, the events."""
    n_in, n_out = 64, 64
    rows = layers.EVENT_MIN_MACS // (n_in * n_out)
    assert rows * n_in * n_out == layers.EVENT_MIN_MACS
    layer = dense(n_in, n_out, False, False, np.float32)
    x = np.zeros((rows // 16, 16, n_in), np.uint8)
    x[:, :, 0] = 1                                            # 1.6 %, far below the density threshold
    layer.forward(x)
    assert layer._events is not None
    h = layer.forward(x[:-1])                                 # 16 rows fewer
    assert layer._events is None and layer._x.dtype == np.float32
    np.testing.assert_allclose(h, naive_projection(x[:-1], layer.params["weight"], 0.0), rtol=1e-6)


def network(dtype=np.float64):
    rng = np.random.default_rng(5)
    return snn.Network([snn.Dense(9, 7, bias=True, rng=rng), snn.LIF(tau=5e-3),
                        snn.Dense(7, 3, dales_law=True, rng=rng), snn.LeakyReadout(tau=5e-3)], dtype=dtype)


@always_events()
def test_network_gradient_with_uint8_input_equals_float_input():
    rng = np.random.default_rng(6)
    x = spikes(rng, (20, 4, 9), 0.3)
    labels = rng.integers(0, 3, 4)
    results = []
    for inputs in (x, x.astype(np.float64)):
        net = network()
        out = net.forward(inputs)
        assert (net.layers[0]._events is not None) == (inputs.dtype == np.uint8)
        loss, grad = snn.readout_nll(out, labels)
        net.zero_grad()
        net.backward(grad)
        results.append([out] + net.gradients())
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    assert np.abs(results[0][1]).sum() > 0


def test_delays_take_uint8_without_a_float_copy():
    rng = np.random.default_rng(8)
    delay = rng.uniform(0, 3e-3, (6, 4))
    layer = snn.Dense(6, 4, rng=0, delay=delay, max_delay=3e-3, delay_mode="linear", dtype=np.float64)
    x = spikes(rng, (7, 2, 6), 0.3)
    G = rng.normal(size=(7, 2, 4))
    outs = []
    for inputs in (x, x.astype(np.float64)):
        h = layer.forward(inputs)
        assert layer._x.dtype == inputs.dtype
        layer.zero_grad()
        gx = layer.backward(G)
        outs.append((h, gx, layer.grads["weight"].copy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_backward_before_forward_and_bad_grad():
    layer = dense(3, 2, False, False, np.float64)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 1, 2)))
    layer.forward(np.ones((2, 1, 3), np.uint8))
    with pytest.raises(ValueError, match="'grad_out' must have shape"):
        layer.backward(np.zeros((2, 1, 3)))


# --- CUDA twins (simulator: tiny sizes) -------------------------------------------------

@pytest.fixture(scope="module")
def gpu():
    """numba.cuda and the CUDA kernels, with small blocks: fast under the simulator, and
    several blocks with a ragged last one."""
    cuda = pytest.importorskip("numba.cuda")
    if not cuda.is_available():
        pytest.skip("no CUDA")
    from snnumba.kernels import cuda as kernels
    with mock.patch.object(kernels.config, "THREADS_PER_BLOCK", 8):
        yield cuda, kernels


@pytest.mark.cuda
@settings(max_examples=6)
@given(st.tuples(st.integers(1, 12), st.integers(1, 11), st.integers(1, 9)), DENSITIES,
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
@example((5, 4, 3), 1.0, np.float64, 0)
@example((5, 4, 3), 0.0, np.float32, 0)
def test_cuda_twins_equal_cpu(gpu, sizes, density, dtype, seed):
    cuda, kernels = gpu
    R, N, J = sizes
    rng = np.random.default_rng(seed)
    x = spikes(rng, (R, N), density)
    w, bias = rng.normal(size=(N, J)).astype(dtype), rng.normal(size=J).astype(dtype)
    g = rng.normal(size=(R, J)).astype(dtype)
    counts = np.empty(R, np.int64)
    cpu.spike_row_counts(x, counts)
    d_counts = cuda.device_array(R, np.int64)
    kernels.spike_row_counts(cuda.to_device(x), d_counts)
    np.testing.assert_array_equal(d_counts.copy_to_host(), counts)
    counts, offsets, indices = build_index(x)
    d_indices = cuda.device_array(max(1, len(indices)), np.int32)
    kernels.spike_row_indices(cuda.to_device(x), cuda.to_device(offsets), d_indices)
    np.testing.assert_array_equal(d_indices.copy_to_host()[:len(indices)], indices)
    out, d_out = np.empty((R, J), dtype), cuda.device_array((R, J), dtype)
    cpu.spike_matmul(offsets, indices, w, bias, out)
    kernels.spike_matmul(*[cuda.to_device(a) for a in (offsets, indices, w, bias)], d_out)
    np.testing.assert_allclose(d_out.copy_to_host(), out, **tolerance(dtype))
    start = rng.normal(size=(N, J)).astype(dtype)
    grad_w, d_grad_w = start.copy(), cuda.to_device(start)
    cpu.spike_weight_grad(offsets, indices, g, grad_w)
    kernels.spike_weight_grad(*[cuda.to_device(a) for a in (offsets, indices, g)], d_grad_w)
    np.testing.assert_allclose(d_grad_w.copy_to_host(), grad_w, **tolerance(dtype))


@pytest.mark.cuda
def test_cuda_counts_mark_rows_that_are_not_spikes(gpu):
    cuda, kernels = gpu
    x = np.array([[0, 1, 1, 0], [0, 2, 0, 0], [0, 0, 0, 0], [1, 1, 1, 255]], np.uint8)
    counts = cuda.device_array(4, np.int64)
    kernels.spike_row_counts(cuda.to_device(x), counts)
    np.testing.assert_array_equal(counts.copy_to_host(), [2, -1, 0, -1])


@pytest.mark.cuda
@pytest.mark.parametrize("spike_dtype", [np.uint8, bool])
@always_events()
def test_dense_on_cuda_equals_cpu(gpu, spike_dtype):
    rng = np.random.default_rng(9)
    x = spikes(rng, (4, 2, 6), 0.3).astype(spike_dtype)
    G = rng.normal(size=(4, 2, 5))
    outs = []
    for device in ("cpu", "cuda"):
        layer = snn.Network([dense(6, 5, True, True, np.float64)], device=device, dtype=np.float64).layers[0]
        be = layer.backend
        h = be.to_host(layer.forward(x if device == "cpu" else be.asarray(x)))
        assert layer._events is not None
        layer.zero_grad()
        gx = be.to_host(layer.backward(G))
        outs.append([h, gx] + [be.to_host(layer.grads[k]) for k in ("weight", "bias")])
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_weight_gradient_strategy_follows_the_copies_budget(monkeypatch):
    """Row chunks while their 16 copies of grad_w fit CHUNK_COPIES_BYTES, events by input
    beyond (16 copies of a 1100 x 1000 float32 weight would take 70 MB)."""
    calls = []
    for name in ("_row_chunk_weight_grad", "_input_block_weight_grad"):
        monkeypatch.setattr(sparse, name, lambda *args, name=name: calls.append(name))
    x = spikes(np.random.default_rng(0), (4, 1100), 0.1)
    _, offsets, indices = build_index(x)
    for n_out, expected in ((10, "_row_chunk_weight_grad"), (1000, "_input_block_weight_grad")):
        cpu.spike_weight_grad(offsets, indices, np.ones((4, n_out), np.float32), np.zeros((1100, n_out), np.float32))
        assert calls[-1] == expected
    assert sparse.ROW_CHUNKS * 1100 * 10 * 4 <= sparse.CHUNK_COPIES_BYTES < sparse.ROW_CHUNKS * 1100 * 1000 * 4
