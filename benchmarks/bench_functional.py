"""spike_cluster on [T=1000, N=10000] and first_spike_index on [10000, 1000]: snnumba's
kernels against the seed's algorithm in NumPy (always) and the seed's PyTorch code (when
``torch`` is importable, e.g. in a separate venv with ``pip install torch==2.13.0``).

Run: python benchmarks/bench_functional.py [--repeats 3]
"""
import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from _timing import median_time  # noqa: E402  (beside this script)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    v = rng.normal(0.5, 0.4, (1000, 10000)).astype(np.float32)
    spikes = (rng.random((10000, 1000)) < 0.05).astype(np.float32)
    start = time.perf_counter()
    F.spike_cluster(v[:4, :4], 1.0, 3)
    F.first_spike_index(spikes[:4])
    print(f"first calls (compile or cache load): {time.perf_counter() - start:.2f} s")
    ours = median_time(lambda: F.spike_cluster(v, 1.0, 3), args.repeats)
    ref = median_time(lambda: naive_spike_cluster(v, np.float32(1.0), 3), 1)
    print(f"spike_cluster [1000, 10000]: snnumba {ours * 1e3:.1f} ms; seed's algorithm in NumPy "
          f"{ref * 1e3:.0f} ms ({ref / ours:.0f}x)")
    ours_f = median_time(lambda: F.first_spike_index(spikes), args.repeats)
    ref_f = median_time(lambda: spikes.cumsum(-1).cumsum(-1) == 1, args.repeats)
    print(f"first_spike_index [10000, 1000]: snnumba {ours_f * 1e3:.1f} ms; NumPy double cumsum "
          f"{ref_f * 1e3:.1f} ms ({ref_f / ours_f:.1f}x)")
    try:
        import torch
    except ImportError:
        print("seed's PyTorch code: skipped (torch is not installed)")
        return
    import numba
    torch.set_num_threads(numba.get_num_threads())
    tv, ts = torch.from_numpy(v), torch.from_numpy(spikes)
    ref_t = median_time(lambda: torch_spike_cluster(torch, tv, 1.0, 3), 1)
    ref_tf = median_time(lambda: ts.cumsum(dim=-1).cumsum(dim=-1) == 1, args.repeats)
    print(f"seed's PyTorch code, torch {torch.__version__}: spike_cluster {ref_t * 1e3:.0f} ms "
          f"({ref_t / ours:.0f}x slower than snnumba), first_spike_index {ref_tf * 1e3:.1f} ms "
          f"({ref_tf / ours_f:.1f}x)")


if __name__ == "__main__":
    main()
