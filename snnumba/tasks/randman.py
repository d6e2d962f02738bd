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
exactly one spike, at step ``min(floor(u_cn * steps), steps - 1)``. With ``sequence=1`` (one
"syllable") a sample's class is its manifold, and it is told apart from the other
classes only by the joint timing of its input spikes.

The memory task (``sequence=L > 1``, ``gap=G``): the ``C`` (``n_classes``) manifolds are
syllables, and a sample is ``L`` syllables of ``steps`` steps each, separated by ``G``
silent steps, so ``T = L * steps + (L - 1) * G``. Syllable ``l`` (from 0) occupies steps
``l * (steps + G)`` to ``l * (steps + G) + steps - 1`` and is drawn as above, at its own
latent point, from manifold ``y_l``. The class is the ordered tuple, ``y = sum_l y_l *
C**(L - 1 - l)`` (first syllable most significant), giving ``C**L`` classes with
``samples_per_class`` samples each. Every syllable occurs in ``C**(L-1)`` classes at every
position, so a window that sees one syllable cannot tell the class: a network must carry
the earlier syllables across the gap. With a gap of several time constants (the default
of ``snnumba randman``: 100 steps of 1 ms against ``tau`` = 20 ms) a feed-forward network
cannot; at best it can tell which syllables occurred, not in which order.

Draws, in this order: the manifolds (amplitudes, then phases) from the first of two
generators spawned from ``SeedSequence(seed)``; from the second, the latent points (for
``L = 1`` an array ``[C, S, D]``, class by class; for ``L > 1`` an array ``[n, L, D]``,
sample ``i = y * S + s`` in label order), then the permutation that orders the samples.

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


def _embed(x, amplitude, phase, smoothness, which=None):
    """``f[p, n]`` for latent points ``x[p, D]`` on manifolds ``which[p]``, or the
    per-dimension terms ``g[c, n, d, s]`` when ``x`` is a grid ``[G]`` shared by every
    dimension and manifold."""
    K = amplitude.shape[-1]
    weight = amplitude * np.arange(1, K + 1) ** -float(smoothness)
    if x.ndim == 1:  # the grid: one function per (class, channel, dimension)
        angle = 2 * np.pi * np.arange(1, K + 1)[:, None] * x[None, :]           # [K, G]
        return np.einsum("cndk,cndkg->cndg", weight, np.sin(angle + phase[..., None]))
    weight, phase = weight[which], phase[which]                                 # [P, N, D, K]
    f = np.zeros((x.shape[0], amplitude.shape[1]))
    for d in range(x.shape[1]):
        for k in range(K):  # one [P, N] term at a time keeps the memory small
            f += weight[:, :, d, k] * np.sin(2 * np.pi * (k + 1) * x[:, d, None] + phase[:, :, d, k])
    return f


