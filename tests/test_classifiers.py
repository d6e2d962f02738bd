"""MaxRateClassifier against a NumPy transcription of inferno's."""
import tracemalloc

import numba
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from snnumba.classifiers import MaxRateClassifier
from snnumba.kernels import cpu
from tests.reference import NaiveMaxRate


@st.composite
def scenario(draw):
    shape = draw(st.sampled_from([(7,), (3, 4), (2, 2, 3)]))
    K = draw(st.integers(1, 5))
    decay = draw(st.sampled_from([0.0, 0.3]))
    steps = []
    for _ in range(draw(st.integers(1, 4))):
        B = draw(st.integers(1, 6))
        time_axis = draw(st.booleans())
        labels = draw(st.lists(st.integers(0, K - 1), min_size=B, max_size=B))
        seed = draw(st.integers(0, 2**32 - 1))
        steps.append((B, time_axis, np.array(labels), seed, draw(st.sampled_from([False, True, None])),
                      draw(st.booleans())))
    return shape, K, decay, steps


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)


@given(scenario())
def test_sequences_of_forward_equal_seed(case):
    shape, K, decay, steps = case
    ours, ref = MaxRateClassifier(shape if len(shape) > 1 else shape[0], K, decay=decay), NaiveMaxRate(shape, K, decay)
    for B, time_axis, labels, seed, logits, proportional in steps:
        rng = np.random.default_rng(seed)
        x = (rng.random(((5,) if time_axis else ()) + (B,) + shape) < 0.4).astype(np.float32)
        logit_ref = ref.regress(x.mean(0) if time_axis else x, proportional)  # inference precedes the update
        got, want = ours.forward(x, labels, logits=logits, proportional=proportional), ref.forward(
            x, labels, logits=logits, proportional=proportional)
        if logits is None:
            assert got is None and want is None
        elif logits:
            close(got[1], want[1])
        else:
            # classify: the same labels except where two logits tie within rounding
            assert all(g == w or np.isclose(logit_ref[i, g], logit_ref[i, w])
                       for i, (g, w) in enumerate(zip(got, want)))
        close(ours.rates, ref.rates)
        close(ours.proportions, ref.proportions)
        # assignments agree except between classes whose proportions tie within rounding
        # (the kernel accumulates in float64, the transcription in float32)
        same = ours.assignments == ref.assignments
        props = ref.proportions.reshape(-1, K)
        a, r = ours.assignments.reshape(-1), ref.assignments.reshape(-1)
        assert np.all(same.reshape(-1) | np.isclose(props[np.arange(a.size), a], props[np.arange(a.size), r]))
        np.testing.assert_array_equal(ours.occurrences, np.bincount(a, minlength=K))
        if same.all():
            np.testing.assert_array_equal(ours.occurrences, ref.occurrences)
        # continue both from the same state, so that a tie resolved differently in one step
        # does not turn every later step into a comparison of different models
        ref.set_rates(ours.rates.copy())
    x = np.random.default_rng(0).random((3,) + shape).astype(np.float32)
    for proportional in (True, False):
        close(ours.regress(x, proportional), ref.regress(x, proportional))


@pytest.mark.parametrize("N", [1, 511, 512, 513, 1029])
def test_kernels_across_neuron_blocks(N):
    """The CPU update and time-mean kernels work in blocks of 512 neurons."""
    rng = np.random.default_rng(N)
    ours, ref = MaxRateClassifier(N, 3, decay=0.3), NaiveMaxRate((N,), 3, 0.3)
    for _ in range(2):
        x = (rng.random((4, 5, N)) < 0.4).astype(np.float32)    # [T, B, N]: averaged over time
        labels = rng.integers(0, 3, 5)
        ours.forward(x, labels, logits=None)
        ref.forward(x, labels, logits=None)
        close(ours.rates, ref.rates)
        ref.set_rates(ours.rates.copy())
    x = rng.random((4, N)).astype(np.float32)
    close(ours.regress(x), ref.regress(x))


def test_ties_go_to_the_first_class():
    clf = MaxRateClassifier(3, 3)
    clf.rates = np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.2], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(clf.assignments, [0, 1, 0])
    # neurons 0 and 2 vote for class 0, neuron 1 for class 1: equal logits, class 0 wins
    logits = clf.regress(np.array([[1.0, 0.5, 0.0]]), proportional=False)
    np.testing.assert_array_equal(logits, [[0.5, 0.5, 0.0]])
    assert clf.classify(np.array([[1.0, 0.5, 0.0]]), proportional=False).tolist() == [0]


