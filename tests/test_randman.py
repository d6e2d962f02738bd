"""The random-manifold task (snnumba.tasks.randman) and the max-over-time loss."""
import numpy as np
import pytest

import snnumba as snn
from snnumba.losses import max_over_time_nll
from snnumba.tasks.randman import randman
from tests.test_gradients import central_difference


# --- max-over-time readout loss ------------------------------------------------------------
def test_max_over_time_nll_matches_central_differences():
    rng = np.random.default_rng(7)
    v = rng.normal(size=(6, 4, 5))          # continuous: no ties
    labels = np.array([0, 4, 2, 2])
    loss, grad = max_over_time_nll(v, labels)
    np.testing.assert_allclose(grad, central_difference(lambda: max_over_time_nll(v, labels)[0], v),
                               rtol=1e-6, atol=1e-9)
    # the value: NLL of softmax over the per-readout maxima, written out
    m = v.max(axis=0)
    p = np.exp(m) / np.exp(m).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(4), labels])))
    assert np.count_nonzero(grad.any(axis=(1, 2))) > 1  # the peaks are at several steps


def test_max_over_time_nll_ties_send_the_gradient_to_the_first_peak():
    v = np.zeros((4, 1, 2))
    v[1, 0, 0] = v[3, 0, 0] = 2.0           # readout 0 peaks twice; readout 1 is flat (all steps tie)
    _, grad = max_over_time_nll(v, np.array([0]))
    assert grad[1, 0, 0] < 0 and grad[3, 0, 0] == 0
    assert grad[0, 0, 1] > 0 and not grad[1:, 0, 1].any()
    assert grad.sum() == pytest.approx(0.0)     # (softmax - onehot) sums to 0


def test_max_over_time_nll_rejects_bad_input():
    with pytest.raises(ValueError, match="'labels'"):
        max_over_time_nll(np.zeros((3, 2, 4)), np.array([0, 4]))
    with pytest.raises(ValueError, match="'v'"):
        max_over_time_nll(np.full((3, 2, 4), np.nan), np.array([0, 1]))
    with pytest.raises(ValueError, match="'v'"):
        max_over_time_nll(np.zeros((0, 2, 4)), np.array([0, 1]))
    assert snn.losses.LOSSES["max_over_time_nll"] is max_over_time_nll


# --- the generator ----------------------------------------------------------------------------
def test_randman_is_deterministic_and_shaped():
    x, y = randman(n_classes=4, samples_per_class=30, n_inputs=12, steps=50, seed=3)
    x2, y2 = randman(n_classes=4, samples_per_class=30, n_inputs=12, steps=50, seed=3)
    assert x.dtype == np.uint8 and x.shape == (50, 120, 12) and y.shape == (120,)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(np.bincount(y), [30] * 4)
    x3, _ = randman(n_classes=4, samples_per_class=30, n_inputs=12, steps=50, seed=4)
    assert not np.array_equal(x, x3)


def test_randman_fires_exactly_once_per_channel_and_sample():
    x, _ = randman(n_classes=3, samples_per_class=20, n_inputs=9, steps=40, manifold_dim=2, seed=1)
    np.testing.assert_array_equal(x.sum(axis=0), 1)
    assert set(np.unique(x)) == {0, 1}


def test_randman_spike_times_follow_the_documented_rule():
    """Recompute the steps from the manifolds with plain loops over one sample."""
    from snnumba.tasks.randman import make_manifolds
    C, S, N, T, D, K, a = 3, 5, 4, 30, 2, 3, 1.5
    x, y = randman(n_classes=C, samples_per_class=S, n_inputs=N, steps=T, manifold_dim=D, n_terms=K,
                   smoothness=a, seed=9)
    m_rng, s_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(9).spawn(2))
    amp, phase = make_manifolds(C, N, D, K, m_rng)
    latent = s_rng.random((C, S, D))
    order = s_rng.permutation(C * S)
    grid = np.linspace(0, 1, 1024)

    def g(c, n, d, z):
        return sum(amp[c, n, d, k] * (k + 1) ** -a * np.sin(2 * np.pi * (k + 1) * z + phase[c, n, d, k])
                   for k in range(K))
    for i in (0, 7, 14):
        c, s = divmod(order[i], S)
        assert y[i] == c
        for n in range(N):
            f = sum(g(c, n, d, latent[c, s, d]) for d in range(D))
            low = sum(g(c, n, d, grid).min() for d in range(D))
            high = sum(g(c, n, d, grid).max() for d in range(D))
            u = min(max((f - low) / (high - low), 0.0), 1.0)
            assert x[min(int(u * T), T - 1), i, n] == 1


def test_randman_classes_differ():
    x, y = randman(n_classes=5, samples_per_class=200, n_inputs=10, steps=100, seed=2)
    steps = x.argmax(axis=0)                 # [B, N] spike step of each channel
    means = np.array([steps[y == c].mean(axis=0) for c in range(5)])
    # the classes' mean spike times differ by far more than the sampling error
    spread = np.abs(means[:, None] - means[None, :]).max(axis=2)
    assert spread[~np.eye(5, dtype=bool)].min() > 5.0