def randman(n_classes=10, samples_per_class=100, n_inputs=20, steps=100, manifold_dim=1, n_terms=3,
            smoothness=2.0, seed=0, sequence=1, gap=0):
    """Spikes and labels of the random-manifold task (module docstring).

    Parameters
    ----------
    n_classes : int
        Manifolds, at least 2: the classes when ``sequence`` is 1, else the syllables.
    samples_per_class : int
        Samples of each class.
    n_inputs : int
        Input channels; each fires exactly once per syllable.
    steps : int
        Time steps of one syllable.
    manifold_dim : int
        Dimension ``D`` of each manifold (larger: harder).
    n_terms : int
        Fourier terms ``K`` per latent dimension (larger: rougher manifolds).
    smoothness : float
        Exponent damping term ``k`` by ``k**-smoothness`` (>= 0).
    seed : int
        Non-negative; fixes everything.
    sequence : int
        Syllables ``L`` per sample (>= 1); the class is their ordered tuple, so there
        are ``n_classes**sequence`` classes.
    gap : int
        Silent steps between consecutive syllables (>= 0).

    Returns
    -------
    spikes : uint8 array [L * steps + (L - 1) * gap, n_samples, n_inputs]
        One spike per channel and syllable; ``n_samples = n_classes**L * samples_per_class``.
    labels : int64 array [n_samples]
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
    sequence = check_int("sequence", sequence, 1)
    gap = check_int("gap", gap, 0)
    manifold_rng, sample_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    amplitude, phase = make_manifolds(n_classes, n_inputs, manifold_dim, n_terms, manifold_rng)

    grid = np.linspace(0.0, 1.0, _GRID)
    g = _embed(grid, amplitude, phase, smoothness)                  # [C, N, D, G]
    low, high = g.min(axis=3).sum(axis=2), g.max(axis=3).sum(axis=2)  # [C, N]: f is additive over d

    n_labels = n_classes ** sequence
    n = n_labels * samples_per_class
    labels = np.repeat(np.arange(n_labels, dtype=np.int64), samples_per_class)
    # syllable l of label y is digit l of y in base C, the first syllable the most significant
    which = labels[:, None] // n_classes ** np.arange(sequence - 1, -1, -1) % n_classes   # [n, L]
    if sequence == 1:  # the draws of the one-syllable task, grouped by class
        x = sample_rng.random((n_classes, samples_per_class, manifold_dim)).reshape(n, 1, manifold_dim)
    else:
        x = sample_rng.random((n, sequence, manifold_dim))
    f = _embed(x.reshape(n * sequence, manifold_dim), amplitude, phase, smoothness, which.ravel())
    low, high = low[which.ravel()], high[which.ravel()]                # [n * L, N]
    u = np.clip((f - low) / np.maximum(high - low, 1e-12), 0.0, 1.0)
    step = np.minimum((u * steps).astype(np.int64), steps - 1)      # one spike per channel and syllable
    step = step.reshape(n, sequence, n_inputs) + (steps + gap) * np.arange(sequence)[:, None]

    order = sample_rng.permutation(n)
    step, labels = step[order], labels[order]
    spikes = np.zeros((sequence * steps + (sequence - 1) * gap, n, n_inputs), np.uint8)
    spikes[step, np.arange(n)[:, None, None], np.arange(n_inputs)] = 1
    return spikes, labels


#: Configuration keys of :func:`run` and their defaults: those of ``snnumba randman``. The
#: hidden neurons adapt (``tau_adapt`` 0.2 s, longer than the gap): over three seeds the
#: recurrent adaptive network reached 61 % on the memory task, the plain recurrent and
#: feed-forward ones 31 % and 32 % (README, "Temporal benchmarks").
RUN_DEFAULTS = {**COMMON_DEFAULTS, "n_classes": 3, "n_inputs": 20, "steps": 50, "manifold_dim": 1,
                "n_terms": 3, "smoothness": 2.0, "train_per_class": 100, "test_per_class": 30, "sequence": 2,
                "gap": 100, "tau_adapt": 0.2}


def make_data(seed, n_classes=10, n_inputs=20, steps=100, manifold_dim=1, n_terms=3, smoothness=2.0,
              train_per_class=100, test_per_class=50, sequence=1, gap=0):
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
    x, y = randman(n_classes, per_class, n_inputs, steps, manifold_dim, n_terms, smoothness, data_seed,
                   sequence=sequence, gap=gap)
    n_labels = n_classes ** sequence
    # the samples come in a random order, so consecutive slices are random subsets
    a, b = n_labels * train_per_class, n_labels * (train_per_class + test_per_class)
    return SimpleNamespace(train=ArrayData(x[:, :a], y[:a]), val=ArrayData(x[:, a:b], y[a:b]),
                           test=ArrayData(x[:, b:], y[b:]), num_classes=n_labels, n_inputs=n_inputs,
                           weights_rng=rngs.weights, loop_rng=rngs.loop)


#: the keys of RUN_DEFAULTS that fix the data
DATA_KEYS = ("n_classes", "n_inputs", "steps", "manifold_dim", "n_terms", "smoothness", "train_per_class",
             "test_per_class", "sequence", "gap")


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
                         tau_adapt=c["tau_adapt"], rng=data.weights_rng, device=c["device"])


run.defaults = RUN_DEFAULTS
