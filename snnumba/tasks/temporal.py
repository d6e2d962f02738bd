"""What the temporal classification tasks (``shd``, ``randman``) share: the network of the
literature, its max-over-time evaluation, and one training run.

The network (Cramer et al. 2020; Zenke and Vogels 2021)::

    Dense(n_in, H) -> RecurrentLIF(H) or LIF -> Dense(H, C) -> LeakyReadout(C)

with current-based LIF neurons (``tau_syn``), the spike in the step whose membrane crosses
the threshold (``spike_timing="same_step"``) and reset by subtraction, trained with the
max-over-time readout loss (``losses.max_over_time_nll``) and Adam. A sample's class is
the readout whose membrane peaks highest.
"""
import time
from types import SimpleNamespace

import numpy as np

from .._validation import check_choice, check_int, check_nonnegative, check_positive

#: neuron options of the hidden layer (besides the time constants)
NEURON_OPTIONS = {"reset": "subtract", "spike_timing": "same_step"}
#: recurrent weights start in +-RECURRENT_GAIN / sqrt(hidden), a tenth of the input weights' gain:
#: RecurrentLIF's default 1 / sqrt(n) drives so much recurrent activity that training is slow
RECURRENT_GAIN = 0.2
#: threshold increase per unit of adaptation (ALIF): Bellec et al. 2018 use 1.8 with threshold ~1
ADAPT_STRENGTH = 1.8


def build_network(n_in, n_classes, hidden=128, recurrent=True, tau=20e-3, tau_syn=10e-3, dt=1e-3,
                  surrogate="fast_sigmoid", slope=None, init_gain=2.0, recurrent_gain=RECURRENT_GAIN,
                  tau_adapt=None, adapt_strength=ADAPT_STRENGTH, rng=None, device="cpu", dtype=np.float32):
    """The literature's network (module docstring).

    Parameters
    ----------
    n_in, n_classes, hidden : int
        Inputs, classes (readouts) and hidden neurons.
    recurrent : bool
        ``RecurrentLIF`` (trained recurrent weights, self-connections included) or the
        feed-forward ``LIF`` with the same options.
    tau, tau_syn : float
        Membrane and synaptic time constants in seconds; the readout leaks with ``tau``.
    dt : float
        Time step in seconds.
    surrogate, slope
        Surrogate derivative of the hidden layer (``snnumba.surrogate``).
    init_gain : float
        Input and output weights start uniform in ``+-init_gain / sqrt(fan_in)``.
    recurrent_gain : float
        Recurrent weights start uniform in ``+-recurrent_gain / sqrt(hidden)``: small, as in
        Zenke and Vogels 2021 (see ``RECURRENT_GAIN``).
    tau_adapt : float, optional
        Adaptive threshold (ALIF, Bellec et al. 2018) with this time constant in seconds,
        ``threshold + adapt_strength * a``.
    rng : numpy.random.Generator or int
    """
    from ..layers import Dense
    from ..network import Network
    from .. import neurons
    n_in, n_classes, hidden = (check_int(k, v, 1) for k, v in
                               (("n_in", n_in), ("n_classes", n_classes), ("hidden", hidden)))
    rng = np.random.default_rng(rng)
    options = dict(tau=tau, tau_syn=tau_syn, dt=dt, surrogate=surrogate, slope=slope, **NEURON_OPTIONS)
    if tau_adapt is not None:
        options.update(tau_adapt=tau_adapt, adapt_strength=adapt_strength)
    if recurrent:
        bound = check_nonnegative("recurrent_gain", recurrent_gain) / np.sqrt(hidden)
        hidden_layer = neurons.RecurrentLIF(hidden, init_bound=bound, rng=rng, **options)
    else:
        hidden_layer = neurons.LIF(**options)
    layers = [Dense(n_in, hidden, init_bound=init_gain / np.sqrt(n_in), rng=rng), hidden_layer,
              Dense(hidden, n_classes, init_bound=init_gain / np.sqrt(hidden), rng=rng),
              neurons.LeakyReadout(tau=tau, dt=dt)]
    return Network(layers, device=device, dtype=dtype)


def is_recurrent(network):
    """Whether the network's hidden layer is recurrent."""
    return any(type(layer).__name__ == "RecurrentLIF" for layer in network.layers)


def evaluate(network, data, batch_size, num_classes):
    """Classify every sample of ``data`` (any object with ``batches`` and ``labels``) by
    the readout whose membrane peaks highest over time.

    Returns a dict with ``accuracy`` (fraction), ``confusion`` (``[predicted, true]``
    counts) and ``predicted``. Runs in evaluation mode and leaves each layer in its mode.
    """
    predicted, true = [], []
    modes = [layer.training for layer in network.layers]
    network.eval()  # inference records no traces
    try:
        for x, y in data.batches(batch_size, 0, shuffle=False, drop_last=False):
            v = network.backend.to_host(network.forward(x))
            predicted.append(v.max(axis=0).argmax(axis=1))
            true.append(np.asarray(y))
    finally:
        for layer, mode in zip(network.layers, modes):
            layer.train(mode)
    predicted, true = np.concatenate(predicted), np.concatenate(true)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (predicted, true), 1)
    return {"accuracy": float(np.mean(predicted == true)), "confusion": confusion, "predicted": predicted}


