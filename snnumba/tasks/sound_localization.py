"""Sound localization from interaural phase differences (the seed tutorial's task).

Each sample is a 20 Hz tone heard by 100 auditory-nerve fibres per ear. Fibre ``j``
of an ear has a phase delay ``linspace(0, pi/2, 100)[j]``; the right ear is further
shifted by the sample's interaural phase difference (IPD), drawn uniformly from
(-pi/2, pi/2). Each fibre fires as a Bernoulli process per 1 ms step with probability
``600 Hz * dt * (0.5 * (1 + sin(phase)))**2``. The tone's phase offset is redrawn each
time the data are generated (every epoch), while each sample's uniform draws stay fixed,
as in the seed. The task is to classify the IPD into 12 bins of 15 degrees.

The uniform draws are not stored: they are a counter-based hash of (data seed, sample,
step, fibre) (``kernels.scalar.counter_uniform_pair``), regenerated bit for bit on the CPU
or the GPU.
"""
import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .._validation import check_array, check_int, check_nonnegative, check_positive
from ..backend import get_backend


@dataclass(frozen=True)
class StimulusConfig:
    """Stimulus constants, the seed's values by default (SI units: s, Hz)."""

    anf_per_ear: int = 100
    duration: float = 0.1
    dt: float = 1e-3
    rate_max: float = 600.0
    stimulus_frequency: float = 20.0
    envelope_power: float = 2.0
    num_classes: int = 12

    def __post_init__(self):
        check_int("anf_per_ear", self.anf_per_ear, 1)
        check_int("num_classes", self.num_classes, 1)
        for name in ("duration", "dt", "rate_max", "stimulus_frequency"):
            check_positive(name, getattr(self, name))
        check_nonnegative("envelope_power", self.envelope_power)
        if self.rate_max * self.dt > 1:
            raise ValueError(f"'rate_max' * 'dt' = {self.rate_max * self.dt} must be <= 1")

    @property
    def steps(self):
        return int(np.round(self.duration / self.dt))

    @property
    def n_inputs(self):
        return 2 * self.anf_per_ear


def discretise(ipd, num_classes=12):
    """Class index of each IPD: ``floor((ipd + pi/2) * num_classes / pi)``, clamped to
    ``[0, num_classes - 1]`` (the seed's truncation sends an IPD of exactly pi/2 to a
    class that does not exist)."""
    ipd = check_array("ipd", ipd, dtype=np.float64)
    return np.clip(((ipd + np.pi / 2) * num_classes / np.pi).astype(np.int64), 0, num_classes - 1)


def continuise(index, num_classes=12):
    """The IPD at the middle of each class bin."""
    return (np.asarray(index) + 0.5) / num_classes * np.pi - np.pi / 2


def phase_tables(config, phase_offset):
    """``sin`` and ``cos`` of the left-ear phase ``A[t, j]``, each [T, anf_per_ear]."""
    times = np.arange(config.steps) * config.dt
    phi = 2 * np.pi * (config.stimulus_frequency * times + phase_offset)
    phase = phi[:, None] + np.linspace(0, np.pi / 2, config.anf_per_ear)[None, :]
    return np.sin(phase), np.cos(phase)


