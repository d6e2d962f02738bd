"""The Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) benchmarks
(Cramer et al. 2020) with the literature's network (``tasks.temporal``).

The files (``shd_train.h5``, ``shd_test.h5``; ``ssc_train.h5``, ``ssc_valid.h5``,
``ssc_test.h5``) are read from a folder the user gives (``snnumba.datasets``); nothing is
downloaded. SHD has no validation file: a ``val_fraction`` of the training file, drawn
from the seed, is held out for validation and early stopping. SSC uses its own
validation file.
"""
from types import SimpleNamespace

import numpy as np

from .._validation import check_choice, check_int, check_positive
from .temporal import COMMON_DEFAULTS, build_network, check_common, fit_and_score, spawn_rngs

#: Configuration keys of :func:`run` and their defaults: those of ``snnumba shd``.
RUN_DEFAULTS = {**COMMON_DEFAULTS, "data": None, "dataset": "shd", "dt": 10e-3, "max_time": 1.0,
                "val_fraction": 0.1, "epochs": 50, "batch_size": 128, "lr": 1e-3}


def make_data(folder, dataset="shd", dt=10e-3, max_time=1.0, val_fraction=0.1, seed=0):
    """The training, validation and test sets of one run, and its generators.

    Returns a namespace with ``train``, ``val``, ``test`` (``datasets.SpikeDataset``),
    ``num_classes``, ``n_inputs`` (700) and the generators ``weights_rng`` and
    ``loop_rng``, all drawn from ``SeedSequence(seed)``. Missing files raise
    FileNotFoundError saying where the data sets are published.
    """
    from .. import datasets
    check_choice("dataset", dataset, tuple(datasets.NUM_CLASSES))
    rngs = spawn_rngs(check_int("seed", seed, 0))
    paths = {split: datasets.dataset_path(folder, dataset, split)
             for split in (("train", "valid", "test") if dataset == "ssc" else ("train", "test"))}
    sets = {split: datasets.SpikeDataset(path, dt=dt, max_time=max_time) for split, path in paths.items()}
    num_classes = datasets.NUM_CLASSES[dataset]
    for split, ds in sets.items():
        if ds.labels.size and ds.labels.max() >= num_classes:
            raise ValueError(f"{ds.path}: labels up to {ds.labels.max()}, but {dataset} has {num_classes} classes")
    if "valid" in sets:
        train, val = sets["train"], sets["valid"]
    else:
        if not 0 < val_fraction < 1:
            raise ValueError(f"'val_fraction' of {val_fraction!r} must lie in (0, 1)")
        order = rngs.data.permutation(len(sets["train"]))
        n_val = max(1, int(round(val_fraction * len(order))))
        train, val = sets["train"].subset(np.sort(order[n_val:])), sets["train"].subset(np.sort(order[:n_val]))
    return SimpleNamespace(train=train, val=val, test=sets["test"], num_classes=num_classes,
                           n_inputs=datasets.N_UNITS, weights_rng=rngs.weights, loop_rng=rngs.loop)


def run(config=None, seed=0, progress=False):
    """Train and evaluate on SHD or SSC as ``snnumba shd --data DIR --seed SEED`` does.

    Parameters
    ----------
    config : dict
        Must hold ``"data"`` (the folder with the files); any other key of
        ``RUN_DEFAULTS`` (``run.defaults``) may be given.
    seed : int
        Non-negative; seeds the validation split, the weights and the batch order.
    progress : bool
        Show the epochs' progress bar.

    Returns
    -------
    dict
        The metrics of ``tasks.temporal.fit_and_score``.
    """
    from . import config_with_defaults
    c = config_with_defaults("shd", config, RUN_DEFAULTS)
    if c["data"] is None:
        raise ValueError("the 'shd' task needs config['data'], the folder with the SHD/SSC files")
    check_common(c)
    for name in ("dt", "max_time"):
        check_positive(name, c[name])
    data = make_data(c["data"], c["dataset"], c["dt"], c["max_time"], c["val_fraction"], seed)
    net = build(c, data)
    summary, _, _ = fit_and_score(net, data, c["lr"], c["epochs"], c["batch_size"], c["early_stopping"], progress)
    return summary


def build(c, data):
    """The network of configuration ``c`` (``RUN_DEFAULTS`` keys) for ``data``."""
    return build_network(data.n_inputs, data.num_classes, hidden=c["hidden"], recurrent=c["recurrent"],
                         tau=c["tau"], tau_syn=c["tau_syn"], dt=c["dt"], surrogate=c["surrogate"],
                         rng=data.weights_rng, device=c["device"])


run.defaults = RUN_DEFAULTS