def fit_and_score(network, data, lr, epochs, batch_size, early_stopping=True, progress=False,
                  warm_up=True):
    """Train ``network`` on ``data.train`` (validation on ``data.val``, batch order from
    ``data.loop_rng``) with Adam and the max-over-time loss, then score it.

    ``data`` is a namespace with ``train``, ``val``, ``test``, ``loop_rng`` and
    ``num_classes``. With ``warm_up``, one step of a throwaway copy first compiles (or
    loads) the kernels, timed apart.

    Returns ``(summary, history, test_result)``: the summary holds ``test_accuracy``,
    ``train_accuracy``, ``chance_accuracy`` (percent), ``epochs``, ``best_epoch``,
    ``stopped_early``, ``train_seconds``, ``epoch_seconds_median``, ``compile_seconds``.
    """
    from ..losses import max_over_time_nll
    from ..optim import Adam
    from ..training import Trainer
    compile_seconds = 0.0
    if warm_up:
        start = time.perf_counter()
        warm_up_step(network, data, lr, batch_size)
        compile_seconds = time.perf_counter() - start
    trainer = Trainer(network, Adam(network, lr=lr), loss=max_over_time_nll, progress=progress)
    start = time.perf_counter()
    history = trainer.fit(data.train, data.val, epochs=epochs, batch_size=batch_size, rng=data.loop_rng,
                          early_stopping=early_stopping)
    train_seconds = time.perf_counter() - start
    tr = evaluate(network, data.train, batch_size, data.num_classes)
    te = evaluate(network, data.test, batch_size, data.num_classes)
    summary = {"test_accuracy": 100 * te["accuracy"], "train_accuracy": 100 * tr["accuracy"],
               "chance_accuracy": 100 / data.num_classes, "epochs": len(history["loss"]),
               "best_epoch": history["best_epoch"], "stopped_early": history["stopped_early"],
               "train_seconds": train_seconds, "epoch_seconds_median": float(np.median(history["epoch_seconds"])),
               "compile_seconds": compile_seconds, "recurrent": is_recurrent(network)}
    return summary, history, te


def warm_up_step(network, data, lr, batch_size, helper=None):
    """Compile (or load) every kernel that training and evaluating ``network`` in batches
    of ``batch_size`` use, by one training step and one evaluation of a throwaway copy on
    one such batch of ``data.train`` (its size decides which recurrent kernels run:
    ``kernels/cpu/neuron.FIXED_OPTIONS_MIN_SIZE``). On a cold CPU cache a helper process
    compiles the backward half meanwhile (``snnumba._warmup``; ``helper`` True/False forces
    it on or off)."""
    from .. import _warmup
    from .._threads import compute_threads
    from ..network import Network
    scratch = Network.from_arrays(network.to_arrays(), device=network.device)
    batch = _first_samples(data.train, min(batch_size, len(data.train)))
    x = batch.x
    args = (list(x.shape), np.dtype(x.dtype).str)

    def compile_forward():
        with compute_threads():
            scratch.forward(x)

    _warmup.compile_on_two_cores(scratch, lr, f"{__name__}:helper_step", compile_forward, helper, args)
    _train_once(scratch, batch, lr)
    scratch.eval().forward(x)


def helper_step(network, lr, shape, dtype):
    """The helper's step (``snnumba._warmup``): a training step of ``network`` on one batch
    of zeros of the data's ``shape`` and ``dtype``, which compiles the kernels of the
    backward pass that batches of that shape run."""
    from ..training import ArrayData
    _train_once(network, ArrayData(np.zeros(shape, dtype), np.zeros(shape[1], np.int64)), lr)


def _train_once(network, data, lr):
    """One epoch of ``data`` in one batch, with Adam and the max-over-time loss."""
    from ..losses import max_over_time_nll
    from ..optim import Adam
    from ..training import Trainer
    Trainer(network, Adam(network, lr=lr), loss=max_over_time_nll, progress=False).train_epoch(
        data, len(data), np.random.default_rng(0))


def _first_samples(data, n):
    """The first ``n`` samples of a data set, as an ``ArrayData``."""
    from ..training import ArrayData
    x, y = next(data.batches(n, 0, shuffle=False, drop_last=False))
    return ArrayData(x[:, :n], y[:n])


#: configuration keys of the network and training shared by both tasks' ``run``
COMMON_DEFAULTS = {"epochs": 30, "hidden": 128, "lr": 2e-3, "batch_size": 64, "tau": 20e-3,
                   "tau_syn": 10e-3, "recurrent": True, "surrogate": "fast_sigmoid",
                   "early_stopping": True, "device": "cpu"}


def check_common(c):
    """Check the ``COMMON_DEFAULTS`` entries of a task configuration (errors name the key)."""
    from ..backend import DEVICES
    from ..kernels.scalar import SURROGATES
    for name in ("epochs", "hidden", "batch_size"):
        check_int(name, c[name], 1)
    for name in ("lr", "tau", "tau_syn"):
        check_positive(name, c[name])
    for name in ("recurrent", "early_stopping"):
        if not isinstance(c[name], (bool, np.bool_)):
            raise TypeError(f"'{name}' must be True or False, got {c[name]!r}")
    check_choice("surrogate", c["surrogate"], SURROGATES)
    check_choice("device", c["device"], DEVICES)


def spawn_rngs(seed):
    """The generators of one run, from ``SeedSequence(seed)``: weights, data, batch order."""
    return SimpleNamespace(**dict(zip(("weights", "data", "loop"),
                                      (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)))))
