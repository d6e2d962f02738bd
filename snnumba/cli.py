"""The ``snnumba`` command: train (``sound-localization``) and evaluate (``evaluate``) the
sound-localization task; ``shd`` and ``randman`` (``temporal_cli``) and ``sweep``
(``sweep_cli``) are added from their modules.

Every argument is checked before any work starts (numbers as usage errors, output folders,
the network to load), so a run never loses its training to a late error.
"""
import argparse
import json
import sys
import time

import numpy as np

from ._cli_common import (_prepare_kernels, check_outputs_and_device, nonnegative_int,
                          positive_float, positive_int, write_outputs)
from ._cli_common import kernel_cache_counts  # noqa: F401  (public here before it moved)
from .backend import DEVICES
from .surrogate import SURROGATES
from .nir_cli import add_nir_parser
from .sweep_cli import add_sweep_parser
from .temporal_cli import add_temporal_parsers

#: architecture options of a fresh network, with their defaults (None: the layer's default)
ARCHITECTURE = {"hidden": 30, "tau": 5e-3, "surrogate": "sigmoid", "slope": None, "dales_law": False}


# --- parsers ------------------------------------------------------------------------------
def _data_options(p, what):
    """Options that fix the data (the same for training and evaluation)."""
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help=f"random seed (default 0); data sets are a function of it, so give {what}")
    p.add_argument("--batch-size", type=positive_int, default=64, help="batch size (default 64)")
    p.add_argument("--train-batches", type=positive_int, default=64, help="training batches per epoch (default 64)")
    p.add_argument("--test-batches", type=positive_int, default=32, help="test batches (default 32)")
    p.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default) or cuda")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line")


