"""An 8-run sweep of the main job on 2 local Dask workers against the same runs in one process.

Runs ``sound-localization`` for seeds 0-7 with ``--epochs 5`` (configurable), first one
after another in this process, then through ``snnumba.sweep`` on a local cluster, and
prints both wall times, the speed-up, and each run's compile (kernel loading) time, which
every worker pays once. The per-run metrics of the two must be equal (checked).

Run: ``python benchmarks/bench_sweep.py [--runs 8] [--epochs 5] [--workers 2]``
(needs ``pip install 'snnumba[distributed]'``).
"""
import argparse
import os
import tempfile
import time

import numpy as np

from snnumba import _threads
from snnumba.distributed import sweep
from snnumba.tasks import sound_localization as sl


def other_load_since(readings):
    busy, own, wall = readings
    return ((_threads.read_busy_seconds() - busy) - (sum(os.times()[:2]) - own)) / (time.monotonic() - wall)


def readings():
    return _threads.read_busy_seconds(), sum(os.times()[:2]), time.monotonic()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = {"epochs": args.epochs, "early_stopping": False}
    seeds = list(range(args.runs))

    sl.run(config, 0)  # compile / load the kernels in this process first, as the sweep's workers do
    r = readings()
    start = time.perf_counter()
    serial = {s: sl.run(config, s) for s in seeds}
    serial_seconds = time.perf_counter() - start
    serial_load = other_load_since(r)

    with tempfile.TemporaryDirectory() as folder:
        r = readings()
        start = time.perf_counter()
        rows = sweep(None, "sound-localization", {k: [v] for k, v in config.items()}, seeds,
                     out=os.path.join(folder, "results.csv"), workers=args.workers, progress=False)
        sweep_seconds = time.perf_counter() - start
        # the workers' CPU time is not this process's: the load reading counts it as other load
        sweep_load = other_load_since(r) - args.workers

    for row in rows:
        want = serial[row["seed"]]
        assert np.isclose(row["metrics"]["test_accuracy"], want["test_accuracy"], rtol=0, atol=1e-12), row
    compile_s = [row["metrics"]["compile_seconds"] for row in rows]
    train_s = [row["metrics"]["train_seconds"] for row in rows]
    print(f"{args.runs} runs of sound-localization, {args.epochs} epochs each (same metrics both ways)")
    print(f"one process:      {serial_seconds:6.1f} s   (other load {serial_load:.2f} cores)")
    print(f"{args.workers} Dask workers:   {sweep_seconds:6.1f} s   (cluster start included; other load "
          f"about {max(0.0, sweep_load):.2f} cores)")
    print(f"speed-up: {serial_seconds / sweep_seconds:.2f}x on {os.cpu_count()} cores")
    print(f"per run on the workers: kernel loading {np.median(compile_s):.2f} s median "
          f"(max {max(compile_s):.2f} s: a worker's first run), training {np.median(train_s):.2f} s median")


if __name__ == "__main__":
    main()
