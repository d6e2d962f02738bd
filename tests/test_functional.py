"""SpikingFlow's functional utilities against NumPy transcriptions of the seed."""
import tracemalloc

import numba
import numpy as np
import pytest
from hypothesis import assume, example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import snnumba as snn
from snnumba import functional as F
from snnumba.kernels import cpu as cpu_kernels
from snnumba.losses import stca_loss
from tests.reference import naive_spike_cluster


@st.composite
def membranes(draw, min_t=2):
    T = draw(st.integers(min_t, 30))
    N = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    density = draw(st.floats(0.0, 1.0))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    fire = rng.random((T, N)) < density
    v = np.where(fire, rng.uniform(1.0, 2.0, (T, N)), rng.uniform(-1.0, 0.99, (T, N))).astype(dtype)
    if draw(st.booleans()):
        v = np.round(v, 1)  # ties in the argmax and exact threshold hits
    return v


@given(membranes(), st.integers(0, 4), st.booleans())
def test_spike_cluster_equals_seed(v, T_in, per_neuron):
    threshold = np.linspace(0.9, 1.1, v.shape[1]) if per_neuron else 1.0
    n_o, k_pos, k_neg = F.spike_cluster(v, threshold, T_in)
    r_n, r_pos, r_neg = naive_spike_cluster(v, np.asarray(threshold, v.dtype), T_in)
    np.testing.assert_array_equal(n_o, r_n)
    np.testing.assert_array_equal(k_pos, r_pos)
    np.testing.assert_array_equal(k_neg, r_neg)
    assert n_o.dtype == v.dtype


@pytest.mark.parametrize("N", [1, 255, 256, 257, 515])
def test_spike_cluster_across_neuron_blocks(N):
    """The CPU kernel works in blocks of 256 neurons: sizes at, around and past the edges."""
    rng = np.random.default_rng(N)
    v = np.round(rng.uniform(-1.0, 2.0, (7, N)), 1)      # ties and exact threshold hits
    threshold = np.round(rng.uniform(0.8, 1.2, N), 1)
    got = F.spike_cluster(v, threshold, 1)
    for a, b in zip(got, naive_spike_cluster(v, threshold, 1)):
        np.testing.assert_array_equal(a, b)


def test_spike_cluster_ties_take_the_first():
    """Two clusters of one spike each (the first is k_negative), and the two best places
    for a new cluster tie at 0.5 (the first is k_positive). v == threshold is a spike."""
    v = np.array([[1.0, 0.0, 0.5, 0.2, 0.5, 0.0, 1.0, 0.0]]).T
    n_o, k_pos, k_neg = F.spike_cluster(v, 1.0, 1)
    assert n_o[0] == 2
    assert np.flatnonzero(k_neg[:, 0]).tolist() == [0]
    assert np.flatnonzero(k_pos[:, 0]).tolist() == [2]


@given(membranes(), st.integers(1, 4))
def test_spike_cluster_properties(v, T_in):
    n_o, k_pos, k_neg = F.spike_cluster(v, 1.0, T_in)
    spikes = v >= 1.0
    assert k_pos.sum(axis=0).max() <= 1 and k_neg.sum(axis=0).max() <= 1
    for n in range(v.shape[1]):
        times = np.flatnonzero(spikes[:, n])
        # clusters are maximal runs whose gaps are at most T_in
        assert n_o[n] == (0 if times.size == 0 else 1 + np.sum(np.diff(times) > T_in))
        if n_o[n] == 0:
            assert not k_neg[:, n].any()
        else:  # the last spike of a smallest cluster
            t = np.flatnonzero(k_neg[:, n])[0]
            assert spikes[t, n] and not spikes[t + 1:t + 1 + T_in, n].any()
        if k_pos[:, n].any() and v[:, n].max() > v.min():
            t = np.flatnonzero(k_pos[:, n])[0]
            assert not spikes[t, n] and np.all(np.abs(times - t) > T_in)