def _sound_localization_parser(sub):
    p = sub.add_parser(
        "sound-localization",
        help="train the seed's IPD sound-localization SNN (surrogate-gradient BPTT)",
        description="Train an LIF network to classify interaural phase differences into 12 "
                    "classes; defaults reproduce the seed tutorial's configuration.")
    p.add_argument("--epochs", type=positive_int, default=150,
                   help="maximum epochs (default 150; early stopping applies)")
    p.add_argument("--hidden", type=positive_int, help="hidden LIF neurons (default 30)")
    p.add_argument("--lr", type=positive_float, default=0.005, help="Adam learning rate (default 0.005)")
    p.add_argument("--tau", type=positive_float, help="membrane time constant in seconds (default 0.005)")
    p.add_argument("--surrogate", choices=SURROGATES, help="surrogate derivative (default sigmoid)")
    p.add_argument("--slope", type=positive_float, help="surrogate steepness (default per surrogate; sigmoid 5)")
    p.add_argument("--dales-law", action="store_true", default=None, help="sign-constrained weights (ie ratio 0.5)")
    p.add_argument("--no-early-stopping", action="store_true", help="always run --epochs epochs")
    p.add_argument("--load", metavar="NET.npz",
                   help="continue training a saved network (its architecture; fresh optimizer moments)")
    p.add_argument("--save", metavar="PATH", help="save the trained network (.npz)")
    p.add_argument("--plot", metavar="PNG", help="save loss curves and the confusion matrix (needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _data_options(p, "the same --seed and sizes to 'snnumba evaluate'")
    p.set_defaults(run=run_sound_localization, check=_check_training, parser=p)


def _evaluate_parser(sub):
    p = sub.add_parser(
        "evaluate", help="test a saved sound-localization network",
        description="Print the train and test accuracy and absolute IPD error of a network saved "
                    "by 'snnumba sound-localization --save'. With the same --seed, --batch-size, "
                    "--train-batches and --test-batches as the training run, the data and the "
                    "numbers are the ones that run printed.")
    p.add_argument("path", metavar="NET.npz", help="a network saved with --save or Network.save")
    _data_options(p, "the training run's --seed and sizes")
    p.set_defaults(run=run_evaluate, check=_check_evaluation, parser=p, plot=None, save=None)


def build_parser():
    parser = argparse.ArgumentParser(prog="snnumba", description="Spiking neural networks in NumPy at compiled speed.")
    sub = parser.add_subparsers(title="commands")
    _sound_localization_parser(sub)
    _evaluate_parser(sub)
    add_temporal_parsers(sub)
    add_sweep_parser(sub)
    add_nir_parser(sub)
    return parser


# --- checks before any work ---------------------------------------------------------------
def _load_network(args, option, path):
    """The saved network, checked against the task; a usage error naming ``option`` if not."""
    from .network import Network
    from .tasks import sound_localization as sl
    try:
        net = Network.load(path, device=args.device)
        sl.check_network(net)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        args.parser.error(f"{option} {path!r}: {exc}")
    return net


def _check_training(args):
    check_outputs_and_device(args)
    if args.load is None:
        for name, default in ARCHITECTURE.items():
            if getattr(args, name) is None:
                setattr(args, name, default)
        args.network = None
        return
    args.network = _load_network(args, "--load", args.load)
    hidden = args.network.layers[0].n_out
    if args.hidden is not None and args.hidden != hidden:
        args.parser.error(f"--hidden {args.hidden} does not match the {hidden} hidden neurons of {args.load!r}")
    given = [name for name in ARCHITECTURE if name != "hidden" and getattr(args, name) is not None]
    if given:
        args.parser.error(f"--{given[0].replace('_', '-')} cannot be combined with --load: the loaded "
                          f"network keeps its own")
    args.hidden = hidden


def _check_evaluation(args):
    check_outputs_and_device(args)
    args.network = _load_network(args, "NET.npz", args.path)


# --- shared by both commands --------------------------------------------------------------
def _data(args):
    from .tasks import sound_localization as sl
    return sl.make_data(args.seed, args.batch_size, args.train_batches, args.test_batches, args.device)


def _score(net, data, args, log):
    """Evaluate on the train and test sets, print the accuracy lines, and return the
    summary entries and the test result."""
    from .tasks import sound_localization as sl
    scores, te = sl.score(net, data, args.batch_size)
    print(f"chance accuracy level: {scores['chance_accuracy']:.1f}%", file=log)
    print(f"train accuracy: {scores['train_accuracy']:.1f}%   absolute error: {scores['train_error_deg']:.1f} deg", file=log)
    print(f"test accuracy:  {scores['test_accuracy']:.1f}%   absolute error: {scores['test_error_deg']:.1f} deg", file=log)
    return scores, te


# --- the commands ---------------------------------------------------------------------------
def run_sound_localization(args):
    from .optim import Adam
    from .tasks import sound_localization as sl
    from .training import Trainer

    log = sys.stderr if args.json else sys.stdout
    data = _data(args)
    if args.network is not None:
        net = args.network
        print(f"continuing training of {args.load} ({args.hidden} hidden neurons)", file=log)
    else:
        net = sl.build_network(hidden=args.hidden, tau=args.tau, dales_law=args.dales_law,
                               surrogate=args.surrogate, slope=args.slope, rng=data.weights_rng,
                               device=args.device)
    trainer = Trainer(net, Adam(net, lr=args.lr), progress=not (args.quiet or args.json))

    compile_seconds, kernels = _prepare_kernels(args.device, lambda: sl.warm_up(net, args.lr), log)

    start = time.perf_counter()
    history = trainer.fit(data.train, data.val, epochs=args.epochs, batch_size=args.batch_size,
                          rng=data.loop_rng, early_stopping=not args.no_early_stopping)
    train_seconds = time.perf_counter() - start
    print(f"\nepochs run: {len(history['loss'])} (best validation loss at epoch {history['best_epoch']}"
          f"{', stopped early' if history['stopped_early'] else ''})", file=log)
    scores, te = _score(net, data, args, log)
    summary = {
        **scores, "epochs": len(history["loss"]), "best_epoch": history["best_epoch"],
        "stopped_early": history["stopped_early"], "train_seconds": train_seconds,
        "epoch_seconds_median": float(np.median(history["epoch_seconds"])),
        "compile_seconds": compile_seconds, "kernels": kernels, "device": args.device, "seed": args.seed,
        "hidden": args.hidden, "dales_law": bool(net.layers[0].dales_law), "loaded_from": args.load,
    }
    print(f"wall time: {train_seconds:.1f} s training ({summary['epoch_seconds_median'] * 1e3:.0f} ms/epoch median), "
          f"{compile_seconds:.1f} s compiling/loading kernels", file=log)
    write_outputs(args, net, summary, history, te["confusion"], log)
    return 0


def run_evaluate(args):
    from .tasks import sound_localization as sl

    log = sys.stderr if args.json else sys.stdout
    net, data = args.network, _data(args)

    def warm_up():  # a forward pass of two samples compiles (or loads) the inference kernels
        x, _ = next(sl.SoundLocalizationData(2, 0, device=args.device).batches(2, 0, shuffle=False))
        net.forward(x)
    compile_seconds, kernels = _prepare_kernels(args.device, warm_up, log)
    print(f"network: {args.path} ({net.layers[0].n_out} hidden neurons)", file=log)
    start = time.perf_counter()
    scores, _ = _score(net, data, args, log)
    summary = {**scores, "eval_seconds": time.perf_counter() - start, "compile_seconds": compile_seconds,
               "kernels": kernels, "device": args.device, "seed": args.seed,
               "hidden": net.layers[0].n_out, "network": args.path}
    if args.json:
        print(json.dumps(summary))
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    args.check(args)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
