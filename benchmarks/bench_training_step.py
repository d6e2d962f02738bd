"""Where one training step of the performance issue's large network spends its time.

T=500, B=128, 1000 Poisson inputs at 2 % density (uint8) -> Dense -> 1000 LIF -> Dense ->
10 leaky readout, readout NLL, Adam, float32: the median milliseconds of each layer's
forward and backward pass over a few steps, after one warm-up step (compile or cache load).
``benchmarks/compare.py`` times the whole step against the torch peers.

Run: ``python benchmarks/bench_training_step.py [--steps 3]``.
"""
import argparse
import time
from collections import defaultdict

import numpy as np

import snnumba as snn
from snnumba._threads import compute_threads

T, B, N_IN, HIDDEN, CLASSES, DENSITY = 500, 128, 1000, 1000, 10, 0.02


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = (rng.random((T, B, N_IN)) < DENSITY).astype(np.uint8)
    labels = rng.integers(0, CLASSES, B)
    net = snn.Network([snn.Dense(N_IN, HIDDEN, rng=0, init_bound=0.15), snn.LIF(tau=5e-3),
                       snn.Dense(HIDDEN, CLASSES, rng=1), snn.LeakyReadout(tau=5e-3)])
    opt = snn.Adam(net, lr=1e-3)

    def step(times):
        net.reset()
        net.zero_grad()
        out = x
        with compute_threads():
            for i, layer in enumerate(net.layers):
                start = time.perf_counter()
                out = layer.forward(out)
                times[f"forward  {i} {type(layer).__name__}"].append(time.perf_counter() - start)
            loss, grad = snn.readout_nll(out, labels)
            for i in range(len(net.layers) - 1, -1, -1):
                start = time.perf_counter()
                grad = net.layers[i].backward(grad, need_input_grad=i > 0)
                times[f"backward {i} {type(net.layers[i]).__name__}"].append(time.perf_counter() - start)
            start = time.perf_counter()
            opt.step()
            times["Adam step"].append(time.perf_counter() - start)

    start = time.perf_counter()
    step(defaultdict(list))
    print(f"first step (compile or cache load): {time.perf_counter() - start:.2f} s")
    times = defaultdict(list)
    for _ in range(args.steps):
        step(times)
    total = 0.0
    for name, values in times.items():
        total += np.median(values)
        print(f"{name:22s} {np.median(values) * 1e3:8.1f} ms")
    print(f"sum of medians {total * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
