"""What the ``snnumba`` subcommands share: argument types, the checks that run before any
work starts, and the kernel preparation message."""
import argparse
import math
import os
import sys
import time


def check_output(parser, option, path):
    """A usage error now, not after hours of work, if ``path`` cannot be written."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        parser.error(f"{option} {path!r} is a folder; give a file name")
    if not os.path.isdir(folder):
        parser.error(f"{option} {path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        parser.error(f"{option} {path!r}: the folder {folder!r} is not writable")


def check_outputs_and_device(args):
    """The checks every training command runs first: ``--save`` and ``--plot`` can be
    written (and matplotlib is there for ``--plot``), and ``--device`` exists."""
    from .backend import get_backend
    check_output(args.parser, "--save", args.save)
    check_output(args.parser, "--plot", args.plot)
    if args.plot:
        require_pyplot()
    try:
        get_backend(args.device)
    except (ImportError, RuntimeError) as exc:  # no numba-cuda, or no GPU
        sys.exit(f"snnumba: {exc}")


def require_pyplot():
    """Exit with the install hint when ``--plot`` is given without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        sys.exit("snnumba: --plot needs matplotlib: pip install 'snnumba[plot]'")


# --- argument types: a bad number is a usage error that names the option --------------
def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None


def positive_int(text):
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def nonnegative_int(text):
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_float(text):
    value = _number(text, float)
    if not (0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"must be positive and finite, got {text}")
    return value


def kernel_cache_counts():
    """(hits, misses) of Numba's on-disk cache summed over the CPU kernels loaded so far
    (both versions of a ``ParallelWithSerialTwin``, and the kernels a module keeps in a
    dict: ``kernels/cpu/neuron.fixed_kernels``)."""
    from numba.core.dispatcher import Dispatcher
    from .kernels.cpu._compile import ParallelWithSerialTwin
    seen, hits, misses = set(), 0, 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("snnumba.kernels.cpu"):
            continue
        for obj in vars(module).values():
            if isinstance(obj, ParallelWithSerialTwin):
                versions = (obj.parallel, obj.serial)
            else:
                versions = tuple(obj.values()) if isinstance(obj, dict) else (obj,)
            for kernel in versions:
                if isinstance(kernel, Dispatcher) and id(kernel) not in seen:
                    seen.add(id(kernel))
                    hits += sum(kernel.stats.cache_hits.values())
                    misses += sum(kernel.stats.cache_misses.values())
    return hits, misses


def _prepare_kernels(device, warm_up, log):
    """Run ``warm_up`` (which calls every kernel the command needs) and say whether the
    kernels were compiled or loaded from Numba's cache. Returns (seconds, what happened)."""
    print("preparing kernels...", file=log, flush=True)
    hits0, misses0 = kernel_cache_counts()
    start = time.perf_counter()
    warm_up()
    seconds = time.perf_counter() - start
    hits, misses = (a - b for a, b in zip(kernel_cache_counts(), (hits0, misses0)))
    if device == "cuda":  # CUDA kernels are not cached on disk
        status, message = "compiled", f"compiled CUDA kernels in {seconds:.1f} s (they compile again on every run)"
    elif misses:
        status, message = "compiled", f"compiled kernels in {seconds:.1f} s (cached for later runs)"
    elif hits:
        status, message = "loaded", f"loaded cached kernels in {seconds:.1f} s"
    else:
        status, message = "in memory", f"kernels already loaded ({seconds:.1f} s)"
    print(message, file=log, flush=True)
    return seconds, status


def plot_history(path, history, confusion, extent=(-90, 90, -90, 90), axis="IPD (deg)"):
    """Loss curves and the column-normalised test confusion matrix (``extent`` of its axes,
    None for class indices; ``axis`` names them)."""
    import matplotlib.pyplot as plt
    import numpy as np
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    ax1.plot(history["loss"], label="train")
    ax1.plot(history["val_loss"], label="validation")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend()
    col = confusion.sum(axis=0, keepdims=True)
    ax2.imshow(confusion / np.maximum(col, 1), origin="lower", extent=extent)
    ax2.set_xlabel(f"true {axis}")
    ax2.set_ylabel(f"estimated {axis}")
    ax2.set_title("test confusion matrix")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_outputs(args, net, summary, history, confusion, log, **plot_options):
    """What every training command does last: ``--save`` the network, ``--plot`` the history
    and confusion matrix (``plot_options`` go to ``plot_history``), ``--json`` the summary."""
    import json
    if args.save:
        net.save(args.save)
        print(f"saved network to {args.save}", file=log)
    if args.plot:
        plot_history(args.plot, history, confusion, **plot_options)
        print(f"saved plot to {args.plot}", file=log)
    if args.json:
        print(json.dumps(summary))
