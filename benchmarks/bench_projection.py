"""Dense on uint8 spikes: the event-driven path against the dense path, by density.

For each shape and spike density the script times ``Dense.forward`` (index building plus
row sums, against the dense product: on the CPU the uint8 kernels for at most
``kernels.cpu.dense.NARROW_MAX_OUTPUTS`` outputs, else one float copy plus BLAS) and
``Dense.backward`` without the input gradient (the weight gradient: row additions against
``x.T @ g``), each path forced through ``snnumba.layers.EVENT_DENSITY_THRESHOLD`` (and
``EVENT_MIN_MACS``) and run inside ``snnumba._threads.compute_threads`` as
``Network.forward`` does (one BLAS thread, Numba threads on the idle cores). It prints
medians, the ratio dense / event, the other load on the machine during each timing (busy
cores of other processes, from ``/proc/stat``), and the crossover: the lowest density at
which the dense path is as fast as the event path (forward + weight gradient).
``EVENT_DENSITY_THRESHOLD`` should be set about the crossover of the shapes that matter,
measured on a quiet machine.

Shapes: the issue's big step ``T*B = 64000, 1000 -> 1000`` and its readout projection
``1000 -> 10``, the flagship's first projection ``T*B = 6400, 200 -> 30`` and the recurrent
step's readout projection ``T*B = 25600, 256 -> 20``. ``--quick`` runs a tenth of the rows, three
densities and one repeat (a check that the script runs, not a measurement).

Run: ``python benchmarks/bench_projection.py [--repeats 5] [--quick]``.
"""
import argparse
import contextlib
import os
import pathlib
import sys
import time

import numba
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _timing import median_time  # noqa: E402  (beside this script)
import snnumba as snn  # noqa: E402
from snnumba import _threads, layers  # noqa: E402

SHAPES = ((64000, 1000, 1000), (6400, 200, 30), (64000, 1000, 10), (25600, 256, 20))
DENSITIES = (0.005, 0.01, 0.02, 0.05, 0.08, 0.1, 0.2, 0.3, 0.5)
ALWAYS = {"event": 2.0, "dense": 0.0}  # thresholds that force each path


@contextlib.contextmanager
def path(name):
    before = layers.EVENT_DENSITY_THRESHOLD, layers.EVENT_MIN_MACS
    layers.EVENT_DENSITY_THRESHOLD, layers.EVENT_MIN_MACS = ALWAYS[name], 0  # any size
    try:
        yield
    finally:
        layers.EVENT_DENSITY_THRESHOLD, layers.EVENT_MIN_MACS = before


class OtherLoad:
    """Cores that other processes kept busy between entering and leaving the block; nan
    where ``/proc/stat`` cannot be read or the block took under 0.2 s (20 ticks: noise)."""

    def __enter__(self):
        self._start = (_threads.read_busy_seconds(), sum(os.times()[:2]), time.monotonic())
        return self

    def __exit__(self, *exc):
        busy, own, wall = self._start
        self.cores = float("nan")
        if busy is not None and time.monotonic() - wall >= 0.2:
            other = (_threads.read_busy_seconds() - busy) - (sum(os.times()[:2]) - own)
            self.cores = max(0.0, other / (time.monotonic() - wall))


def measure(layer, x, g, name, repeats):
    """Medians of forward and weight-gradient seconds (after one untimed run), and the
    other load during the timed runs, for one path."""
    def forward():
        with _threads.compute_threads():
            layer.forward(x)

    def backward():
        with _threads.compute_threads():
            layer.backward(g, need_input_grad=False)
    with path(name):
        forward()
        backward()
        with OtherLoad() as load:
            times = [(median_time(forward, 1), median_time(backward, 1)) for _ in range(repeats)]
    fwd, bwd = np.median(times, axis=0)
    return {"forward": float(fwd), "backward": float(bwd), "load": load.cores}


def compile_times(layer, x, g):
    """First-call seconds of each path on a tiny input (loading the cache, or compiling)."""
    out = {}
    for name in ALWAYS:
        with path(name):
            start = time.perf_counter()
            layer.forward(x[:1, :2])
            layer.backward(g[:1, :2], need_input_grad=False)
            out[name] = time.perf_counter() - start
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 densities, 1 repeat")
    args = parser.parse_args()
    shapes, densities, repeats = SHAPES, DENSITIES, args.repeats
    if args.quick:
        shapes = tuple((rows // 10, n_in, n_out) for rows, n_in, n_out in SHAPES)
        densities, repeats = (0.01, 0.1, 0.5), 1
    print(f"{os.cpu_count()} cores, numba {numba.__version__} ({numba.get_num_threads()} threads), float32; "
          f"current EVENT_DENSITY_THRESHOLD = {layers.EVENT_DENSITY_THRESHOLD}")
    rng = np.random.default_rng(0)
    for rows, n_in, n_out in shapes:
        layer = snn.Dense(n_in, n_out, rng=0)
        g = rng.normal(size=(rows, 1, n_out)).astype(np.float32)
        first = compile_times(layer, np.zeros((rows, 1, n_in), np.uint8), g)
        print(f"\nT*B = {rows}, {n_in} -> {n_out}: first call (compile or cache load) "
              f"event {first['event']:.2f} s, dense {first['dense']:.2f} s")
        print(f"{'density':>8} | {'event fwd':>9} {'dense fwd':>9} {'ratio':>6} | {'event wgrad':>11} "
              f"{'dense wgrad':>11} {'ratio':>6} | {'total ratio':>11} | other load (cores)")
        crossover = None
        for density in densities:
            x = (rng.random((rows, 1, n_in), dtype=np.float32) < density).astype(np.uint8)
            event = measure(layer, x, g, "event", repeats)
            dense = measure(layer, x, g, "dense", repeats)
            total = (dense["forward"] + dense["backward"]) / (event["forward"] + event["backward"])
            if crossover is None and total <= 1.0:
                crossover = density
            print(f"{density:8.1%} | {event['forward'] * 1e3:7.1f}ms {dense['forward'] * 1e3:7.1f}ms "
                  f"{dense['forward'] / event['forward']:6.2f} | {event['backward'] * 1e3:9.1f}ms "
                  f"{dense['backward'] * 1e3:9.1f}ms {dense['backward'] / event['backward']:6.2f} | "
                  f"{total:11.2f} | event {event['load']:.2f}, dense {dense['load']:.2f}")
        print("crossover (dense as fast as events): " +
              (f"{crossover:.1%}" if crossover is not None else f"above {densities[-1]:.0%}"))


if __name__ == "__main__":
    main()