def test_classify_before_any_update_matches_seed():
    ours, ref = MaxRateClassifier(4, 3), NaiveMaxRate((4,), 3, 0.0)
    x = np.random.default_rng(1).random((5, 4)).astype(np.float32)
    np.testing.assert_array_equal(ours.classify(x), np.argmax(ref.regress(x), 1))
    np.testing.assert_array_equal(ours.regress(x), ref.regress(x))   # all neurons in class 0


def test_division_by_zero_cleaning():
    clf = MaxRateClassifier(2, 3)
    clf.rates = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])       # class 2 has no neuron
    logits = clf.regress(np.array([[1.0, -2.0]]), proportional=False)
    np.testing.assert_array_equal(logits, [[1.0, -2.0, 0.0]])
    clf.rates = np.zeros((2, 3))
    clf.update(np.array([[-1.0, 1.0]]), np.array([0]))             # absent classes: 0; x/0 < 0: lowest float
    assert clf.rates[0, 0] == -1.0 and clf.rates[1, 1] == 0.0


def test_state_dict_and_save_load(tmp_path):
    clf = MaxRateClassifier((2, 3), 4, decay=0.1)
    rng = np.random.default_rng(2)
    for _ in range(3):
        clf.update(rng.random((5, 2, 3)), rng.integers(0, 4, 5))
    other = MaxRateClassifier((2, 3), 4)
    other.load_state_dict(clf.state_dict())
    for attr in ("rates", "proportions", "assignments", "occurrences"):
        np.testing.assert_array_equal(getattr(other, attr), getattr(clf, attr))
    clf.save(tmp_path / "c.npz")
    loaded = MaxRateClassifier.load(tmp_path / "c.npz")
    assert loaded.decay == 0.1 and loaded.shape == (2, 3) and loaded.nclass == 4 and loaded.ndim == 2
    np.testing.assert_array_equal(loaded.assignments, clf.assignments)


@pytest.mark.parametrize("kwargs,exc,match", [({"shape": 0, "num_classes": 2}, ValueError, "'shape'"),
                                              ({"shape": "a", "num_classes": 2}, TypeError, "'shape'"),
                                              ({"shape": 3, "num_classes": 0}, ValueError, "'num_classes'"),
                                              ({"shape": 3, "num_classes": 2, "decay": -1.0}, ValueError, "'decay'")])
def test_constructor_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        MaxRateClassifier(kwargs.pop("shape"), kwargs.pop("num_classes"), **kwargs)


def test_input_errors():
    clf = MaxRateClassifier(3, 2)
    with pytest.raises(ValueError, match="'inputs'"):
        clf.classify(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="'labels'"):
        clf.update(np.zeros((2, 3)), np.array([0, 2]))
    with pytest.raises(ValueError, match="'inputs' must have shape"):
        clf.forward(np.zeros((0, 3)), np.array([], int))
    with pytest.raises(ValueError, match="'inputs' contains NaN"):
        clf.forward(np.full((4, 2, 3), np.nan), np.array([0, 1]))


def sequential_time_mean(x):
    """The mean over axis 0 summed step by step in float64 (np.cumsum is sequential), as float32."""
    return (np.cumsum(x.astype(np.float64), axis=0)[-1] / x.shape[0]).astype(np.float32)


# R crosses the 4096-column blocks; T crosses the 257-step uint16 chunks. The examples:
# all zeros, 255 at every step of a 600-step row (a full chunk counts exactly 65535), and
# sizes next to the block size.
@settings(max_examples=10)
@given(st.integers(1, 600), st.sampled_from([1, 4095, 4096, 4097, 9000]), st.integers(0, 2**32 - 1),
       st.sampled_from(["bool", "count"]))