def test_spike_cluster_edge_cases():
    v = np.zeros((5, 3))
    n_o, k_pos, k_neg = F.spike_cluster(v, 1.0, 1)
    assert (n_o == 0).all() and k_pos[0].all() and not k_neg.any()   # all-zero v: argmax at 0
    busy = np.column_stack([np.full(6, 2.0), np.zeros(6)])           # neuron 0 fires at every step
    n_o, k_pos, _ = F.spike_cluster(busy, 1.0, 2)
    assert n_o[0] == 1 and not k_pos[:, 0].any()
    v = np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, -1.0]]).T      # the seed's [1 0 1 1], T_in = 1
    n_o, k_pos, _ = F.spike_cluster(v, 1.0, 1)
    assert n_o[0] == 2 and not k_pos[:, 0].any()
    n_o, k_pos, k_neg = F.spike_cluster(np.array([[2.0, 0.5]]), 1.0, 1)  # T = 1 (the seed crashes)
    assert n_o.tolist() == [1.0, 0.0] and k_neg.tolist() == [[True, False]]
    assert k_pos.tolist() == [[False, True]]   # neuron 1 never rises above v_min: step 0
    with pytest.raises(ValueError, match="'T_in'"):
        F.spike_cluster(np.zeros((3, 2)), 1.0, -1)
    with pytest.raises(ValueError, match="'v_threshold'"):
        F.spike_cluster(np.zeros((3, 2)), np.ones(3), 1)
    with pytest.raises(ValueError, match="'v' contains NaN"):
        F.spike_cluster(np.full((3, 2), np.nan), 1.0, 1)


def wide_membrane(T, N, seed, density, dtype):
    """v [T, N] with about ``density`` of it at or above 1 (some exactly at 1.0)."""
    rng = np.random.default_rng(seed)
    fire = rng.random((T, N)) < density
    return np.round(np.where(fire, rng.uniform(1.0, 2.0, (T, N)), rng.uniform(-1.0, 0.99, (T, N))), 1).astype(dtype)


# N crosses the CPU kernel's 256-neuron blocks, T its 4-step passes; T_in runs past T.
# The explicit examples: all-zero v (argmax at step 0), all-ones v (every step a spike,
# exactly at the threshold), v exactly at the threshold but the first row.
@settings(max_examples=12)
@given(st.integers(2, 13), st.sampled_from([255, 256, 257, 520]), st.integers(0, 15),
       st.integers(0, 2**32 - 1), st.floats(0.0, 1.0), st.sampled_from([np.float32, np.float64]))
@example(T=9, N=257, T_in=2, seed=0, density=0.0, dtype=np.float32)
@example(T=9, N=257, T_in=2, seed=0, density=1.0, dtype=np.float64)
@example(T=5, N=300, T_in=0, seed=1, density=0.5, dtype=np.float32)
def test_spike_cluster_equals_seed_across_blocks(T, N, T_in, seed, density, dtype):
    v = wide_membrane(T, N, seed, density, dtype)
    if seed == 0 and density == 0.0:
        v = np.zeros((T, N), dtype)
    elif seed == 0 and density == 1.0:
        v = np.ones((T, N), dtype)
    elif seed == 1:
        v = np.ones((T, N), dtype)
        v[0] = 0.5
    threshold = np.round(np.linspace(0.9, 1.1, N), 1)   # exact hits of 0.9, 1.0, 1.1
    got = F.spike_cluster(v, threshold, T_in)
    want = naive_spike_cluster(v, threshold.astype(dtype), T_in)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_spike_cluster_parallel_equals_serial():
    v = wide_membrane(23, 1100, 3, 0.3, np.float32)   # five blocks of 256 neurons
    th = np.ones(1100, np.float32)
    before, results = numba.get_num_threads(), []
    try:
        for threads in (numba.config.NUMBA_NUM_THREADS, 1):
            numba.set_num_threads(threads)
            outs = [np.empty(1100, np.float32), np.empty(1100, np.int64), np.empty(1100, np.int64),
                    np.empty((4, 1100), np.float32)]
            cpu_kernels.spike_cluster(v, th, 2, *outs)
            results.append(outs)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_spike_cluster_thresholds_of_any_shape_reach_the_kernel_as_one_type(monkeypatch):
    """A scalar and a per-neuron threshold give the kernel arrays of one Numba type; a
    read-only one (broadcast_to's view of the [N] array) compiled the kernel again."""
    be = snn.get_backend("cpu")
    types = set()

    def record(v, threshold, *rest):
        types.add(numba.typeof(threshold))
        return cpu_kernels.spike_cluster(v, threshold, *rest)

    monkeypatch.setattr(be, "spike_cluster", record)
    v = wide_membrane(5, 3, 1, 0.3, np.float32)
    for threshold in (1.0, np.ones(3, np.float32)):
        F.spike_cluster(v, threshold, 2)
    assert len(types) == 1, types


