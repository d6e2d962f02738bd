"""The ``snnumba`` command."""
import argparse
import json
import sys
import time

import numpy as np

from .backend import DEVICES, get_backend
from .sweep_cli import add_sweep_parser


def _sound_localization_parser(sub):
    p = sub.add_parser(
        "sound-localization",
        help="train the seed's IPD sound-localization SNN (surrogate-gradient BPTT)",
        description="Train an LIF network to classify interaural phase differences into 12 "
                    "classes; defaults reproduce the seed tutorial's configuration.")
    p.add_argument("--epochs", type=int, default=150, help="maximum epochs (default 150; early stopping applies)")
    p.add_argument("--hidden", type=int, default=30, help="hidden LIF neurons (default 30)")
    p.add_argument("--lr", type=float, default=0.005, help="Adam learning rate (default 0.005)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--train-batches", type=int, default=64, help="training batches per epoch (default 64)")
    p.add_argument("--test-batches", type=int, default=32, help="test batches (default 32)")
    p.add_argument("--tau", type=float, default=5e-3, help="membrane time constant in seconds (default 0.005)")
    p.add_argument("--surrogate", default="sigmoid",
                   choices=("sigmoid", "fast_sigmoid", "arctan", "triangle"), help="surrogate derivative")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--dales-law", action="store_true", help="sign-constrained weights (ie ratio 0.5)")
    p.add_argument("--no-early-stopping", action="store_true", help="always run --epochs epochs")
    p.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default) or cuda")
    p.add_argument("--save", metavar="PATH", help="save the trained network (.npz)")
    p.add_argument("--plot", metavar="PNG", help="save loss curves and the confusion matrix (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_sound_localization)


def run_sound_localization(args):
    from .optim import Adam
    from .tasks import sound_localization as sl
    from .training import Trainer

    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot  # noqa: F401
        except ImportError:
            sys.exit("snnumba: --plot needs matplotlib: pip install 'snnumba[plot]'")
    try:
        get_backend(args.device)
    except (ImportError, RuntimeError) as exc:  # no numba-cuda, or no GPU
        sys.exit(f"snnumba: {exc}")
    log = sys.stderr if args.json else sys.stdout
    root = np.random.SeedSequence(args.seed)
    weights_rng, train_rng, val_rng, test_rng, loop_rng, eval_rng = (np.random.default_rng(s) for s in root.spawn(6))
    n_train = args.batch_size * args.train_batches
    train = sl.SoundLocalizationData(n_train, train_rng, device=args.device)
    val = sl.SoundLocalizationData(n_train, val_rng, device=args.device)
    test = sl.SoundLocalizationData(args.batch_size * args.test_batches, test_rng, device=args.device)
    net = sl.build_network(hidden=args.hidden, tau=args.tau, dales_law=args.dales_law,
                           surrogate=args.surrogate, rng=weights_rng, device=args.device)
    trainer = Trainer(net, Adam(net, lr=args.lr), progress=not (args.quiet or args.json))

    print("compiling kernels (first run only; later runs load them from the cache)...", file=log, flush=True)
    start = time.perf_counter()
    # one step of a throwaway copy compiles (or loads) every kernel the training uses
    scratch = sl.build_network(hidden=args.hidden, tau=args.tau, dales_law=args.dales_law,
                               surrogate=args.surrogate, rng=0, device=args.device)
    Trainer(scratch, Adam(scratch, lr=args.lr), progress=False).train_epoch(
        sl.SoundLocalizationData(2, 0, device=args.device), 2, np.random.default_rng(0))
    compile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    history = trainer.fit(train, val, epochs=args.epochs, batch_size=args.batch_size, rng=loop_rng,
                          early_stopping=not args.no_early_stopping)
    train_seconds = time.perf_counter() - start
    tr = sl.evaluate(net, train, eval_rng, args.batch_size)
    te = sl.evaluate(net, test, eval_rng, args.batch_size)
    summary = {
        "test_accuracy": 100 * te["accuracy"], "test_error_deg": te["error_deg"],
        "train_accuracy": 100 * tr["accuracy"], "train_error_deg": tr["error_deg"],
        "chance_accuracy": 100 / train.config.num_classes,
        "epochs": len(history["loss"]), "best_epoch": history["best_epoch"],
        "stopped_early": history["stopped_early"], "train_seconds": train_seconds,
        "epoch_seconds_median": float(np.median(history["epoch_seconds"])),
        "compile_seconds": compile_seconds, "device": args.device, "seed": args.seed,
        "hidden": args.hidden, "dales_law": args.dales_law,
    }
    print(f"\nepochs run: {summary['epochs']} (best validation loss at epoch {history['best_epoch']}"
          f"{', stopped early' if history['stopped_early'] else ''})", file=log)
    print(f"chance accuracy level: {summary['chance_accuracy']:.1f}%", file=log)
    print(f"train accuracy: {summary['train_accuracy']:.1f}%   absolute error: {tr['error_deg']:.1f} deg", file=log)
    print(f"test accuracy:  {summary['test_accuracy']:.1f}%   absolute error: {te['error_deg']:.1f} deg", file=log)
    print(f"wall time: {train_seconds:.1f} s training ({summary['epoch_seconds_median'] * 1e3:.0f} ms/epoch median), "
          f"{compile_seconds:.1f} s compiling/loading kernels", file=log)
    if args.save:
        net.save(args.save)
        print(f"saved network to {args.save}", file=log)
    if args.plot:
        _plot(args.plot, history, te["confusion"])
        print(f"saved plot to {args.plot}", file=log)
    if args.json:
        print(json.dumps(summary))
    return 0


def _plot(path, history, confusion):
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    ax1.plot(history["loss"], label="train")
    ax1.plot(history["val_loss"], label="validation")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend()
    col = confusion.sum(axis=0, keepdims=True)
    ax2.imshow(confusion / np.maximum(col, 1), origin="lower", extent=(-90, 90, -90, 90))
    ax2.set_xlabel("true IPD (deg)")
    ax2.set_ylabel("estimated IPD (deg)")
    ax2.set_title("test confusion matrix")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def build_parser():
    parser = argparse.ArgumentParser(prog="snnumba", description="Spiking neural networks in NumPy at compiled speed.")
    sub = parser.add_subparsers(title="commands")
    _sound_localization_parser(sub)
    add_sweep_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    for name in ("epochs", "hidden", "batch_size", "train_batches", "test_batches"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    for name in ("lr", "tau"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name} must be positive")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
