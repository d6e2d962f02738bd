"""MaxRateClassifier.forward with labels on spikes [T=100, B=256, N=10000], K=10, and the
delayed Dense forward, against plain NumPy and (when ``torch`` is importable) inferno's
PyTorch code for the classifier (transcribed from the seed).

Run: python benchmarks/bench_rate_classifier.py [--repeats 3]
"""
import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from _timing import median_time  # noqa: E402  (beside this script)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    T, B, N, K = 100, 256, 10000, 10
    spikes = (rng.random((T, B, N), dtype=np.float32) < 0.05).astype(np.float32)
    labels = rng.integers(0, K, B)
    clf, ref = MaxRateClassifier(N, K), NaiveMaxRate((N,), K, 0.0)
    start = time.perf_counter()
    MaxRateClassifier(4, 2).forward(spikes[:2, :2, :4], labels[:2] % 2)
    print(f"first call (compile or cache load): {time.perf_counter() - start:.2f} s")
    ours = median_time(lambda: clf.forward(spikes, labels), args.repeats)
    numpy_time = median_time(lambda: ref.forward(spikes, labels), args.repeats)
    print(f"MaxRateClassifier.forward [T={T}, B={B}, N={N}], K={K}: snnumba {ours * 1e3:.0f} ms; "
          f"NumPy {numpy_time * 1e3:.0f} ms ({numpy_time / ours:.1f}x)")
    try:
        import torch
        import numba
        torch.set_num_threads(numba.get_num_threads())
        rates, ts, tl = torch.zeros(N, K), torch.from_numpy(spikes), torch.from_numpy(labels)
        t = median_time(lambda: torch_forward(torch, rates, ts, tl, K), args.repeats)
        print(f"  inferno's PyTorch code, torch {torch.__version__}: {t * 1e3:.0f} ms ({t / ours:.1f}x)")
    except ImportError:
        print("  inferno's PyTorch code: skipped (torch is not installed)")

    T, B, I, J = 100, 64, 200, 30
    x = (rng.random((T, B, I)) < 0.2).astype(np.float32)
    delay = rng.uniform(0, 5e-3, (I, J))
    layer = snn.Dense(I, J, rng=0, delay=delay)
    layer.forward(x[:, :2])
    ours = median_time(lambda: layer.forward(x), args.repeats)
    steps = np.rint(delay / 1e-3).astype(int)
    w = layer.params["weight"]

    def numpy_delayed():   # shift each input by each of its delays, then one product per delay value
        h = np.zeros((T, B, J), np.float32)
        for s in np.unique(steps):
            shifted = np.zeros_like(x)
            shifted[s:] = x[:T - s]
            h += shifted @ np.where(steps == s, w, 0)
        return h
    ref_time = median_time(numpy_delayed, args.repeats)
    np.testing.assert_allclose(layer.forward(x), numpy_delayed(), rtol=1e-4, atol=1e-4)
    print(f"delayed Dense forward [T={T}, B={B}, {I}->{J}], delays 0-5 steps: snnumba {ours * 1e3:.1f} ms; "
          f"NumPy (one product per delay value) {ref_time * 1e3:.1f} ms ({ref_time / ours:.1f}x); "
          "plain BLAS without delays "
          f"{median_time(lambda: x.reshape(-1, I) @ w, args.repeats) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