@pytest.mark.parametrize("kwargs,name", [({"n_classes": 1}, "n_classes"), ({"samples_per_class": 0}, "samples_per_class"),
                                         ({"n_inputs": 0}, "n_inputs"), ({"steps": 0}, "steps"),
                                         ({"manifold_dim": 0}, "manifold_dim"), ({"n_terms": 0}, "n_terms"),
                                         ({"smoothness": -1.0}, "smoothness"), ({"seed": -1}, "seed"),
                                         ({"smoothness": float("nan")}, "smoothness")])
def test_randman_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        randman(**kwargs)


def test_randman_rejects_wrong_types():
    with pytest.raises(TypeError, match="n_inputs"):
        randman(n_inputs=2.5)


# --- the memory task: sequences of syllables ---------------------------------------------------
def test_randman_sequence_is_deterministic_and_shaped():
    kw = dict(n_classes=3, samples_per_class=4, n_inputs=6, steps=10, sequence=2, gap=7, seed=5)
    x, y = randman(**kw)
    x2, y2 = randman(**kw)
    assert x.dtype == np.uint8 and x.shape == (2 * 10 + 7, 36, 6) and y.shape == (36,)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(np.bincount(y), [4] * 9)     # classes = the 3 x 3 ordered pairs
    np.testing.assert_array_equal(x[:10].sum(axis=0), 1)       # one spike per channel and syllable
    np.testing.assert_array_equal(x[17:].sum(axis=0), 1)
    assert not x[10:17].any()                                  # the gap is silent
    assert not np.array_equal(x, randman(**{**kw, "seed": 6})[0])


def test_randman_one_syllable_sequence_is_the_original_task():
    """sequence=1 (any gap) draws exactly what the one-syllable task drew before sequences existed."""
    kw = dict(n_classes=4, samples_per_class=6, n_inputs=5, steps=20, manifold_dim=2, seed=8)
    x, y = randman(**kw)
    x1, y1 = randman(**kw, sequence=1, gap=9)
    np.testing.assert_array_equal(x, x1)
    np.testing.assert_array_equal(y, y1)


def test_randman_sequence_follows_the_documented_rule():
    """Re-derive every spike of a 3-syllable task with plain loops from the module docstring."""
    from snnumba.tasks.randman import make_manifolds
    C, S, N, T, D, K, a, L, G = 2, 3, 4, 12, 2, 2, 1.0, 3, 5
    x, y = randman(n_classes=C, samples_per_class=S, n_inputs=N, steps=T, manifold_dim=D, n_terms=K,
                   smoothness=a, seed=4, sequence=L, gap=G)
    assert x.shape == (L * T + (L - 1) * G, C**L * S, N)
    m_rng, s_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(4).spawn(2))
    amp, phase = make_manifolds(C, N, D, K, m_rng)
    latent = s_rng.random((C**L * S, L, D))
    order = s_rng.permutation(C**L * S)
    grid = np.linspace(0, 1, 1024)

    def g(c, n, d, z):
        return sum(amp[c, n, d, k] * (k + 1) ** -a * np.sin(2 * np.pi * (k + 1) * z + phase[c, n, d, k])
                   for k in range(K))
    expected = np.zeros_like(x)
    for i in range(C**L * S):
        label = order[i] // S
        assert y[i] == label
        digits = [label // C**(L - 1 - l) % C for l in range(L)]
        for l, c in enumerate(digits):
            for n in range(N):
                f = sum(g(c, n, d, latent[order[i], l, d]) for d in range(D))
                low = sum(g(c, n, d, grid).min() for d in range(D))
                high = sum(g(c, n, d, grid).max() for d in range(D))
                u = min(max((f - low) / (high - low), 0.0), 1.0)
                expected[l * (T + G) + min(int(u * T), T - 1), i, n] = 1
    np.testing.assert_array_equal(x, expected)


def test_randman_sequence_classes_are_ordered_pairs():
    """Each syllable's spike times depend on its own manifold only: the first syllable of
    class (i, j) looks like the second of class (j, i), and like the first of (i, k)."""
    C, T, G = 3, 40, 30
    x, y = randman(n_classes=C, samples_per_class=300, n_inputs=8, steps=T, sequence=2, gap=G, seed=2)
    steps = x.argmax(axis=0)                                   # first syllable's spike step [B, N]
    second = x[T + G:].argmax(axis=0)                           # second syllable's, from its start
    first_of = lambda c: steps[y == c].mean(axis=0)            # noqa: E731
    second_of = lambda c: second[y == c].mean(axis=0)          # noqa: E731
    for i in range(C):
        for j in range(C):
            np.testing.assert_allclose(first_of(i * C + j), second_of(j * C + i), atol=2.5)
            np.testing.assert_allclose(first_of(i * C + j), first_of(i * C + (j + 1) % C), atol=2.5)
    # and different syllables differ (else the pairs could not be told apart)
    syllable = np.array([first_of(i * C) for i in range(C)])
    assert np.abs(syllable[:, None] - syllable[None]).max(axis=2)[~np.eye(C, dtype=bool)].min() > 5.0


@pytest.mark.parametrize("kwargs,name", [({"sequence": 0}, "sequence"), ({"gap": -1}, "gap")])
def test_randman_sequence_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        randman(**kwargs)
    with pytest.raises(TypeError, match=name):
        randman(**{name: 1.5})
