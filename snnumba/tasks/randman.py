"""A synthetic spike-timing task in the style of randman (Zenke and Vogels 2021).

Each class is a smooth random manifold of dimension ``D`` (``manifold_dim``) embedded in
the ``n_inputs``-dimensional space of spike times. Input channel ``n`` of class ``c``
reads a latent point ``x`` in ``[0, 1]^D`` through a sum of ``K`` (``n_terms``) random
Fourier terms per latent dimension::

    f_cn(x) = sum_d sum_{k=1..K} a_cndk * k**(-smoothness) * sin(2 pi k x_d + phi_cndk)

with amplitudes ``a ~ U(0, 1)`` and phases ``phi ~ U(0, 2 pi)`` (a larger ``smoothness``
damps the higher frequencies). ``f_cn`` is rescaled to ``u_cn`` in ``[0, 1]`` by its
minimum and maximum over the cube (exact up to a grid of 1024 points per latent
dimension, since ``f`` is a sum of one-dimensional functions), and the channel fires
exactly one spike, at step ``min(floor(u_cn * steps), steps - 1)``. A sample draws its
class and its latent point uniformly; it is told apart from the other classes only by
the joint timing of its input spikes.

Everything (manifolds, latent points, class order) is a function of ``seed``.
"""
from types import SimpleNamespace

import numpy as np

from .._validation import check_int, check_nonnegative
from .temporal import COMMON_DEFAULTS, build_network, check_common, fit_and_score, spawn_rngs

#: latent points per dimension on which each channel's range is measured
_GRID = 1024


def make_manifolds(n_classes, n_inputs, manifold_dim, n_terms, rng):
    """Amplitudes and phases ``[n_classes, n_inputs, manifold_dim, n_terms]`` of the
    random Fourier terms (module docstring)."""
    shape = (n_classes, n_inputs, manifold_dim, n_terms)
    return rng.random(shape), rng.random(shape) * 2 * np.pi


def _embed(x, amplitude, phase, smoothness):
    """``f[c, s, n]`` for latent points ``x[c, s, D]``, or the per-dimension terms
    ``g[c, n, d, s]`` when ``x`` is a grid ``[G]`` shared by every dimension."""
    K = amplitude.shape[-1]
    weight = amplitude * np.arange(1, K + 1) ** -float(smoothness)
    if x.ndim == 1:  # the grid: one function per (class, channel, dimension)
        angle = 2 * np.pi * np.arange(1, K + 1)[:, None] * x[None, :]           # [K, G]
        return np.einsum("cndk,cndkg->cndg", weight, np.sin(angle + phase[..., None]))
    f = np.zeros(x.shape[:2] + (amplitude.shape[1],))
    for d in range(x.shape[2]):
        for k in range(K):  # one [C, S, N] term at a time keeps the memory small
            arg = 2 * np.pi * (k + 1) * x[:, :, d, None] + phase[:, None, :, d, k]
            f += weight[:, None, :, d, k] * np.sin(arg)
    return f


def randman(n_classes=10, samples_per_class=100, n_inputs=20, steps=100, manifold_dim=1, n_terms=3,
            smoothness=2.0, seed=0):
    """Spikes and labels of the random-manifold task (module docstring).

    Parameters
    ----------
    n_classes : int
        Classes (manifolds), at least 2.
    samples_per_class : int
        Samples drawn from each manifold.
    n_inputs : int
        Input channels; each fires exactly once per sample.
    steps : int
        Time steps ``T``.
    manifold_dim : int
        Dimension ``D`` of each manifold (larger: harder).
    n_terms : int
        Fourier terms ``K`` per latent dimension (larger: rougher manifolds).
    smoothness : float
        Exponent damping term ``k`` by ``k**-smoothness`` (>= 0).
    seed : int
        Non-negative; fixes everything.

    Returns
    -------
    spikes : uint8 array [steps, n_classes * samples_per_class, n_inputs]
        One spike per channel and sample.
    labels : int64 array [n_classes * samples_per_class]
        In a random order (drawn from ``seed``).
    """
    n_classes = check_int("n_classes", n_classes, 2)
    samples_per_class = check_int("samples_per_class", samples_per_class, 1)
    n_inputs = check_int("n_inputs", n_inputs, 1)
    steps = check_int("steps", steps, 1)
    manifold_dim = check_int("manifold_dim", manifold_dim, 1)
    n_terms = check_int("n_terms", n_terms, 1)
    smoothness = check_nonnegative("smoothness", smoothness)
    seed = check_int("seed", seed, 0)
    manifold_rng, sample_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    amplitude, phase = make_manifolds(n_classes, n_inputs, manifold_dim, n_terms, manifold_rng)

    grid = np.linspace(0.0, 1.0, _GRID)
    g = _embed(grid, amplitude, phase, smoothness)                  # [C, N, D, G]
    low, high = g.min(axis=3).sum(axis=2), g.max(axis=3).sum(axis=2)  # [C, N]: f is additive over d
    x = sample_rng.random((n_classes, samples_per_class, manifold_dim))
    f = _embed(x, amplitude, phase, smoothness)                     # [C, S, N]
    u = np.clip((f - low[:, None]) / np.maximum(high - low, 1e-12)[:, None], 0.0, 1.0)
    step = np.minimum((u * steps).astype(np.int64), steps - 1)      # one spike per channel

    n = n_classes * samples_per_class
    order = sample_rng.permutation(n)
    step = step.reshape(n, n_inputs)[order]
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), samples_per_class)[order]
    spikes = np.zeros((steps, n, n_inputs), np.uint8)
    spikes[step, np.arange(n)[:, None], np.arange(n_inputs)[None, :]] = 1
    return spikes, labels


