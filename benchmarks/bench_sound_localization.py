"""Per-epoch cost of the sound-localization training, against references in the same process.

An epoch is what the seed does per epoch: 64 training batches of 64 (stimulus, forward,
backward, Adam) and 64 validation batches (stimulus, forward, loss). Printed:

* snnumba: compile (first call, cold cache in a fresh process) and cached-load time,
  steady epoch time (median), and where an epoch's time goes;
* plain NumPy: the same step written with NumPy time loops (timed on a few batches and
  scaled to an epoch);
* the seed's PyTorch code (transcribed from the tutorial) when ``torch`` is importable.

Run: ``python benchmarks/bench_sound_localization.py [--epochs 3] [--batches 8]``.
Numbers are medians; the machine is shared, so compare ratios taken in one run.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

import snnumba as snn
from _timing import median_time  # beside this script
from snnumba.tasks import sound_localization as sl

BATCH, N_BATCHES, T, ANF, HIDDEN, CLASSES = 64, 64, 100, 100, 30, 12


def compile_seconds():
    """First-call time of a training step in fresh processes: cold cache, then warm cache."""
    code = ("import time, numpy as np, snnumba as snn; from snnumba.tasks import sound_localization as sl;"
            "t = time.perf_counter(); net = sl.build_network(rng=0); d = sl.SoundLocalizationData(2, 0);"
            "snn.Trainer(net, snn.Adam(net), progress=False).train_epoch(d, 2, 0);"
            "print(time.perf_counter() - t)")
    out = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for _ in range(2):
            out.append(float(subprocess.check_output([sys.executable, "-c", code], env=env).decode().split()[-1]))
    return out


def snnumba_epoch(epochs):
    train = sl.SoundLocalizationData(BATCH * N_BATCHES, 1)
    val = sl.SoundLocalizationData(BATCH * N_BATCHES, 2)
    net = sl.build_network(rng=0)
    trainer = snn.Trainer(net, snn.Adam(net, lr=5e-3), progress=False)
    rng = np.random.default_rng(0)
    trainer.train_epoch(sl.SoundLocalizationData(BATCH, 3), BATCH, rng)  # warm-up
    return median_time(lambda: (trainer.train_epoch(train, BATCH, rng), trainer.evaluate(val, BATCH, rng)), epochs)


def snnumba_breakdown(repeats=20):
    """Milliseconds per batch of each stage of a training step."""
    data = sl.SoundLocalizationData(BATCH * N_BATCHES, 1)
    net = sl.build_network(rng=0)
    opt = snn.Adam(net, lr=5e-3)
    d0, lif, d1, ro = net.layers
    idx = np.arange(BATCH)
    x = data.spikes(idx, 0.3)
    y = data.labels[idx]
    from snnumba._threads import single_threaded_blas
    with single_threaded_blas():
        h = d0.forward(x)
        s = lif.forward(h)
        h2 = d1.forward(s)
        v = ro.forward(h2)
        loss, g = snn.readout_nll(v, y)
        g2 = ro.backward(g)
        g1 = d1.backward(g2)
        gh = lif.backward(g1)
        stages = {
            "stimulus (spike generation)": lambda: data.spikes(idx, 0.3),
            "input projection forward (BLAS)": lambda: d0.forward(x),
            "input projection weight grad (BLAS)": lambda: d0.backward(gh, need_input_grad=False),
            "LIF time loop forward": lambda: lif.forward(h),
            "LIF BPTT": lambda: lif.backward(g1),
            "hidden->readout Dense fwd+bwd": lambda: (d1.forward(s), d1.backward(g2)),
            "readout forward+backward": lambda: (ro.forward(h2), ro.backward(g)),
            "loss and its gradient": lambda: snn.readout_nll(v, y),
            "Adam": opt.step,
        }
        for fn in stages.values():
            fn()
        return {name: 1e3 * median_time(fn, repeats) for name, fn in stages.items()}


# --- plain NumPy reference: the same step, time loops in Python ---------------------
def numpy_step(x, labels, w1, w2, alpha, update=True):
    """Seed model forward + BPTT (sigmoid surrogate, beta 5) in NumPy; returns grads."""
    T_, B, _ = x.shape
    h = x @ w1
    v = np.zeros((B, HIDDEN), np.float32)
    s = np.zeros((B, HIDDEN), np.float32)
    vs, ss = [], []
    for t in range(T_):
        vs.append(v), ss.append(s)
        a = alpha * v + h[t]
        v, s = a * (1 - s), (v > 1).astype(np.float32)
    vs, ss = np.stack(vs), np.stack(ss)
    h2 = ss @ w2
    vo = np.zeros((B, CLASSES), np.float32)
    out = []
    for t in range(T_):
        out.append(vo)
        vo = alpha * vo + h2[t]
    out = np.stack(out)
    loss, gv = snn.readout_nll(out, labels)
    if not update:
        return loss
    gh2 = np.zeros_like(h2)
    gnext = np.zeros((B, CLASSES))
    for t in range(T_ - 1, -1, -1):
        gh2[t] = gnext
        gnext = gv[t] + alpha * gnext
    gw2 = ss.reshape(-1, HIDDEN).T @ gh2.reshape(-1, CLASSES)
    gs_in = gh2 @ w2.T
    gh = np.zeros_like(h)
    gvn, gsn = np.zeros((B, HIDDEN)), np.zeros((B, HIDDEN))
    for t in range(T_ - 1, -1, -1):
        a = alpha * vs[t] + h[t]
        e = np.exp(-5 * np.abs(vs[t] - 1))
        sg = 5 * e / (1 + e) ** 2
        gs_t = gs_in[t] - gvn * a
        gv_t = gvn * alpha * (1 - ss[t]) + gsn * sg
        gh[t] = gvn * (1 - ss[t])
        gvn, gsn = gv_t, gs_t
    gw1 = x.reshape(-1, x.shape[2]).T @ gh.reshape(-1, HIDDEN)
    return loss, gw1, gw2


def numpy_stimulus(ipd, uniforms, offset):
    """The seed's input_signal, time-major, from stored uniforms."""
    times = np.arange(T) * 1e-3
    phi = 2 * np.pi * (20 * times + offset)
    delays = np.linspace(0, np.pi / 2, ANF)
    theta = np.empty((T, len(ipd), 2 * ANF))
    theta[:, :, :ANF] = phi[:, None, None] + delays
    theta[:, :, ANF:] = phi[:, None, None] + delays + ipd[None, :, None]
    return (uniforms < 0.6 * (0.5 * (1 + np.sin(theta))) ** 2).astype(np.float32)