class SoundLocalizationData:
    """A fixed set of samples (IPDs and their uniform draws) that can be turned into spikes.

    Parameters
    ----------
    n_samples : int
    rng : numpy.random.Generator or int
        Draws the IPDs and the seed of the samples' uniform draws.
    config : StimulusConfig, optional
    device : {'cpu', 'cuda'}
        Where the spikes are generated.
    """

    def __init__(self, n_samples, rng=None, config=None, device="cpu"):
        self.n_samples = check_int("n_samples", n_samples, 1)
        self.config = config or StimulusConfig()
        rng = np.random.default_rng(rng)
        self.ipd = rng.random(self.n_samples) * np.pi - np.pi / 2
        self.noise_seed = int(rng.integers(0, 2**63 - 1))
        self.labels = discretise(self.ipd, self.config.num_classes)
        self.backend = get_backend(device)

    def __len__(self):
        return self.n_samples

    def spikes(self, indices, phase_offset, dtype=np.float32, tables=None):
        """Spikes ``[T, len(indices), 2 * anf_per_ear]`` (0/1) of the given samples.

        ``tables`` may pass ``phase_tables(config, phase_offset)``, already on the device,
        to reuse them across batches.
        """
        indices = np.asarray(indices, dtype=np.int64)
        cfg, be = self.config, self.backend
        sin_a, cos_a = tables if tables is not None else self._tables(phase_offset)
        out = be.empty((cfg.steps, indices.size, cfg.n_inputs), dtype)
        be.sound_localization_spikes(sin_a, cos_a, be.asarray(self.ipd[indices]), be.asarray(indices),
                                     self.noise_seed, cfg.rate_max * cfg.dt, float(cfg.envelope_power), out)
        return out

    def _tables(self, phase_offset):
        return tuple(self.backend.asarray(a) for a in phase_tables(self.config, phase_offset))

    def batches(self, batch_size, rng, shuffle=True, drop_last=True, dtype=np.float32):
        """Yield ``(spikes[T, B, 2F], labels[B])`` over the samples, as the seed's
        ``data_generator`` does: one new phase offset per call, an optional shuffle,
        and (with ``drop_last``) no final partial batch."""
        batch_size = check_int("batch_size", batch_size, 1)
        rng = np.random.default_rng(rng)
        phase_offset = rng.random()
        tables = self._tables(phase_offset)  # one phase offset per call: compute its tables once
        order = rng.permutation(self.n_samples) if shuffle else np.arange(self.n_samples)
        stop = self.n_samples - self.n_samples % batch_size if drop_last else self.n_samples
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            yield self.spikes(idx, phase_offset, dtype, tables), self.labels[idx]


def build_network(hidden=30, tau=5e-3, dales_law=False, ie_ratio=0.5, surrogate="sigmoid",
                  slope=None, config=None, rng=None, device="cpu", dtype=np.float32, *, beta=None):
    """The seed's network: Dense -> LIF hidden layer -> Dense -> leaky readout.

    ``slope`` is the surrogate's steepness (``beta`` is its deprecated alias).
    """
    from ..layers import Dense
    from ..network import Network
    from ..neurons import LIF, LeakyReadout
    from ..surrogate import slope_argument
    slope, _ = slope_argument(slope, beta)
    cfg = config or StimulusConfig()
    rng = np.random.default_rng(rng)
    layers = [Dense(cfg.n_inputs, hidden, dales_law=dales_law, ie_ratio=ie_ratio, rng=rng),
              LIF(tau=tau, threshold=1.0, dt=cfg.dt, surrogate=surrogate, slope=slope),
              Dense(hidden, cfg.num_classes, dales_law=dales_law, ie_ratio=ie_ratio, rng=rng),
              LeakyReadout(tau=tau, dt=cfg.dt)]
    return Network(layers, device=device, dtype=dtype)


def training_step(net, lr):
    """One training epoch of two samples (Adam at ``lr``) on ``net``: every kernel a
    training run of ``net`` calls, compiled or loaded from the cache."""
    from ..optim import Adam
    from ..training import Trainer
    Trainer(net, Adam(net, lr=lr), progress=False).train_epoch(
        SoundLocalizationData(2, 0, device=net.device), 2, np.random.default_rng(0))


def compile_forward(net):
    """Compile (or load) the kernels of the data and of ``net``'s forward pass: the half of
    a cold start that the command compiles while the helper compiles the rest
    (``snnumba._warmup.FORWARD_KERNELS``)."""
    from .._threads import compute_threads
    with compute_threads():
        net.forward(SoundLocalizationData(2, 0, device=net.device).spikes(np.arange(2), 0.0, net.dtype))


