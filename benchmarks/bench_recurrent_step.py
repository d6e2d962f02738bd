"""A recurrent training step (issue #9): T=100, B=256, 700 Poisson inputs -> 256 recurrent
current-based LIF -> 20 leaky readouts, max-over-time readout loss, Adam, float32;
snnumba against snnTorch ``RSynaptic`` and Norse ``LIFRecurrent`` on the same inputs.

The same row as ``python benchmarks/compare.py --only recurrent`` (``compare.recurrent_step``
says how the models match), with its conventions: the inputs are made once with NumPy from
``--seed``; snnumba's first call (compile or cache load) and the median of ``--repeats``
steady calls are printed, the ratio best peer / snnumba (> 1: snnumba is faster) against the
issue's goal (>= 5x the fastest peer), the other processes' load from ``/proc/stat`` during
each timing, and peers that are not importable are reported missing.

How to run (peers from a separate environment, see ``compare.py``)::

    python benchmarks/bench_recurrent_step.py [--quick] [--repeats 5] [--json out.json]

``--quick`` uses small sizes to check that the script runs; its numbers are not the issue's.
"""
import json
import sys

import numba

import snnumba as snn
from snnumba._io import atomic_write

import compare  # beside this script: the workload, measuring, quiet waits, the table


def main(argv=None):
    _, args = compare.parse_arguments(__doc__.splitlines()[0], argv)
    if not hasattr(snn, "RecurrentLIF"):
        sys.exit("this snnumba has no RecurrentLIF")
    print(f"snnumba {snn.__version__}, numba {numba.__version__} ({numba.get_num_threads()} threads)")
    row = compare.recurrent_step(args)
    compare.drop_results([row])
    print()
    compare.print_table([row])
    if args.json:
        report = {"quick": args.quick, "repeats": args.repeats, "seed": args.seed,
                  "threads": numba.get_num_threads(), "row": row}
        atomic_write(args.json, lambda f: f.write(json.dumps(report, indent=1).encode()))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