def numpy_epoch(n_batches):
    rng = np.random.default_rng(0)
    w1 = rng.uniform(-0.18, 0.18, (2 * ANF, HIDDEN)).astype(np.float32)
    w2 = rng.uniform(-0.29, 0.29, (HIDDEN, CLASSES)).astype(np.float32)
    ipd = rng.random(BATCH) * np.pi - np.pi / 2
    uniforms = rng.random((T, BATCH, 2 * ANF))
    labels = sl.discretise(ipd)
    alpha = np.float32(np.exp(-1 / 5))

    def train_batch():
        numpy_step(numpy_stimulus(ipd, uniforms, 0.3), labels, w1, w2, alpha)

    def val_batch():
        numpy_step(numpy_stimulus(ipd, uniforms, 0.3), labels, w1, w2, alpha, update=False)
    train_batch()
    return N_BATCHES * (median_time(train_batch, n_batches) + median_time(val_batch, n_batches))


# --- the seed's PyTorch code ---------------------------------------------------------
def torch_epoch(torch, n_batches):
    """The tutorial's snn(), loss and Adam step, with its input_signal, on this CPU."""
    import torch.nn as nn
    torch.manual_seed(0)

    class SurrGradSpike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, inp):
            ctx.save_for_backward(inp)
            out = torch.zeros_like(inp)
            out[inp > 0] = 1.0
            return out

        @staticmethod
        def backward(ctx, grad_output):
            inp, = ctx.saved_tensors
            s = 1 / (1 + torch.exp(-5 * inp))
            return grad_output * 5 * s * (1 - s)

    spike_fn = SurrGradSpike.apply
    w1 = nn.Parameter(torch.empty(2 * ANF, HIDDEN).uniform_(-1 / np.sqrt(HIDDEN), 1 / np.sqrt(HIDDEN)))
    w2 = nn.Parameter(torch.empty(HIDDEN, CLASSES).uniform_(-1 / np.sqrt(CLASSES), 1 / np.sqrt(CLASSES)))
    alpha = float(np.exp(-1 / 5))

    def snn_forward(x):
        B = x.shape[0]
        v = torch.zeros(B, HIDDEN)
        s = torch.zeros(B, HIDDEN)
        s_rec = [s]
        h = torch.einsum("abc,cd->abd", (x, w1))
        for t in range(T - 1):
            new_v = (alpha * v + h[:, t, :]) * (1 - s)
            s = spike_fn(v - 1)
            v = new_v
            s_rec.append(s)
        s_rec = torch.stack(s_rec, dim=1)
        vo = torch.zeros(B, CLASSES)
        v_rec = [vo]
        h2 = torch.einsum("abc,cd->abd", (s_rec, w2))
        for t in range(T - 1):
            vo = alpha * vo + h2[:, t, :]
            v_rec.append(vo)
        return torch.stack(v_rec, dim=1)

    rng = np.random.default_rng(0)
    ipd = rng.random(BATCH) * np.pi - np.pi / 2
    poisson = rng.random((BATCH, T, 2 * ANF))
    labels = torch.tensor(sl.discretise(ipd))
    opt = torch.optim.Adam([w1, w2], lr=5e-3)
    log_softmax, nll = nn.LogSoftmax(dim=1), nn.NLLLoss()

    def stimulus():
        times = np.arange(T) * 1e-3
        phi = 2 * np.pi * (20 * times + np.random.rand())
        delays = np.linspace(0, np.pi / 2, ANF)
        theta = np.zeros((BATCH, T, 2 * ANF))
        theta[:, :, :ANF] = phi[None, :, None] + delays[None, None, :]
        theta[:, :, ANF:] = phi[None, :, None] + delays[None, None, :] + ipd[:, None, None]
        return torch.tensor(poisson < 0.6 * (0.5 * (1 + np.sin(theta))) ** 2, dtype=torch.float)

    def train_batch():
        out = snn_forward(stimulus())
        loss = nll(log_softmax(torch.sum(out, 1) * 0.01), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def val_batch():
        with torch.no_grad():
            nll(log_softmax(torch.sum(snn_forward(stimulus()), 1) * 0.01), labels)
    train_batch()
    # the seed's validation pass builds the graph too (no torch.no_grad); timing it without
    # the graph favours PyTorch slightly
    return N_BATCHES * (median_time(train_batch, n_batches) + median_time(val_batch, n_batches))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="snnumba epochs to time (median)")
    parser.add_argument("--batches", type=int, default=8, help="batches timed for the references")
    parser.add_argument("--no-compile", action="store_true", help="skip the fresh-process compile timing")
    args = parser.parse_args()
    import numba
    print(f"numba {numba.__version__}, {numba.get_num_threads()} threads, numpy {np.__version__}")
    if not args.no_compile:
        cold, warm = compile_seconds()
        print(f"first training step in a fresh process: {cold:.2f} s with a cold cache (compiling), "
              f"{warm:.2f} s with the cache")
    ours = snnumba_epoch(args.epochs)
    print(f"snnumba epoch (64 train + 64 validation batches): {ours * 1e3:.0f} ms (median of {args.epochs})")
    print("  where a training step's time goes (ms per batch, median):")
    for name, ms in snnumba_breakdown().items():
        print(f"    {name:<40s}{ms:7.2f}")
    ref = numpy_epoch(args.batches)
    print(f"plain NumPy epoch (scaled from {args.batches} batches): {ref * 1e3:.0f} ms  -> "
          f"snnumba is {ref / ours:.1f}x faster")
    try:
        import torch
    except ImportError:
        print("seed's PyTorch code: skipped (torch is not installed; benchmark it from a separate "
              "venv with `pip install torch==2.13.0`)")
        return
    torch.set_num_threads(numba.get_num_threads())
    ref = torch_epoch(torch, args.batches)
    print(f"seed's PyTorch code, torch {torch.__version__} (scaled from {args.batches} batches): "
          f"{ref * 1e3:.0f} ms  -> snnumba is {ref / ours:.1f}x faster")


if __name__ == "__main__":
    main()