def warm_up(net, lr, helper=None):
    """Compile (or load) the kernels a training run of ``net`` uses, by ``training_step`` on
    a throwaway copy. On a cold CPU cache a helper process compiles the backward half
    meanwhile (``snnumba._warmup``; ``helper`` True/False forces it on or off)."""
    from .. import _warmup
    from ..network import Network
    scratch = Network.from_arrays(net.to_arrays(), device=net.device)
    _warmup.compile_on_two_cores(scratch, lr, f"{__name__}:training_step", lambda: compile_forward(scratch), helper)
    training_step(scratch, lr)


def check_network(network, config=None, source="the network"):
    """Raise ValueError unless ``network`` starts with a ``Dense`` layer taking the task's
    ``2 * anf_per_ear`` inputs and its last ``Dense`` layer has one output per class."""
    from ..layers import Dense
    cfg = config or StimulusConfig()
    dense = [layer for layer in network.layers if isinstance(layer, Dense)]
    if not dense or network.layers[0] is not dense[0]:
        raise ValueError(f"{source} must start with a Dense layer, got "
                         f"{type(network.layers[0]).__name__}")
    if dense[0].n_in != cfg.n_inputs:
        raise ValueError(f"{source} takes {dense[0].n_in} inputs, but the sound-localization task has "
                         f"{cfg.n_inputs} (2 ears x {cfg.anf_per_ear} fibres)")
    if dense[-1].n_out != cfg.num_classes:
        raise ValueError(f"{source} has {dense[-1].n_out} outputs, but the sound-localization task has "
                         f"{cfg.num_classes} classes")


def evaluate(network, data, rng, batch_size=64):
    """Classify every sample of ``data`` by the argmax over time-summed readout membrane.

    Returns a dict with ``accuracy`` (fraction), ``error_deg`` (mean absolute IPD error
    in degrees, true IPD against the predicted bin's centre), ``confusion``
    (``[predicted, true]`` counts), ``predicted`` and ``ipd``. Runs in evaluation mode
    and leaves each layer in the mode it was in.
    """
    C = data.config.num_classes
    predicted = np.empty(len(data), np.int64)
    start = 0
    modes = [layer.training for layer in network.layers]
    network.eval()  # inference records no traces
    try:
        for x, _ in data.batches(batch_size, rng, shuffle=False, drop_last=False):
            v = network.backend.to_host(network.forward(x))
            predicted[start:start + v.shape[1]] = v.sum(axis=0).argmax(axis=1)
            start += v.shape[1]
    finally:
        for layer, mode in zip(network.layers, modes):
            layer.train(mode)
    true = data.labels
    confusion = np.zeros((C, C), np.int64)
    np.add.at(confusion, (predicted, true), 1)
    error = np.abs(data.ipd - continuise(predicted, C)) * 180 / np.pi
    return {"accuracy": float(np.mean(predicted == true)), "error_deg": float(error.mean()),
            "confusion": confusion, "predicted": predicted, "ipd": data.ipd}


#: Configuration keys of :func:`run` and their defaults: those of ``snnumba sound-localization``.
RUN_DEFAULTS = {"epochs": 150, "hidden": 30, "lr": 0.005, "batch_size": 64, "train_batches": 64,
                "test_batches": 32, "tau": 5e-3, "surrogate": "sigmoid", "dales_law": False,
                "early_stopping": True, "device": "cpu"}


