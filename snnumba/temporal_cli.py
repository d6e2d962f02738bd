"""``snnumba shd`` and ``snnumba randman``: train the literature's recurrent (or
feed-forward) current-based LIF network (``tasks.temporal``) on SHD/SSC files or on the
synthetic random-manifold task, with the flagship's flags, progress bar, ``--json``,
``--save`` and ``--plot``. Every argument is checked before any work starts."""
import argparse
import sys

from ._cli_common import (_prepare_kernels, check_outputs_and_device, nonnegative_int,
                          positive_float, positive_int, write_outputs)
from .backend import DEVICES
from .surrogate import SURROGATES


#: --adapt's time constant without a value (s): longer than the default gap
ADAPT_TAU = 0.2


def _fraction(text):
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1), got {text}")
    return value


def _common_options(p, defaults):
    """The network, training and output options of both commands."""
    p.add_argument("--epochs", type=positive_int, default=defaults["epochs"],
                   help=f"maximum epochs (default {defaults['epochs']}; early stopping applies)")
    p.add_argument("--hidden", type=positive_int, default=defaults["hidden"],
                   help=f"hidden LIF neurons (default {defaults['hidden']})")
    p.add_argument("--lr", type=positive_float, default=defaults["lr"], help=f"Adam learning rate (default {defaults['lr']})")
    p.add_argument("--tau", type=positive_float, default=defaults["tau"],
                   help=f"membrane (and readout) time constant in seconds (default {defaults['tau']})")
    p.add_argument("--tau-syn", type=positive_float, default=defaults["tau_syn"],
                   help=f"synaptic time constant in seconds (default {defaults['tau_syn']})")
    p.add_argument("--surrogate", choices=SURROGATES, default=defaults["surrogate"],
                   help=f"surrogate derivative (default {defaults['surrogate']})")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--recurrent", dest="recurrent", action="store_true", default=defaults["recurrent"],
                      help="recurrent hidden layer (RecurrentLIF; the default)")
    kind.add_argument("--feedforward", dest="recurrent", action="store_false",
                      help="feed-forward hidden layer (LIF with the same options)")
    p.add_argument("--no-early-stopping", action="store_true", help="always run --epochs epochs")
    p.add_argument("--save", metavar="PATH", help="save the trained network (.npz)")
    p.add_argument("--plot", metavar="PNG", help="save loss curves and the confusion matrix (needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    p.add_argument("--batch-size", type=positive_int, default=defaults["batch_size"],
                   help=f"batch size (default {defaults['batch_size']})")
    p.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default) or cuda")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line")


def add_temporal_parsers(sub):
    """Add ``shd`` and ``randman`` to ``snnumba``'s sub-parsers."""
    from .tasks import randman, shd
    d = shd.RUN_DEFAULTS
    p = sub.add_parser(
        "shd", help="train a recurrent current-based LIF network on SHD/SSC files",
        description="Train 700 inputs -> --hidden recurrent current-based LIF neurons -> one leaky "
                    "readout per class (max-over-time loss, Adam) on the Spiking Heidelberg Digits "
                    "or Spiking Speech Commands (Cramer et al. 2020). The files are not downloaded: "
                    "get them from https://zenkelab.org/datasets and give their folder with --data.")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="folder with shd_train.h5 and shd_test.h5 (SSC: ssc_train/valid/test.h5)")
    p.add_argument("--dataset", choices=("shd", "ssc"), default=d["dataset"], help="shd (default) or ssc")
    p.add_argument("--dt", type=positive_float, default=d["dt"], help=f"time bin in seconds (default {d['dt']})")
    p.add_argument("--max-time", type=positive_float, default=d["max_time"],
                   help=f"spikes after this time (s) are dropped (default {d['max_time']})")
    p.add_argument("--val-fraction", type=_fraction, default=d["val_fraction"],
                   help=f"part of SHD's training file held out for validation (default {d['val_fraction']})")
    _common_options(p, d)
    p.set_defaults(run=run_temporal, check=_check_shd, parser=p, task="shd")

    d = randman.RUN_DEFAULTS
    p = sub.add_parser(
        "randman", help="train on the synthetic random-manifold spike-timing task",
        description="Train a recurrent (or, with --feedforward, feed-forward) current-based LIF network "
                    "on a random-manifold task in the style of Zenke and Vogels 2021: each class is a "
                    "smooth random manifold mapped to one spike time per input channel. No download.")
    for flag, key, kind, what in (
            ("--classes", "n_classes", positive_int, "classes (manifolds)"),
            ("--inputs", "n_inputs", positive_int, "input channels"),
            ("--steps", "steps", positive_int, "time steps of 1 ms"),
            ("--manifold-dim", "manifold_dim", positive_int, "manifold dimension (larger: harder)"),
            ("--terms", "n_terms", positive_int, "Fourier terms per latent dimension"),
            ("--smoothness", "smoothness", positive_float, "damping exponent of the higher terms"),
            ("--train-per-class", "train_per_class", positive_int, "training samples per class"),
            ("--test-per-class", "test_per_class", positive_int, "validation and test samples per class, each"),
            ("--sequence", "sequence", positive_int, "syllables per sample; the class is their ordered tuple, "
                                                     "so --classes**--sequence classes"),
            ("--gap", "gap", nonnegative_int, "silent steps between syllables")):
        p.add_argument(flag, dest=key, type=kind, default=d[key], help=f"{what} (default {d[key]})")
    p.add_argument("--adapt", dest="tau_adapt", nargs="?", type=positive_float, const=ADAPT_TAU,
                   default=d["tau_adapt"], metavar="TAU",
                   help=f"adaptive thresholds (ALIF, Bellec et al. 2018) decaying with TAU seconds "
                        f"(default: on, TAU {d['tau_adapt']}; TAU without --adapt's value: {ADAPT_TAU})")
    p.add_argument("--no-adapt", dest="tau_adapt", action="store_const", const=None,
                   help="plain thresholds (no adaptation)")
    _common_options(p, d)
    p.set_defaults(run=run_temporal, check=_check_randman, parser=p, task="randman")


