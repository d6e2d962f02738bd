"""MaxRateClassifier.forward with labels on spikes [T=100, B=256, N=10000], K=10 (bool, as
spiking layers record them, and float32), and the delayed Dense forward, against plain
NumPy and (when ``torch`` is importable) inferno's PyTorch code for the classifier
(transcribed from the seed), in the same process. Prints the first call (compile or cache
load) separately from the steady medians, and the cores other processes kept busy during
each timing.

Run: python benchmarks/bench_rate_classifier.py [--repeats 5] [--quick]
"""
import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from _timing import median_time, median_time_and_load  # noqa: E402  (beside this script)
import snnumba as snn  # noqa: E402
from snnumba.classifiers import MaxRateClassifier  # noqa: E402
from tests.reference import NaiveMaxRate  # noqa: E402  (the seed's classifier in NumPy)


def torch_forward(torch, rates, inputs, labels, K, decay=0.0):
    """inferno's MaxRateClassifier.forward (logits=False, proportional=True) and update."""
    F = torch.nn.functional
    proportions = F.normalize(rates, p=1, dim=-1)
    assignments = torch.argmax(proportions, dim=-1)
    occurrences = torch.bincount(assignments.view(-1), None, K)
    inputs = inputs.mean(dim=0)
    assocs = F.one_hot(assignments.view(-1), K) * proportions.reshape(-1, K)
    pred = torch.argmax(torch.mm(inputs.reshape(inputs.shape[0], -1), assocs).div(occurrences)
                        .nan_to_num(nan=0, posinf=0), dim=1)
    counts = torch.bincount(labels, None, K).to(rates.dtype)
    batch = (torch.scatter_add(torch.zeros_like(rates), -1, labels.expand(*rates.shape[:-1], -1),
                               inputs.reshape(inputs.shape[0], -1).t()) / counts).nan_to_num(nan=0, posinf=0)
    return pred, torch.exp(-decay * counts) * rates + batch


def _cores(load):
    return "unknown" if load is None else f"{load:.2f} cores"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 repeats: checks that it runs")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    rng = np.random.default_rng(0)
    T, B, N, K = (20, 32, 2000, 10) if args.quick else (100, 256, 10000, 10)
    spikes = np.empty((T, B, N), bool)
    for t in range(T):  # step by step: no [T, B, N] float temporary
        spikes[t] = rng.random((B, N), dtype=np.float32) < 0.05
    labels = rng.integers(0, K, B)
    start = time.perf_counter()
    MaxRateClassifier(4, 2).forward(spikes[:2, :2, :4], labels[:2] % 2)
    MaxRateClassifier(4, 2).forward(spikes[:2, :2, :4].astype(np.float32), labels[:2] % 2)
    print(f"first calls (compile or cache load): {time.perf_counter() - start:.2f} s")
    clf = MaxRateClassifier(N, K)
    ours = median_time_and_load(lambda: clf.forward(spikes, labels), repeats)
    floats = spikes.astype(np.float32)
    ours_f = median_time_and_load(lambda: clf.forward(floats, labels), repeats)
    ref = NaiveMaxRate((N,), K, 0.0)
    numpy_time = median_time_and_load(lambda: ref.forward(spikes, labels), 1)
    print(f"MaxRateClassifier.forward [T={T}, B={B}, N={N}], K={K}:")
    print(f"  snnumba bool {ours[0] * 1e3:.1f} ms (other load {_cores(ours[1])}), float32 "
          f"{ours_f[0] * 1e3:.1f} ms (other load {_cores(ours_f[1])}); NumPy (bool, as a float32 copy) "
          f"{numpy_time[0] * 1e3:.0f} ms ({numpy_time[0] / ours[0]:.1f}x the bool call)")
    try:
        import torch
        import numba
        torch.set_num_threads(numba.get_num_threads())
        rates, tl = torch.zeros(N, K), torch.from_numpy(labels)
        for label, x, mine in (("bool", spikes, ours), ("float32", floats, ours_f)):
            # inferno's inputs.mean() needs floats: the bool batch is converted inside the timing
            tx = torch.from_numpy(x)
            run = (lambda: torch_forward(torch, rates, tx.float(), tl, K)) if label == "bool" else (
                lambda: torch_forward(torch, rates, tx, tl, K))
            t = median_time_and_load(run, repeats)
            print(f"  inferno's PyTorch code on {label}, torch {torch.__version__}: {t[0] * 1e3:.0f} ms "
                  f"(other load {_cores(t[1])}), {t[0] / ours[0]:.1f}x the snnumba bool call")
    except ImportError:
        print("  inferno's PyTorch code: skipped (torch is not installed)")
    del floats

    T, B, I, J = (20, 16, 50, 10) if args.quick else (100, 64, 200, 30)
    x = (rng.random((T, B, I)) < 0.2).astype(np.float32)
    delay = rng.uniform(0, 5e-3, (I, J))
    layer = snn.Dense(I, J, rng=0, delay=delay)
    layer.forward(x[:, :2])
    ours = median_time(lambda: layer.forward(x), repeats)
    steps = np.rint(delay / 1e-3).astype(int)
    w = layer.params["weight"]

    def numpy_delayed():   # shift each input by each of its delays, then one product per delay value
        h = np.zeros((T, B, J), np.float32)
        for s in np.unique(steps):
            shifted = np.zeros_like(x)
            shifted[s:] = x[:T - s]
            h += shifted @ np.where(steps == s, w, 0)
        return h
    ref_time = median_time(numpy_delayed, repeats)
    np.testing.assert_allclose(layer.forward(x), numpy_delayed(), rtol=1e-4, atol=1e-4)
    print(f"delayed Dense forward [T={T}, B={B}, {I}->{J}], delays 0-5 steps: snnumba {ours * 1e3:.1f} ms; "
          f"NumPy (one product per delay value) {ref_time * 1e3:.1f} ms ({ref_time / ours:.1f}x); "
          "plain BLAS without delays "
          f"{median_time(lambda: x.reshape(-1, I) @ w, repeats) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