@example(T=600, R=4097, seed=0, kind="zeros")
@example(T=600, R=4097, seed=0, kind="max")
@example(T=3, R=4095, seed=0, kind="bool")      # one block short of full, and one over
@example(T=3, R=8193, seed=0, kind="count")
def test_spike_time_mean_equals_reference(T, R, seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "bool":
        spikes = (rng.random((T, R), dtype=np.float32) < 0.3).view(np.uint8)
    elif kind == "count":
        spikes = rng.integers(0, 256, (T, R), dtype=np.uint8)
    else:
        spikes = np.full((T, R), 0 if kind == "zeros" else 255, np.uint8)
    out = np.empty(R, np.float32)
    cpu.spike_time_mean(spikes, out)
    np.testing.assert_array_equal(out, sequential_time_mean(spikes))


@settings(max_examples=8)
@given(st.integers(1, 9), st.sampled_from([1, 4097]), st.integers(0, 2**32 - 1))
def test_time_mean_equals_reference(T, R, seed):
    x = np.random.default_rng(seed).normal(size=(T, R)).astype(np.float32)
    out = np.empty(R, np.float32)
    cpu.time_mean(x, out)
    np.testing.assert_array_equal(out, sequential_time_mean(x))


def spikes_and_labels(T, B, shape, K, seed):
    rng = np.random.default_rng(seed)
    return rng.random((T, B) + shape) < 0.2, rng.integers(0, K, B)


@pytest.mark.parametrize("shape", [(1100,), (3, 5)])   # 1100: three 512-neuron update blocks
def test_bool_spikes_give_what_float32_spikes_give(shape):
    spikes, labels = spikes_and_labels(13, 9, shape, 4, 1)
    results = []
    for x in (spikes, spikes.astype(np.uint8), spikes.astype(np.float32)):
        clf = MaxRateClassifier(shape, 4, decay=0.1)
        clf.forward(x, labels)
        results.append((clf.forward(x, labels, logits=True), clf.rates))
    for (pred, logits), rates in results[1:]:
        np.testing.assert_array_equal(pred, results[0][0][0])
        np.testing.assert_array_equal(logits, results[0][0][1])
        np.testing.assert_array_equal(rates, results[0][1])


def test_forward_equals_seed_across_blocks():
    spikes, labels = spikes_and_labels(6, 11, (1100,), 5, 2)
    ours, ref = MaxRateClassifier(1100, 5, decay=0.3), NaiveMaxRate((1100,), 5, 0.3)
    for _ in range(2):
        close(ours.forward(spikes, labels, logits=True)[1], ref.forward(spikes, labels, logits=True)[1])
        close(ours.rates, ref.rates)
        ref.set_rates(ours.rates.copy())


def test_forward_reads_bool_spikes_without_a_float_copy():
    spikes, labels = spikes_and_labels(50, 16, (2000,), 10, 3)
    clf = MaxRateClassifier(2000, 10)
    clf.forward(spikes[:, :2], labels[:2])            # compiled before measuring
    tracemalloc.start()
    try:
        clf.forward(spikes, labels)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the [B, N] means and the [N, K] state are all it allocates; a float32 copy is 4x spikes
    assert peak < 0.5 * spikes.nbytes


def test_forward_rejects_spikes_without_steps():
    with pytest.raises(ValueError, match="'inputs' of shape \\(0, 2, 3\\) has no time steps"):
        MaxRateClassifier(3, 2).forward(np.zeros((0, 2, 3), bool), np.array([0, 1]))


def test_kernels_parallel_equal_serial():
    rng = np.random.default_rng(4)
    spikes = (rng.random((300, 9000)) < 0.2).view(np.uint8)
    x = rng.random((7, 1100)).astype(np.float32)
    labels = rng.integers(0, 3, 7)
    counts = np.bincount(labels, minlength=3).astype(np.float64)
    rates0 = rng.random((1100, 3)).astype(np.float32)
    assigned = rng.integers(0, 3, 1100)
    weights = rng.random(1100).astype(np.float32)
    occurrences = np.bincount(assigned, minlength=3).astype(np.float64)
    before, results = numba.get_num_threads(), []
    try:
        for threads in (numba.config.NUMBA_NUM_THREADS, 1):
            numba.set_num_threads(threads)
            mean, means, rates, logits = (np.empty(9000, np.float32), np.empty(1100, np.float32), rates0.copy(),
                                          np.empty((7, 3), np.float32))
            cpu.spike_time_mean(spikes, mean)
            cpu.time_mean(x, means)
            cpu.max_rate_update(x, labels, counts, 0.2, np.finfo(np.float32).min, rates)
            cpu.max_rate_regress(x, assigned, weights, occurrences, np.finfo(np.float32).min, logits)
            results.append((mean, means, rates, logits))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.cuda
@settings(max_examples=5)
@given(st.integers(1, 5), st.integers(1, 9), st.integers(1, 4), st.integers(0, 1000))
def test_cuda_twins(B, N, K, seed):
    cuda = pytest.importorskip("numba.cuda")
    if not cuda.is_available():
        pytest.skip("no CUDA")
    from snnumba.kernels import cuda as kernels
    rng = np.random.default_rng(seed)
    x = rng.random((4, B, N)) < 0.5    # bool spikes: the backend's spike_time_mean
    labels = rng.integers(0, K, B)
    old, kernels.config.THREADS_PER_BLOCK = kernels.config.THREADS_PER_BLOCK, 4   # several blocks
    try:
        host, device = MaxRateClassifier(N, K, decay=0.2), MaxRateClassifier(N, K, decay=0.2, device="cuda")
        for clf in (host, device):
            clf.forward(x, labels)
        close(device.rates, host.rates)
        close(device.regress(x[0]), host.regress(x[0]))
    finally:
        kernels.config.THREADS_PER_BLOCK = old
