"""LIF and leaky-readout kernels against the memory bandwidth: neuron-steps per second,
bytes moved per neuron-step and the share of this machine's copy bandwidth (issue #8).

Workload: N = 100 000 neurons, T = 1000 steps, batch 1, input current given, float32
(``--quick``: N = 20 000, T = 200). Bytes per neuron-step that must cross the memory bus
(the state of a 1024-neuron block stays in the L1 cache)::

    LIF forward, evaluation:  read h (4), write s (1)                               5
    LIF forward, training:    read h (4), write v (4), write s (1)                  9
    LIF backward:             read h (4), v (4), s (1), grad_s (4); write grad_h (4) 17
    readout forward:          read h (4), write v (4)                               8
    readout backward:         read grad_v (4), write grad_h (4)                     8

Copy bandwidth is (bytes read + bytes written) per second of a large ``np.copyto``
(NumPy: one thread) and of a parallel Numba copy on the kernels' threads; a kernel's
share is its bytes per second over each. Writes also cost a read of the line they
replace (write-allocate) on most CPUs, in the kernels as in the copy.

The reference, timed in the same process: the same LIF as a NumPy loop over time steps
(a few whole-array operations per step, as a PyTorch loop does it); ``LIF`` through
``Network.eval().forward`` adds the layer's input check (one more read of h).

Each row prints the median time, the first call (compile or cache load) separately, and
the cores other processes kept busy meanwhile (from ``/proc/stat``): a loaded machine
shows itself there. The goal of the issue: evaluation forward >= 2e9 neuron-steps/s.

Run: python benchmarks/bench_lif.py [--quick] [--repeats 7]. ``--quick`` only checks that
the script runs: its arrays fit in the L3 cache, so its shares of the copy bandwidth mean
little.
"""
import argparse
import os
import pathlib
import sys
import time

import numba
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import snnumba as snn  # noqa: E402
from snnumba import _threads  # noqa: E402
from snnumba.kernels import cpu  # noqa: E402

ALPHA = np.float32(np.exp(-1e-3 / 5e-3))


@numba.njit(parallel=True)
def parallel_copy(src, dst):
    for i in numba.prange(src.size):
        dst[i] = src[i]


def timed(fn, repeats):
    """(median seconds, cores other processes kept busy meanwhile) over ``repeats`` calls;
    the load is read over all the calls together (/proc/stat counts in 10 ms ticks)."""
    times = []
    busy, own, wall = _threads.read_busy_seconds(), sum(os.times()[:2]), time.monotonic()
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    load = float("nan")
    if busy is not None:
        other = (_threads.read_busy_seconds() - busy) - (sum(os.times()[:2]) - own)
        load = max(0.0, other / (time.monotonic() - wall))
    return float(np.median(times)), load


