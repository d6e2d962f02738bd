"""``snnumba sweep``: a grid of configurations times seeds on a Dask cluster."""
import argparse
import json
import sys

from . import distributed
from ._cli_common import check_output, require_pyplot


def parse_seeds(spec):
    """Seeds from ``"0-9"``, ``"0,3,5"`` or a mix (``"0-2,7"``): distinct, non-negative."""
    seeds = []
    for item in spec.split(","):
        first, dash, last = item.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise ValueError(f"--seeds: {item.strip()!r} is not a seed or a range like 0-9") from None
        if low < 0 or high < low:
            raise ValueError(f"--seeds: {item.strip()!r} must be a non-negative seed or an increasing range")
        seeds.extend(range(low, high + 1))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds: {spec!r} repeats a seed")
    return seeds


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _convert(name, text, default):
    """``text`` as the type of ``default`` (inferred int/float/bool/str if there is none)."""
    text = text.strip()
    if isinstance(default, bool):
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ValueError(f"--set {name}: {text!r} is not true or false")
    if isinstance(default, int) or isinstance(default, float):
        kind = type(default)
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"--set {name}: {text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if isinstance(default, str):
        return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_sets(items, defaults=None, task="task"):
    """A grid ``{name: [values]}`` from ``--set name=v1,v2`` items, each value converted
    to the type of the task's default for ``name``; an unknown name raises ValueError."""
    grid = {}
    for item in items:
        name, eq, values = item.partition("=")
        name = name.strip()
        if not eq or not name or not values.strip():
            raise ValueError(f"--set {item!r}: expected name=value1,value2,...")
        if defaults is not None and name not in defaults:
            raise ValueError(f"--set: unknown config key {name!r} for task {task!r}; "
                             f"known keys: {', '.join(defaults)}")
        if name in grid:
            raise ValueError(f"--set: {name!r} is given twice")
        grid[name] = [_convert(name, v, defaults.get(name) if defaults else None) for v in values.split(",")]
    return grid


def _seeds_type(spec):
    try:
        return parse_seeds(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--seeds: ")) from None


def add_sweep_parser(subparsers):
    """Add the ``sweep`` subcommand to ``snnumba``'s sub-parsers."""
    p = subparsers.add_parser(
        "sweep", help="run a task over a grid of settings and seeds on a Dask cluster",
        description="Train TASK once per (grid point, seed) on a Dask cluster (a local one by "
                    "default), write each result to --out as it finishes, and print mean ± std "
                    "and 95%% confidence intervals per grid point across seeds. Re-running with "
                    "the same --out skips the finished runs. Needs pip install 'snnumba[distributed]'.")
    p.add_argument("task", help=f"a built-in task ({', '.join(distributed.TASKS)}) or module:function")
    p.add_argument("--seeds", type=_seeds_type, default=list(range(5)), metavar="SPEC",
                   help="seeds as 0-9, 0,3,5 or 0-2,7 (default 0-4)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2", dest="sets",
                   help="a swept setting (repeat for a grid; one value fixes it), e.g. lr=0.002,0.005")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: one per core)")
    p.add_argument("--out", required=True, metavar="PATH",
                   help="results file (.csv, else JSON lines), written after each run; resumed when re-run")
    p.add_argument("--retries", type=int, default=3, help="tries more of a run whose worker died (default 3)")
    p.add_argument("--metric", help="the metric that picks the best point (default test_accuracy)")
    p.add_argument("--minimize", action="store_true", help="the best point has the lowest --metric")
    p.add_argument("--plot", metavar="PNG", help="save --metric against each swept setting (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_sweep, check=check_sweep_args, parser=p)
    return p


def check_sweep_args(args):
    """Usage errors (through the sub-parser, naming the option) before any work; returns
    the task function and the grid."""
    error = args.parser.error
    if args.workers is not None and args.workers < 1:
        error("--workers must be >= 1")
    if args.retries < 0:
        error("--retries must be >= 0")
    check_output(args.parser, "--out", args.out)
    check_output(args.parser, "--plot", args.plot)
    try:
        name, function = distributed.resolve_task(args.task)
        defaults = getattr(function, "defaults", None)
        return function, parse_sets(args.sets, defaults if isinstance(defaults, dict) else None, name)
    except (ValueError, TypeError) as exc:
        error(str(exc))


def run_sweep(args):
    """Run the ``sweep`` subcommand; returns 0, or 1 if a run failed."""
    function, grid = check_sweep_args(args)  # cheap to repeat where main() checked already
    if args.plot:
        require_pyplot()
    try:
        _, dask_distributed = distributed._import_distributed()
    except ImportError as exc:
        sys.exit(f"snnumba: {exc}")
    log = sys.stderr if args.json else sys.stdout
    options = dict(out=args.out, retries=args.retries, progress=not (args.quiet or args.json))
    try:
        if args.scheduler:
            try:
                client = dask_distributed.Client(args.scheduler)
            except OSError as exc:
                sys.exit(f"snnumba: cannot reach the Dask scheduler at {args.scheduler}: {exc}")
            with client:
                rows = distributed.sweep(client, function, grid, args.seeds, **options)
        else:
            rows = distributed.sweep(None, function, grid, args.seeds, workers=args.workers, **options)
        summary = distributed.summarize(rows, args.metric, maximize=not args.minimize)
    except ValueError as exc:  # e.g. an --out file that is not a results file, an unknown --metric
        sys.exit(f"snnumba: {exc}")
    print(distributed.format_summary(summary), file=log)
    print(f"results: {args.out}", file=log)
    if args.plot and summary["best"] is not None:
        distributed.plot_summary(summary, args.plot)
        print(f"saved plot to {args.plot}", file=log)
    if args.json:
        print(json.dumps(summary))
    return 1 if summary["failed"] else 0
