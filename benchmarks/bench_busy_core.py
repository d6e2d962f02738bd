"""The flagship epoch with and without another busy process on the machine.

A busy process (``while True: pass``) holds one core while snnumba trains. Compared in the
same process, epoch by epoch in turn:

* ``adaptive``: the default policy (``snnumba._threads.compute_threads``): Numba gets the
  cores that other processes leave idle, measured from ``/proc/stat``;
* ``fixed``: every core, whatever the load (the policy before), i.e. the adaptive monitor
  replaced by one that always reports idle cores;
* ``one thread``: ``numba.set_num_threads(1)`` throughout.

The same three are timed on a quiet machine first. Each row prints the median epoch time
and the other load during it (busy cores of other processes, from ``/proc/stat``), so a
contaminated run shows itself.

Run: ``python benchmarks/bench_busy_core.py [--epochs 5]``.
"""
import argparse
import contextlib
import os
import subprocess
import sys
import time

import numba
import numpy as np

import snnumba as snn
from snnumba import _threads
from snnumba.tasks import sound_localization as sl

BATCH, N_BATCHES = 64, 64


class AlwaysIdle:
    """A core monitor that reports no other load (the policy without adaptation)."""

    def update(self):
        return 0.0


@contextlib.contextmanager
def policy(name):
    before_monitor, before_threads = _threads._monitor, numba.get_num_threads()
    if name == "fixed":
        _threads._monitor = AlwaysIdle()
    elif name == "one thread":
        numba.set_num_threads(1)
    try:
        yield
    finally:
        _threads._monitor = before_monitor
        numba.set_num_threads(before_threads)


def other_load(seconds_busy_before, own_before, wall_before):
    """Cores kept busy by other processes since the given readings."""
    busy = _threads.read_busy_seconds()
    own = sum(os.times()[:2])
    return ((busy - seconds_busy_before) - (own - own_before)) / (time.monotonic() - wall_before)


def run(epochs, label):
    train = sl.SoundLocalizationData(BATCH * N_BATCHES, 1)
    val = sl.SoundLocalizationData(BATCH * N_BATCHES, 2)
    net = sl.build_network(rng=0)
    trainer = snn.Trainer(net, snn.Adam(net, lr=5e-3), progress=False)
    rng = np.random.default_rng(0)
    trainer.train_epoch(sl.SoundLocalizationData(BATCH, 3), BATCH, rng)  # compile / load
    names = ("adaptive", "fixed", "one thread")
    times = {name: [] for name in names}
    loads = {name: [] for name in names}
    for _ in range(epochs):
        for name in names:  # in turn, so drifting machine speed hits all three alike
            with policy(name):
                readings = (_threads.read_busy_seconds(), sum(os.times()[:2]), time.monotonic())
                start = time.perf_counter()
                trainer.train_epoch(train, BATCH, rng)
                trainer.evaluate(val, BATCH, rng)
                times[name].append(time.perf_counter() - start)
                loads[name].append(other_load(*readings))
    for name in names:
        print(f"{label:<22} {name:<11} epoch median {np.median(times[name]):6.3f} s "
              f"(min {min(times[name]):.3f}, max {max(times[name]):.3f}); "
              f"other load {np.median(loads[name]):.2f} cores")
    return {name: float(np.median(t)) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    if _threads.read_busy_seconds() is None:
        sys.exit("this benchmark reads /proc/stat (Linux only)")
    print(f"{os.cpu_count()} cores, numba {numba.__version__}")
    quiet = run(args.epochs, "quiet machine")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        loaded = run(args.epochs, "one busy process")
    finally:
        busy.kill()
    print(f"threading layer: {numba.threading_layer()}")
    print(f"slow-down from the busy process: adaptive {loaded['adaptive'] / quiet['adaptive']:.2f}x, "
          f"fixed {loaded['fixed'] / quiet['fixed']:.2f}x, one thread {loaded['one thread'] / quiet['one thread']:.2f}x")


if __name__ == "__main__":
    main()