def naive_steps_to_mask(steps, T):
    """[T, N] bool, True at (steps[n], n) where steps[n] >= 0."""
    mask = np.zeros((T, steps.size), bool)
    for n, t in enumerate(steps):
        if t >= 0:
            mask[t, n] = True
    return mask


@given(T=st.integers(1, 40), N=st.integers(1, 300), seed=st.integers(0, 2**31 - 1))
def test_mark_steps_equals_numpy(T, N, seed):
    """spike_cluster's [T, N] outputs from its steps (-1: none)."""
    steps = np.random.default_rng(seed).integers(-1, T, N)
    mask = np.zeros((T, N), bool)
    cpu_kernels.mark_steps(steps, mask)
    np.testing.assert_array_equal(mask, naive_steps_to_mask(steps, T))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [(0, 0), (5, 300), (10, 599), (7, 1)])
def test_spike_cluster_rejects_non_finite_anywhere(value, where):
    # first and last step, and rows inside the 4-step passes, in several blocks
    v = wide_membrane(11, 600, 4, 0.2, np.float32)
    v[where] = value
    with pytest.raises(ValueError, match="'v' contains NaN or infinite values"):
        F.spike_cluster(v, 1.0, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spike_cluster_takes_the_largest_finite_values(dtype):
    # finite extremes are not mistaken for NaN/inf (nothing in the check may overflow)
    big = np.finfo(dtype).max
    v = wide_membrane(9, 300, 5, 0.3, dtype)
    v[2, :] = big
    v[6, ::2] = -big
    got = F.spike_cluster(v, 1.0, 1)
    for a, b in zip(got, naive_spike_cluster(v, dtype(1.0), 1)):
        np.testing.assert_array_equal(a, b)


def double_cumsum_rule(spikes):
    """The seed's rule in float64, on a float copy (independent of the kernel's shortcuts)."""
    return np.cumsum(np.cumsum(spikes.astype(np.float64), -1), -1) == 1


@settings(max_examples=15)
@given(st.integers(1, 70), st.integers(1, 90), st.integers(0, 2**32 - 1), st.floats(0.0, 0.2),
       st.sampled_from(["bool", "uint8", "float32", "float64", "int16"]))
@example(R=3, T=70, seed=0, density=0.0, kind="bool")      # no spikes: rows past 2 x 32 zeros
@example(R=3, T=70, seed=0, density=1.0, kind="uint8")     # a spike at every step
def test_first_spike_index_dtypes(R, T, seed, density, kind):
    rng = np.random.default_rng(seed)
    spikes = rng.random((R, T)) < density
    # spikes late in rows longer than 32 steps: the zero skip then crosses a chunk or two
    spikes[:, : min(T - 1, 40)] &= rng.random((R, 1)) < 0.5
    spikes = spikes.astype(kind)
    np.testing.assert_array_equal(F.first_spike_index(spikes), double_cumsum_rule(spikes))


@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_first_spike_index_values_that_are_not_spikes(T, seed):
    # negative values bring the sums back to 1 after the first spike; 2s and 0.5s never or later
    rng = np.random.default_rng(seed)
    values = rng.choice(np.array([0.0, 0.0, 0.0, 1.0, -1.0, 2.0, 0.5]), size=(6, T))
    np.testing.assert_array_equal(F.first_spike_index(values), double_cumsum_rule(values))
    ints = values.astype(np.int8)
    np.testing.assert_array_equal(F.first_spike_index(ints), double_cumsum_rule(ints))
    # sums 1 1 0 -1 0 and 1 2 2 1 1: the seed marks steps 0, 3 and 4
    assert F.first_spike_index(np.array([1, 0, -1, -1, 1])).tolist() == [True, False, False, True, True]


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("t", [0, 3, 40, 99])
def test_first_spike_index_rejects_non_finite_anywhere(value, t):
    # in the leading zeros, at the first spike, and in the rest of a row
    spikes = np.zeros((4, 100), np.float32)
    spikes[:, 3] = 1.0
    spikes[2, t] = value
    with pytest.raises(ValueError, match="'spikes' contains NaN or infinite values"):
        F.first_spike_index(spikes)


def test_first_spike_index_reads_bool_spikes_without_a_float_copy():
    spikes = np.random.default_rng(5).random((400, 1000)) < 0.05
    F.first_spike_index(spikes[:2])                  # compiled before measuring
    tracemalloc.start()
    try:
        out = F.first_spike_index(spikes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out, double_cumsum_rule(spikes))
    assert peak < 1.5 * spikes.nbytes  # the bool result; a float32 copy alone is 4x


def test_first_spike_index_parallel_equals_serial():
    spikes = (np.random.default_rng(6).random((300, 77)) < 0.03).astype(np.uint8)
    before, results = numba.get_num_threads(), []
    try:
        for threads in (numba.config.NUMBA_NUM_THREADS, 1):
            numba.set_num_threads(threads)
            outs = [np.empty(spikes.shape, np.bool_), np.empty(300, np.bool_)]
            cpu_kernels.first_spike_index(spikes, *outs)
            results.append(outs)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=9),
                  elements=st.sampled_from([0.0, 1.0])))