#: Configuration keys of :func:`run` and their defaults: those of ``snnumba randman``.
RUN_DEFAULTS = {**COMMON_DEFAULTS, "n_classes": 10, "n_inputs": 20, "steps": 100, "manifold_dim": 1,
                "n_terms": 3, "smoothness": 2.0, "train_per_class": 100, "test_per_class": 50}


def make_data(seed, n_classes=10, n_inputs=20, steps=100, manifold_dim=1, n_terms=3, smoothness=2.0,
              train_per_class=100, test_per_class=50):
    """Training, validation and test sets of one run, on the same manifolds, all drawn
    from ``seed``.

    Returns a namespace with ``train`` (``train_per_class`` per class), ``val`` and ``test``
    (``test_per_class`` per class each) as ``ArrayData``, ``num_classes``, ``n_inputs``,
    and the generators ``weights_rng`` and ``loop_rng``.
    """
    from ..training import ArrayData
    rngs = spawn_rngs(seed)
    per_class = check_int("train_per_class", train_per_class, 1) + 2 * check_int("test_per_class", test_per_class, 1)
    data_seed = int(rngs.data.integers(0, 2**63 - 1))
    x, y = randman(n_classes, per_class, n_inputs, steps, manifold_dim, n_terms, smoothness, data_seed)
    # the samples come in a random order, so consecutive slices are random subsets
    a, b = n_classes * train_per_class, n_classes * (train_per_class + test_per_class)
    return SimpleNamespace(train=ArrayData(x[:, :a], y[:a]), val=ArrayData(x[:, a:b], y[a:b]),
                           test=ArrayData(x[:, b:], y[b:]), num_classes=n_classes, n_inputs=n_inputs,
                           weights_rng=rngs.weights, loop_rng=rngs.loop)


#: the keys of RUN_DEFAULTS that fix the data
DATA_KEYS = ("n_classes", "n_inputs", "steps", "manifold_dim", "n_terms", "smoothness", "train_per_class",
             "test_per_class")


def run(config=None, seed=0, progress=False):
    """Train and evaluate on the random-manifold task as ``snnumba randman --seed SEED`` does.

    Parameters
    ----------
    config : dict, optional
        Any of the keys of ``RUN_DEFAULTS`` (``run.defaults``); the rest take their defaults.
    seed : int
        Non-negative; seeds the manifolds, the samples, the weights and the batch order.
    progress : bool
        Show the epochs' progress bar.

    Returns
    -------
    dict
        ``test_accuracy``, ``train_accuracy``, ``chance_accuracy`` (percent), ``epochs``,
        ``best_epoch``, ``stopped_early``, ``train_seconds``, ``epoch_seconds_median``,
        ``compile_seconds``, ``recurrent``.
    """
    from . import config_with_defaults
    c = config_with_defaults("randman", config, RUN_DEFAULTS)
    check_common(c)
    seed = check_int("seed", seed, 0)
    data = make_data(seed, **{k: c[k] for k in DATA_KEYS})
    net = build(c, data)
    summary, _, _ = fit_and_score(net, data, c["lr"], c["epochs"], c["batch_size"], c["early_stopping"], progress)
    return summary


def build(c, data, dt=1e-3):
    """The network of configuration ``c`` (``RUN_DEFAULTS`` keys) for ``data``; one step is
    ``dt`` seconds."""
    return build_network(data.n_inputs, data.num_classes, hidden=c["hidden"], recurrent=c["recurrent"],
                         tau=c["tau"], tau_syn=c["tau_syn"], dt=dt, surrogate=c["surrogate"],
                         rng=data.weights_rng, device=c["device"])


run.defaults = RUN_DEFAULTS
