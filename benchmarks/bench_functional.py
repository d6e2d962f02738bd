"""spike_cluster on [T=1000, N=10000] and first_spike_index on [10000, 1000] (float32 and
bool spikes): snnumba's kernels against the seed's algorithm in NumPy (always, same
process) and the seed's PyTorch code (when ``torch`` is importable, e.g. in a separate venv
with ``pip install torch==2.13.0``). Prints the first call (compile or cache load)
separately from the steady medians, and the cores other processes kept busy during each
timing (a shared machine's timings are only as good as that number).

Run: python benchmarks/bench_functional.py [--repeats 7] [--quick]
"""
import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from _timing import median_time_and_load  # noqa: E402  (beside this script)
from snnumba import functional as F  # noqa: E402
from tests.reference import naive_spike_cluster  # noqa: E402  (the seed's algorithm in NumPy)


def torch_spike_cluster(torch, v, v_threshold, T_in):
    """The seed's spike_cluster (SpikingFlow softbp.functional), unchanged in substance."""
    with torch.no_grad():
        spike = (v >= v_threshold).float()
        T = v.shape[0]
        N_o = torch.zeros_like(v[1])
        spikes_num = torch.ones_like(v[1]) * T * 2
        min_spikes_num = torch.ones_like(v[1]) * T * 2
        min_spikes_num_t = torch.ones_like(v[1]) * T * 2
        last_spike_t = -torch.ones_like(v[1]) * T_in * 2
        for t in range(T):
            delta_t = (t - last_spike_t) * spike[t]
            mask0 = delta_t > T_in
            mask1 = torch.logical_and(delta_t <= T_in, spike[t].bool())
            temp_mask = torch.logical_and(mask0, min_spikes_num > spikes_num)
            min_spikes_num_t[temp_mask] = last_spike_t[temp_mask]
            min_spikes_num[temp_mask] = spikes_num[temp_mask]
            spikes_num[mask0] = 1
            N_o[mask0] += 1
            spikes_num[mask1] += 1
            last_spike_t[spike[t].bool()] = t
        mask = spikes_num < min_spikes_num
        min_spikes_num[mask] = spikes_num[mask]
        min_spikes_num_t[mask] = last_spike_t[mask]
        v_ = v.clone()
        v_min = v_.min().item()
        v_[spike.bool()] = v_min
        last_spike_t = -torch.ones_like(v[1]) * T_in * 2
        for t in range(T):
            delta_t = t - last_spike_t
            mask = torch.logical_and(delta_t <= T_in, (1 - spike[t]).bool())
            v_[t][mask] = v_min
            last_spike_t[spike[t].bool()] = t
        next_spike_t = torch.ones_like(v[1]) * T_in * 2 + T
        for t in range(T - 1, -1, -1):
            delta_t = next_spike_t - t
            mask = torch.logical_and(delta_t <= T_in, (1 - spike[t]).bool())
            v_[t][mask] = v_min
            next_spike_t[spike[t].bool()] = t
        k_positive = v_.argmax(dim=0)
        k_negative = min_spikes_num_t.long()
        arrange = torch.arange(0, T, device=v.device).unsqueeze(1).repeat(1, v.shape[1])
        k_positive = arrange == k_positive
        k_negative = arrange == k_negative
        k_positive_mask = v_.max(dim=0)[0] != v_min
        k_positive_mask[v.max(dim=0)[0] == v_min] = True
        return N_o, torch.logical_and(k_positive, k_positive_mask), k_negative


def report(label, ours, reference=None, reference_label=""):
    """One line: our median and load, and the reference's with the ratio."""
    line = f"{label}: snnumba {ours[0] * 1e3:.2f} ms (other load {_cores(ours[1])})"
    if reference is not None:
        line += (f"; {reference_label} {reference[0] * 1e3:.1f} ms (other load {_cores(reference[1])}),"
                 f" {reference[0] / ours[0]:.1f}x")
    print(line, flush=True)


def _cores(load):
    return "unknown" if load is None else f"{load:.2f} cores"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 repeats: checks that it runs")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    T, N = (100, 2000) if args.quick else (1000, 10000)
    rng = np.random.default_rng(0)
    v = rng.normal(0.5, 0.4, (T, N)).astype(np.float32)
    spikes = (rng.random((N, T)) < 0.05).astype(np.float32)
    bool_spikes = spikes.astype(bool)
    start = time.perf_counter()
    F.spike_cluster(v[:8, :8], 1.0, 3)
    F.first_spike_index(spikes[:4])
    F.first_spike_index(bool_spikes[:4])
    print(f"first calls (compile or cache load): {time.perf_counter() - start:.2f} s")
    ours = median_time_and_load(lambda: F.spike_cluster(v, 1.0, 3), repeats)
    ref = median_time_and_load(lambda: naive_spike_cluster(v, np.float32(1.0), 3), 1)
    report(f"spike_cluster [{T}, {N}], T_in 3", ours, ref, "seed's algorithm in NumPy")
    double_cumsum = median_time_and_load(lambda: spikes.cumsum(-1).cumsum(-1) == 1, repeats)
    ours_f = median_time_and_load(lambda: F.first_spike_index(spikes), repeats)
    report(f"first_spike_index float32 [{N}, {T}]", ours_f, double_cumsum, "NumPy double cumsum")
    ours_b = median_time_and_load(lambda: F.first_spike_index(bool_spikes), repeats)
    report(f"first_spike_index bool [{N}, {T}]", ours_b, double_cumsum, "NumPy double cumsum (float32)")
    try:
        import torch
    except ImportError:
        print("seed's PyTorch code: skipped (torch is not installed)")
        return
    import numba
    torch.set_num_threads(numba.get_num_threads())
    tv, ts = torch.from_numpy(v), torch.from_numpy(spikes)
    ref_t = median_time_and_load(lambda: torch_spike_cluster(torch, tv, 1.0, 3), 1)
    ref_tf = median_time_and_load(lambda: ts.cumsum(dim=-1).cumsum(dim=-1) == 1, repeats)
    print(f"seed's PyTorch code, torch {torch.__version__}:")
    report("  spike_cluster", ours, ref_t, "torch")
    report("  first_spike_index float32", ours_f, ref_tf, "torch")


if __name__ == "__main__":
    main()