def test_first_spike_index(spikes):
    out = F.first_spike_index(spikes)
    np.testing.assert_array_equal(out, spikes.cumsum(-1).cumsum(-1) == 1)
    # exactly the first spike of each row
    rows, marks = spikes.reshape(-1, spikes.shape[-1]), out.reshape(-1, spikes.shape[-1])
    for r, m in zip(rows, marks):
        assert m.sum() == (r.sum() > 0) and (not r.any() or np.argmax(m) == np.argmax(r))


def test_redundant_one_hot():
    codes = F.redundant_one_hot(np.array([0, 1, 1, 0]), 3, 2)
    np.testing.assert_array_equal(codes, [[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0],
                                          [1, 1, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match="'labels'"):
        F.redundant_one_hot(np.array([3]), 3, 2)


@pytest.mark.parametrize("kernel,args", [("linear", ()), ("polynomial", (3,)), ("sigmoid", (0.5,)),
                                         ("gaussian", (1.5,))])
def test_kernel_dot_product(kernel, args):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 6)), rng.normal(size=(7, 6))  # different numbers of rows
    got = F.kernel_dot_product(x, y, kernel, *args)
    naive = np.array([[{"linear": lambda a, b: a @ b, "polynomial": lambda a, b: (a @ b) ** 3,
                        "sigmoid": lambda a, b: 1 / (1 + np.exp(-0.5 * (a @ b))),
                        "gaussian": lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * 1.5 ** 2))}[kernel](a, b)
                       for b in y] for a in x])
    np.testing.assert_allclose(got, naive, rtol=1e-12)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="'linear', 'polynomial', 'sigmoid', 'gaussian'"):
        F.kernel_dot_product(np.ones((2, 2)), np.ones((2, 2)), "cosine")
    with pytest.raises(ValueError, match="'mse', 'l1', 'bce'"):
        F.spike_similar_loss(np.ones((2, 2, 2)), np.eye(2), "linear", "hinge")


def naive_similar_loss(spikes, labels, kernel, loss_type, *args):
    s = spikes.reshape(spikes.shape[0], -1)
    sim_p = F.kernel_dot_product(s, s, kernel, *args)
    if kernel == "linear":
        n = np.linalg.norm(s, axis=1, keepdims=True)
        sim_p = sim_p / (n @ n.T + 1e-8)
    sim = np.minimum(labels @ labels.T, 1)
    if loss_type == "mse":
        return np.mean((sim_p - sim) ** 2)
    if loss_type == "l1":
        return np.mean(np.abs(sim_p - sim))
    with np.errstate(divide="ignore"):  # the gaussian's diagonal is exactly 1
        return -np.mean(sim * np.maximum(np.log(sim_p), -100) + (1 - sim) * np.maximum(np.log(1 - sim_p), -100))


CASES = [(k, a, loss) for k, a in [("linear", ()), ("polynomial", (2,)), ("sigmoid", (0.3,)), ("gaussian", (2.0,))]
         for loss in ("mse", "l1", "bce") if not (loss == "bce" and k == "polynomial")]


