"""A recurrent training step (issue #9): T=100, B=256, 700 Poisson inputs -> 256 recurrent
current-based LIF -> 20 leaky readouts, max-over-time readout loss, Adam, float32;
snnumba against snnTorch ``RSynaptic`` and Norse ``LIFRecurrent`` on the same inputs.

Follows ``compare.py``'s conventions (and uses its machinery): the inputs are made once
with NumPy from ``--seed``; snnumba's first call (compile or cache load) and the median of
``--repeats`` steady calls are printed, the ratio best peer / snnumba (> 1: snnumba is
faster) against the issue's goal (>= 5x the fastest peer), the other processes' load from
``/proc/stat`` during each timing, and peers that are not importable are reported missing.

Models. snnumba runs ``RecurrentLIF(tau_syn=..., reset="subtract",
spike_timing="same_step_late_reset")``, the equations of snnTorch's ``RSynaptic`` with its
defaults (``reset_delay=True``: the reset of step t is decided by the membrane of step
t-1, the recurrent input enters the synaptic current), with the same initial weights
(``RSynaptic``'s recurrent ``Linear`` gets snnumba's ``V`` transposed and a zero bias), the
same decays (``alpha = exp(-dt/tau_syn)``, ``beta = exp(-dt/tau)``) and fast-sigmoid
surrogate of slope 25 (snnTorch's default). Norse's ``LIFRecurrent`` is its own model
(Euler decay ``dt/tau``, reset to zero, SuperSpike surrogate), timed for the same sizes
and weights. The readouts are a non-resetting ``Leaky`` (snnTorch) and ``LILinearCell``'s
leaky integration written in torch (Norse); the loss is NLL of the readouts' maximum over
time for every framework. snnumba's ``LeakyReadout`` records each step's membrane before
that step's input (the seed's convention), snnTorch's ``Leaky`` after it, so the first-step
losses printed differ a little; the hidden spikes of snnumba and ``RSynaptic`` are the same
(all 10240 at ``--quick`` sizes, checked once).

How to run (peers from a separate environment, see ``compare.py``)::

    python benchmarks/bench_recurrent_step.py [--quick] [--repeats 5] [--json out.json]

``--quick`` uses small sizes to check that the script runs; its numbers are not the issue's.
"""
import json
import sys

import numba
import numpy as np

import snnumba as snn
from snnumba._io import atomic_write

import compare  # beside this script: measuring, quiet waits, the table
import peers

#: T, B, inputs, hidden, classes: {quick: sizes}
SIZES = {False: (100, 256, 700, 256, 20), True: (20, 16, 70, 32, 5)}
TAU, TAU_SYN, DT, LR, SLOPE = 20e-3, 10e-3, 1e-3, 1e-3, 25.0
DENSITY = 0.02  # input spikes per channel and step (SHD's inputs are sparser still)
GOAL = 5.0


def snnumba_step(x, labels, sizes, seed):
    """snnumba's network, a callable running one training step (returns the loss), and the
    initial weights ``(W_in, V, W_out)`` for the peers."""
    T, B, N_IN, H, C = sizes
    rng = np.random.default_rng(seed + 1)
    net = snn.Network([
        snn.Dense(N_IN, H, init_bound=2 / np.sqrt(N_IN), rng=rng),
        snn.RecurrentLIF(H, tau=TAU, tau_syn=TAU_SYN, dt=DT, reset="subtract", spike_timing="same_step_late_reset",
                         surrogate="fast_sigmoid", slope=SLOPE, rng=rng),
        snn.Dense(H, C, init_bound=2 / np.sqrt(H), rng=rng),
        snn.LeakyReadout(tau=TAU, dt=DT)])
    weights = tuple(np.array(net.layers[i].params[k]) for i, k in ((0, "weight"), (1, "recurrent_weight"), (2, "weight")))
    opt = snn.Adam(net, lr=LR)

    def step():
        net.zero_grad()
        loss, grad = snn.max_over_time_nll(net.forward(x), labels)
        net.backward(grad)
        opt.step()
        return loss
    return step, weights


def recurrent_row(args):
    """Time the recurrent training step for snnumba and the recurrent peers that import
    here; returns ``(row, versions, missing)``, the row as ``compare.run_row`` makes it.
    ``args`` needs ``quick``, ``seed``, ``repeats``, ``max_wait`` and ``quiet_cores``
    (``compare.py`` runs this as its ``recurrent`` workload)."""
    versions, missing = peers.import_peers(peers.RECURRENT_PEERS)
    if "snnTorch" in versions or "Norse" in versions:
        import torch
        torch.set_num_threads(numba.get_num_threads())  # the same cores for every framework
    print("recurrent peers: " + (", ".join(f"{k} {v}" for k, v in versions.items()) or "none"))
    if missing:
        print(f"missing peers: {', '.join(missing)} -- {peers.INSTALL_HINT}")

    sizes = SIZES[args.quick]
    T, B, N_IN, H, C = sizes
    rng = np.random.default_rng(args.seed)
    x = (rng.random((T, B, N_IN), dtype=np.float32) < DENSITY).astype(np.uint8)
    labels = rng.integers(0, C, B)
    step, weights = snnumba_step(x, labels, sizes, args.seed)
    decays = (float(np.exp(-DT / TAU_SYN)), float(np.exp(-DT / TAU)))
    specs = {}
    for label in ("snnTorch", "Norse"):
        reason = None if label in versions else missing.get(label, "not installed")
        specs[label] = reason or compare.timed_peer(
            lambda label=label: peers.recurrent_step(label, x, labels, weights, decays, DT, (TAU_SYN, TAU), LR, SLOPE),
            args.repeats)
    row = compare.run_row(args, "recurrent training step", f"T={T}, B={B}, {N_IN}->{H} rec.->{C}, "
                          f"{100 * DENSITY:.0f} % input", {"min_ratio": {}}, f">= {GOAL:.0f}x fastest peer",
                          step, specs)
    best = row["best_peer_median_s"]
    row["met"] = None if best is None else best / row["snnumba_median_s"] >= GOAL
    snntorch_loss = row["peers"].get("snnTorch", {}).get("_result")
    if snntorch_loss is not None:
        row["notes"].append(f"first-step loss from the same weights and inputs: snnumba {row['_result']:.6f}, "
                            f"snnTorch {snntorch_loss:.6f}")
    row.pop("_result", None)
    for p in row["peers"].values():
        p.pop("_result", None)
    return row, versions, missing


def main(argv=None):
    _, args = compare.parse_arguments(__doc__.splitlines()[0], argv)
    if not hasattr(snn, "RecurrentLIF"):
        sys.exit("this snnumba has no RecurrentLIF")

    print(f"snnumba {snn.__version__}, numba {numba.__version__} ({numba.get_num_threads()} threads)")
    row, versions, missing = recurrent_row(args)
    print()
    compare.print_table([row])
    if args.json:
        report = {"quick": args.quick, "repeats": args.repeats, "seed": args.seed, "versions": versions,
                  "missing_peers": missing, "threads": numba.get_num_threads(), "row": row}
        atomic_write(args.json, lambda f: f.write(json.dumps(report, indent=1).encode()))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