def run(config=None, seed=0, progress=False):
    """Train and evaluate the task as ``snnumba sound-localization --seed SEED`` does.

    The seeding is the command's, so for the same configuration and seed the metrics are
    the same numbers; this is the task a sweep (``snnumba.sweep``) runs.

    Parameters
    ----------
    config : dict, optional
        Any of the keys of ``RUN_DEFAULTS`` (``run.defaults``), e.g. ``{"lr": 0.002,
        "hidden": 100, "epochs": 5}``; the rest take their defaults.
    seed : int
        Non-negative; seeds weights, data, batch order and evaluation.
    progress : bool
        Show the epochs' progress bar.

    Returns
    -------
    dict
        ``test_accuracy``, ``train_accuracy`` and ``chance_accuracy`` (percent),
        ``test_error_deg``, ``train_error_deg``, ``epochs``, ``best_epoch``,
        ``stopped_early``, ``train_seconds``, ``epoch_seconds_median``, ``compile_seconds``.
    """
    from .._validation import check_choice
    from ..backend import DEVICES
    from ..kernels.scalar import SURROGATES
    from ..optim import Adam
    from ..training import Trainer
    from . import config_with_defaults

    c = config_with_defaults("sound-localization", config, RUN_DEFAULTS)
    seed = check_int("seed", seed, 0)
    for name in ("epochs", "hidden", "batch_size", "train_batches", "test_batches"):
        check_int(name, c[name], 1)
    for name in ("lr", "tau"):
        check_positive(name, c[name])
    for name in ("dales_law", "early_stopping"):
        if not isinstance(c[name], (bool, np.bool_)):
            raise TypeError(f"'{name}' must be True or False, got {c[name]!r}")
    check_choice("surrogate", c["surrogate"], SURROGATES)
    check_choice("device", c["device"], DEVICES)

    data = make_data(seed, c["batch_size"], c["train_batches"], c["test_batches"], c["device"])
    net_options = dict(hidden=c["hidden"], tau=c["tau"], dales_law=c["dales_law"],
                       surrogate=c["surrogate"], device=c["device"])
    net = build_network(rng=data.weights_rng, **net_options)
    trainer = Trainer(net, Adam(net, lr=c["lr"]), progress=progress)

    start = time.perf_counter()
    warm_up(net, c["lr"])  # as the command does
    compile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    history = trainer.fit(data.train, data.val, epochs=c["epochs"], batch_size=c["batch_size"],
                          rng=data.loop_rng, early_stopping=bool(c["early_stopping"]))
    train_seconds = time.perf_counter() - start
    scores, _ = score(net, data, c["batch_size"])
    return {**scores, "epochs": len(history["loss"]), "best_epoch": history["best_epoch"],
            "stopped_early": history["stopped_early"], "train_seconds": train_seconds,
            "epoch_seconds_median": float(np.median(history["epoch_seconds"])),
            "compile_seconds": compile_seconds}


def make_data(seed, batch_size, train_batches, test_batches, device="cpu"):
    """The data sets and generators of one run, all drawn from ``SeedSequence(seed)``.

    Training (``snnumba sound-localization``, :func:`run`) and ``snnumba evaluate`` build
    them here, so the same seed and sizes give the same sets. Returns a namespace with
    ``train``, ``val`` (``batch_size * train_batches`` samples each), ``test``
    (``batch_size * test_batches``) and the generators ``weights_rng``, ``loop_rng``
    (batch order) and ``eval_rng``.
    """
    # six generators spawned in this order; the data sets take the 2nd to 4th
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    n_train = batch_size * train_batches
    return SimpleNamespace(
        weights_rng=rngs[0], loop_rng=rngs[4], eval_rng=rngs[5],
        train=SoundLocalizationData(n_train, rngs[1], device=device),
        val=SoundLocalizationData(n_train, rngs[2], device=device),
        test=SoundLocalizationData(batch_size * test_batches, rngs[3], device=device))


def score(net, data, batch_size):
    """Accuracy (percent) and absolute error on ``data.train`` then ``data.test`` (in that
    order: they share ``data.eval_rng``). Returns ``(scores, test_result)``."""
    tr = evaluate(net, data.train, data.eval_rng, batch_size)
    te = evaluate(net, data.test, data.eval_rng, batch_size)
    scores = {"test_accuracy": 100 * te["accuracy"], "test_error_deg": te["error_deg"],
              "train_accuracy": 100 * tr["accuracy"], "train_error_deg": tr["error_deg"],
              "chance_accuracy": 100 / data.train.config.num_classes}
    return scores, te


run.defaults = RUN_DEFAULTS