def first_call(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def numpy_lif(h, alpha, threshold):
    """Evaluation-mode LIF as a NumPy loop over steps (the reference)."""
    v = np.zeros(h.shape[1:], h.dtype)
    s = np.zeros(h.shape[1:], np.bool_)
    out = np.empty(h.shape, np.uint8)
    for t in range(h.shape[0]):
        out[t] = s
        fired = v > threshold
        v *= alpha
        v += h[t]
        v[s] = 0
        s = fired
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 20 000, T = 200 (a few seconds)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    T, B, N = (200, 1, 20_000) if args.quick else (1000, 1, 100_000)
    steps = T * B * N
    rng = np.random.default_rng(0)
    h = rng.normal(0.25, 0.5, (T, B, N)).astype(np.float32)
    th = np.ones((B, N), np.float32)
    v0, s0 = np.zeros((B, N), np.float32), np.zeros((B, N), np.uint8)
    v, s = np.empty((T, B, N), np.float32), np.empty((T, B, N), np.uint8)
    no_v = np.empty((0, B, N), np.float32)
    vf, sf = np.empty((B, N), np.float32), np.empty((B, N), np.uint8)
    grad_s, grad_h = rng.normal(size=(T, B, N)).astype(np.float32), np.empty((T, B, N), np.float32)
    # the neuron family's default model (the seed's LIF); absent options are zero-length
    alpha, none, no_w = np.full(N, ALPHA, np.float32), np.empty(0, np.float32), np.empty((0, 0), np.float32)
    rest, rest8 = np.zeros((B, N), np.float32), np.zeros((B, N), np.uint8)
    spare, spare8 = np.empty((B, N), np.float32), np.empty((B, N), np.uint8)

    def lif_forward(v_out):
        cpu.neuron_forward(h, no_w, alpha, none, none, none, th, 0, 0, v0, s0, rest, rest, rest8,
                           v_out, s, no_v, no_v, no_v, vf, sf, spare, spare, spare8)

    kernels = {
        "LIF forward, evaluation": (5, lambda: lif_forward(no_v)),
        "LIF forward, training": (9, lambda: lif_forward(v)),
        "LIF backward (sigmoid)": (17, lambda: cpu.neuron_backward(h, no_w, v, s, no_v, no_v, alpha, none, none, none,
                                                                   th, 0, 0, v0, s0, 0, 5.0, grad_s, no_v, grad_h,
                                                                   no_w, no_w, no_w)),
        "readout forward": (8, lambda: cpu.readout_forward(h, ALPHA, v0, v, vf)),
        "readout backward": (8, lambda: cpu.readout_backward(ALPHA, grad_s, grad_h)),
    }
    _threads._monitor.update()           # a first reading, so the policy below sees the load
    time.sleep(_threads.PROBE_INTERVAL)
    with _threads.compute_threads():  # the threading policy Network.forward/backward use
        threads = numba.get_num_threads()
        print(f"{os.cpu_count()} cores, {threads} Numba threads (idle cores), T={T} B={B} N={N}, "
              f"float32, numba {numba.__version__}")
        compile_s = {name: first_call(fn) for name, (_, fn) in kernels.items()}
        compile_s["parallel copy"] = first_call(lambda: parallel_copy(h.ravel(), v.ravel()))
        copy_1, load = timed(lambda: np.copyto(v, h), args.repeats)
        copy_bw = 2 * h.nbytes / copy_1
        copy_n, load_n = timed(lambda: parallel_copy(h.ravel(), v.ravel()), args.repeats)
        copy_bw_n = 2 * h.nbytes / copy_n
        print(f"copy bandwidth (read + write): np.copyto {copy_bw / 1e9:.1f} GB/s (other load {load:.2f} cores), "
              f"parallel copy {copy_bw_n / 1e9:.1f} GB/s (other load {load_n:.2f} cores)")
        print(f"{'kernel':<26}{'first call':>11}{'median':>10}{'neuron-steps/s':>16}{'B/step':>8}"
              f"{'GB/s':>7}{'% copyto':>10}{'% par. copy':>12}{'other load':>12}")
        results = {}
        for name, (nbytes, fn) in kernels.items():
            seconds, load = timed(fn, args.repeats)
            rate = steps / seconds
            results[name] = rate
            print(f"{name:<26}{compile_s[name]:>10.2f}s{seconds * 1e3:>8.1f}ms{rate:>16.3g}{nbytes:>8}"
                  f"{rate * nbytes / 1e9:>7.1f}{100 * rate * nbytes / copy_bw:>9.0f}%"
                  f"{100 * rate * nbytes / copy_bw_n:>11.0f}%{load:>10.2f} c")

    reference, load = timed(lambda: numpy_lif(h, ALPHA, th), max(1, args.repeats // 2))
    net = snn.Network([snn.LIF()]).eval()
    net.forward(h)
    layer, load_layer = timed(lambda: net.forward(h), args.repeats)
    best = results["LIF forward, evaluation"]
    print(f"NumPy loop over steps (reference): {steps / reference:.3g} neuron-steps/s (other load {load:.2f} "
          f"cores); evaluation kernel / NumPy = {best * reference / steps:.1f}x")
    print(f"Network([LIF()]).eval().forward (with the input check): {steps / layer:.3g} neuron-steps/s "
          f"(other load {load_layer:.2f} cores)")
    print(f"goal >= 2e9 neuron-steps/s for the evaluation forward: {best / 2e9:.2f} of it; the reference "
          f"gives the same spikes: {np.array_equal(net.forward(h), numpy_lif(h, ALPHA, th))}")


if __name__ == "__main__":
    main()