@pytest.mark.parametrize("kernel,args,loss_type", CASES)
def test_spike_similar_loss_and_gradient(kernel, args, loss_type):
    rng = np.random.default_rng(1)
    spikes = rng.random((5, 3, 4)) * 0.8 + 0.1          # smooth region: no zeros, no clamps
    labels = (rng.random((5, 3)) < 0.5).astype(float)
    labels[np.arange(5), rng.integers(0, 3, 5)] = 1.0    # every sample has a label
    loss, grad = F.spike_similar_loss(spikes, labels, kernel, loss_type, *args, return_grad=True)
    assert loss == pytest.approx(naive_similar_loss(spikes, labels, kernel, loss_type, *args), rel=1e-12)
    eps, fd = 1e-6, np.zeros_like(spikes)
    for i in np.ndindex(spikes.shape):
        up, down = spikes.copy(), spikes.copy()
        up[i] += eps
        down[i] -= eps
        fd[i] = (F.spike_similar_loss(up, labels, kernel, loss_type, *args)
                 - F.spike_similar_loss(down, labels, kernel, loss_type, *args)) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_works_for_both_dtypes_and_cosines_above_one(dtype):
    spikes = np.ones((3, 2, 5), dtype)        # identical trains: cosine rounds to about 1
    labels = np.eye(3)
    loss, grad = F.spike_similar_loss(spikes, labels, "linear", "bce", return_grad=True)
    assert np.isfinite(loss) and np.all(np.isfinite(grad)) and grad.dtype == dtype


def test_set_threshold_margin_and_reset_net():
    lif = snn.LIF()
    one_hot = np.array([[0, 1, 0], [1, 0, 0]])
    F.set_threshold_margin(lif, one_hot, eval_threshold=1.0, threshold0=0.9, threshold1=1.1)
    np.testing.assert_array_equal(lif.threshold, [[0.9, 1.1, 0.9], [1.1, 0.9, 0.9]])
    lif.eval()
    F.set_threshold_margin(lif, one_hot)
    assert lif.threshold == 1.0
    net = snn.Network([snn.Dense(2, 3, rng=0), snn.LIF()])
    net.forward(np.ones((4, 2, 2)))
    assert net.layers[1].state is not None
    F.reset_net(net)
    assert net.layers[1].state is None and net.layers[1].v is None


def test_stca_loss_gradient_marks_the_cluster_steps():
    v = np.array([[1.2, 0.0, 0.3, 0.0, 0.0, 1.5, 0.2, 0.0, 0.1, 0.0]]).T   # 2 clusters
    loss, grad = stca_loss(v, 1.0, 1, N_d=1)            # too many: lower the smallest cluster
    _, _, k_neg = F.spike_cluster(v, 1.0, 1)
    assert loss == pytest.approx(float((v * k_neg).sum() - 1.0))
    np.testing.assert_array_equal(grad, k_neg.astype(float))
    loss, grad = stca_loss(v, 1.0, 1, N_d=3)            # too few: raise the best new spot
    _, k_pos, _ = F.spike_cluster(v, 1.0, 1)
    assert loss == pytest.approx(float(1.0 - (v * k_pos).sum()))
    np.testing.assert_array_equal(grad, -k_pos.astype(float))
    assert stca_loss(v, 1.0, 1, N_d=2) == (0.0, pytest.approx(np.zeros_like(v)))


@pytest.mark.cuda
@settings(max_examples=6)
@given(membranes(), st.integers(0, 3))
def test_cluster_kernels_cuda_twin(v, T_in):
    cuda = pytest.importorskip("numba.cuda")
    assume(cuda.is_available())
    from snnumba.kernels import cuda as gpu
    old, gpu.config.THREADS_PER_BLOCK = gpu.config.THREADS_PER_BLOCK, 4
    try:
        ours = F.spike_cluster(v, 1.0, T_in, device="cuda")
        ref = F.spike_cluster(v, 1.0, T_in)
        for a, b in zip(ours, ref):
            np.testing.assert_array_equal(a, b)
        spikes = (v >= 1.0).astype(np.float64)
        np.testing.assert_array_equal(F.first_spike_index(spikes, device="cuda"), F.first_spike_index(spikes))
    finally:
        gpu.config.THREADS_PER_BLOCK = old