# --- checks before any work -------------------------------------------------------------
def _config(args, task):
    """The task's ``run`` configuration from the parsed arguments."""
    config = {key: getattr(args, key) for key in task.RUN_DEFAULTS if hasattr(args, key)}
    config["early_stopping"] = not args.no_early_stopping
    return config


def _check_shd(args):
    from .tasks import shd
    check_outputs_and_device(args)
    args.config = _config(args, shd)
    try:  # opens the files and checks their layout; reads no spikes yet
        args.data_sets = shd.make_data(args.data, args.dataset, args.dt, args.max_time, args.val_fraction,
                                       args.seed)
    except ImportError as exc:
        sys.exit(f"snnumba: {exc}")
    except (OSError, ValueError) as exc:
        args.parser.error(f"--data {args.data!r}: {exc}")
    for part in ("train", "val"):  # validation batches drop the last partial one too
        n = len(getattr(args.data_sets, part))
        if n < args.batch_size:
            args.parser.error(f"--batch-size {args.batch_size} exceeds the {n} "
                              f"{'training' if part == 'train' else 'validation'} samples")


def _check_randman(args):
    from .tasks import randman
    check_outputs_and_device(args)
    args.config = _config(args, randman)
    if args.n_classes < 2:
        args.parser.error("--classes must be >= 2")
    if min(args.train_per_class, args.test_per_class) * args.n_classes ** args.sequence < args.batch_size:
        args.parser.error(f"--batch-size {args.batch_size} exceeds the training or validation samples "
                          "(--classes**--sequence x --train-per-class or x --test-per-class)")
    args.data_sets = None  # made in run_temporal: generating them is work


# --- the command ---------------------------------------------------------------------------
def run_temporal(args):
    from .tasks import randman, shd, temporal
    task = {"shd": shd, "randman": randman}[args.task]
    log = sys.stderr if args.json else sys.stdout
    c = args.config
    data = args.data_sets if args.data_sets is not None else randman.make_data(
        args.seed, **{k: c[k] for k in randman.DATA_KEYS})
    net = task.build(c, data)
    kind = ("recurrent" if c["recurrent"] else "feed-forward") + (" adaptive" if c.get("tau_adapt") else "")
    print(f"{args.task}: {len(data.train)} training, {len(data.val)} validation, {len(data.test)} test samples; "
          f"{data.n_inputs} inputs -> {c['hidden']} {kind} LIF -> {data.num_classes} readouts", file=log)
    compile_seconds, kernels = _prepare_kernels(
        args.device, lambda: temporal.warm_up_step(net, data, c["lr"], c["batch_size"]), log)
    summary, history, te = temporal.fit_and_score(net, data, c["lr"], c["epochs"], c["batch_size"],
                                                  c["early_stopping"], not (args.quiet or args.json),
                                                  warm_up=False)
    summary.update(compile_seconds=compile_seconds, kernels=kernels, device=args.device, seed=args.seed,
                   hidden=c["hidden"], task=args.task)
    print(f"\nepochs run: {summary['epochs']} (best validation loss at epoch {summary['best_epoch']}"
          f"{', stopped early' if summary['stopped_early'] else ''})", file=log)
    print(f"chance accuracy level: {summary['chance_accuracy']:.1f}%", file=log)
    print(f"train accuracy: {summary['train_accuracy']:.1f}%", file=log)
    print(f"test accuracy:  {summary['test_accuracy']:.1f}%", file=log)
    print(f"wall time: {summary['train_seconds']:.1f} s training ({summary['epoch_seconds_median'] * 1e3:.0f} "
          f"ms/epoch median), {compile_seconds:.1f} s compiling/loading kernels", file=log)
    write_outputs(args, net, summary, history, te["confusion"], log, extent=None, axis="class")
    return 0

