"""Sweeps over configurations and seeds on a Dask cluster (STUMPY's ``stumped`` shape).

``sweep(client, task, grid, seeds)`` runs ``task(config, seed)`` once per (grid point,
seed) on the workers behind a ``distributed.Client`` and returns one row per run. The
workers run the same compiled kernels as a single process; snnumba builds no scheduler
or protocol of its own. Dask is the optional extra ``pip install 'snnumba[distributed]'``
and is imported only when a sweep starts.

Reliability:

- Results are collected by the client as runs finish, keyed by (task, config, seed), and
  the whole results file is rewritten atomically (temporary file, then rename) after each
  one: the file is never half-written, and a run finished twice is stored once.
- Re-running a sweep with the same ``out`` skips the runs that file holds with metrics;
  runs that raised are run again.
- A run that raises is recorded with its error; the others go on.
- A run whose worker dies is rescheduled by Dask on another worker (``retries``).
- Each worker process loads the compiled kernels from the Numba cache (``NUMBA_CACHE_DIR``,
  passed on to the workers of a local cluster), so it compiles at most once.
"""
import csv
import io
import itertools
import json
import math
import numbers
import os
import time

import numpy as np

from ._io import atomic_write
from ._validation import check_int
from .tasks import check_config_keys

#: Built-in tasks by name: ``(config, seed) -> dict of metrics`` functions.
TASKS = {"sound-localization": "snnumba.tasks.sound_localization:run", "randman": "snnumba.tasks.randman:run",
         "shd": "snnumba.tasks.shd:run"}

INSTALL_HINT = "pip install 'snnumba[distributed]'"
# columns a results row always has; a task may not report metrics under these names
_RESERVED = ("task", "seed", "error", "seconds", "key")


def _import_distributed():
    try:
        import dask
        import distributed
    except ImportError as exc:
        raise ImportError(f"sweeps run on Dask distributed, which is not installed: {INSTALL_HINT}") from exc
    return dask, distributed


def resolve_task(task):
    """``(name, function)`` of a task: a built-in name (``TASKS``), ``"module:function"``
    or a function. The name identifies the task's runs in a results file."""
    if callable(task):
        name = f"{getattr(task, '__module__', None)}:{getattr(task, '__qualname__', None)}"
        return next((short for short, ref in TASKS.items() if ref == name), name), task
    if not isinstance(task, str):
        raise TypeError(f"'task' must be a function or a name, got {type(task).__name__}")
    ref = TASKS.get(task, task)
    module, _, attr = ref.partition(":")
    if not module or not attr:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(map(repr, TASKS))} "
                         "or 'module:function'")
    import importlib
    try:
        function = importlib.import_module(module)
        for part in attr.split("."):
            function = getattr(function, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import task {task!r}: {exc}") from None
    if not callable(function):
        raise TypeError(f"task {task!r} is not a function")
    return task, function


def _scalar(name, value):
    """A JSON-storable scalar (NumPy scalars become Python ones)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is not None and not isinstance(value, (bool, numbers.Real, str)):
        raise TypeError(f"{name} must be a number, bool, string or None, got {type(value).__name__}")
    return value


def grid_points(grid, defaults=None, task="task"):
    """The configurations of ``grid`` (``{name: list of values}``), in ``itertools.product``
    order; a single value stands for a one-value list. With ``defaults`` (the task's known
    keys), an unknown name raises ValueError naming it."""
    if not isinstance(grid, dict):
        raise TypeError(f"'grid' must be a dict of name -> list of values, got {type(grid).__name__}")
    values = {}
    for name, options in grid.items():
        if not isinstance(name, str):
            raise TypeError(f"'grid' keys must be strings, got {name!r}")
        if defaults is not None:
            check_config_keys(task, [name], defaults)
        options = list(options) if isinstance(options, (list, tuple, np.ndarray)) else [options]
        if not options:
            raise ValueError(f"grid[{name!r}] has no values")
        values[name] = [_scalar(f"grid[{name!r}] values", v) for v in options]
    return [dict(zip(values, combo)) for combo in itertools.product(*values.values())]


def _check_seeds(seeds):
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"'seeds' must be an iterable of integers, got {type(seeds).__name__}")
    seeds = [check_int("seeds", s, 0) for s in seeds]
    if not seeds:
        raise ValueError("'seeds' is empty")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"'seeds' has repeated values: {seeds}")
    return seeds


def run_key(task, config, seed):
    """The identity of one run in a results file."""
    return json.dumps({"task": task, "config": config, "seed": seed}, sort_keys=True)


def _run_one(task, config, seed):
    """Worker side: one run, its exception caught and recorded."""
    start = time.perf_counter()
    try:
        metrics = task(dict(config), seed)
        if not isinstance(metrics, dict):
            raise TypeError(f"the task returned {type(metrics).__name__}, not a dict of metrics")
        metrics = {str(k): _scalar(f"metric {k!r}", v) for k, v in metrics.items()}
        clash = [k for k in metrics if k in _RESERVED or k.startswith("config.")]
        if clash:
            raise ValueError(f"metric names {clash} are reserved for the results table")
        error = None
    except Exception as exc:  # recorded in the row; the sweep goes on
        metrics, error = None, f"{type(exc).__name__}: {exc}"
    return {"metrics": metrics, "error": error, "seconds": time.perf_counter() - start}


# ---- results file: JSON lines, or CSV when the name ends in .csv --------------------------

def _is_csv(path):
    return os.fspath(path).lower().endswith(".csv")


def _cell(value):
    return value if isinstance(value, str) else json.dumps(value)


def _parse_cell(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _render(rows, as_csv):
    if not as_csv:
        return "".join(json.dumps(row) + "\n" for row in rows)
    config_cols = list(dict.fromkeys(k for row in rows for k in row["config"]))
    metric_cols = list(dict.fromkeys(k for row in rows for k in (row["metrics"] or {})))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["task", "seed"] + [f"config.{k}" for k in config_cols] + metric_cols
                    + ["error", "seconds", "key"])
    for row in rows:
        metrics = row["metrics"] or {}
        writer.writerow([row["task"], row["seed"]]
                        + [_cell(row["config"][k]) if k in row["config"] else "" for k in config_cols]
                        + [_cell(metrics[k]) if k in metrics else "" for k in metric_cols]
                        + [row["error"] or "", _cell(row["seconds"]),
                           run_key(row["task"], row["config"], row["seed"])])
    return buf.getvalue()


def write_results(path, rows):
    """Write ``rows`` to ``path`` atomically (``_io.atomic_write``): a reader, or a
    crash, sees the old file or the new one."""
    path = os.fspath(path)
    text = _render(rows, _is_csv(path))
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def read_results(path):
    """The rows of a results file written by :func:`sweep` (empty if it does not exist).

    Raises ValueError naming the path if the file is not such a file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            if not _is_csv(path):
                rows = [json.loads(line) for line in f if line.strip()]
                for row in rows:
                    missing = {"task", "seed", "config", "metrics", "error"} - set(row)
                    if missing:
                        raise KeyError(f"a row lacks {sorted(missing)}")
                return rows
            rows = []
            for record in csv.DictReader(f):
                ident = json.loads(record["key"])
                metrics = {k: _parse_cell(v) for k, v in record.items()
                           if k not in _RESERVED and not k.startswith("config.") and v != ""}
                rows.append({"task": ident["task"], "seed": ident["seed"], "config": ident["config"],
                             "metrics": None if record["error"] else metrics, "error": record["error"] or None,
                             "seconds": _parse_cell(record["seconds"])})
            return rows
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a results file written by snnumba.sweep: {exc!r}") from None


# ---- the sweep ---------------------------------------------------------------------------

def _local_cluster(distributed, dask, workers, retries):
    """One single-threaded worker process per core (or ``workers``), each running Numba and
    BLAS on one thread, with this process's Numba cache folder."""
    if workers is None:
        try:
            workers = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            workers = os.cpu_count() or 1
    workers = check_int("workers", workers, 1)
    env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if os.environ.get("NUMBA_CACHE_DIR"):
        env["NUMBA_CACHE_DIR"] = os.environ["NUMBA_CACHE_DIR"]
    # how many worker deaths a run survives is the scheduler's setting; ours runs here
    with dask.config.set({"distributed.scheduler.allowed-failures": retries}):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        env=env, dashboard_address=":0")


def sweep(client, task, grid, seeds, out=None, retries=3, progress=True, workers=None):
    """Run ``task(config, seed)`` for every point of ``grid`` and every seed on a Dask cluster.

    Parameters
    ----------
    client : distributed.Client or None
        The cluster to run on. None starts a ``LocalCluster`` with one single-threaded
        worker process per core (``workers`` to choose), and closes it at the end.
    task : str or callable
        A function ``(config dict, seed) -> dict of metrics`` that the workers can import
        (a module-level function), ``"module:function"``, or a built-in task's name
        (``"sound-localization"``, see ``TASKS``). A ``defaults`` attribute (a dict) lists
        the task's configuration keys; grid names are then checked against it.
    grid : dict
        ``{name: list of values}``; each combination is one configuration.
    seeds : iterable of int
        Non-negative, distinct.
    out : str or path-like, optional
        Results file, rewritten atomically after every finished run: CSV when the name ends
        in ``.csv``, JSON lines otherwise. Runs it already holds with metrics are skipped.
    retries : int
        How many more times a run is tried when its worker dies (the ``allowed-failures``
        of a local cluster's scheduler, and Dask's ``retries``). An exception raised by the
        task is recorded, not retried.
    progress : bool
        Show a progress bar of finished runs.
    workers : int, optional
        Worker processes of the local cluster (only with ``client=None``).

    Returns
    -------
    list of dict
        One row per run, grid point by grid point and seed by seed: ``task``, ``seed``,
        ``config``, ``metrics`` (None if the run failed), ``error`` (``"Type: message"``
        or None) and ``seconds``.
    """
    name, function = resolve_task(task)
    defaults = getattr(function, "defaults", None)
    points = grid_points(grid, defaults if isinstance(defaults, dict) else None, name)
    seeds = _check_seeds(seeds)
    retries = check_int("retries", retries, 0)
    if client is not None and workers is not None:
        raise ValueError("'workers' sizes the local cluster started when 'client' is None; "
                         "a given client already has its workers")
    dask, distributed = _import_distributed()

    stored = {}
    if out is not None:
        for row in read_results(out):
            stored[run_key(row["task"], row["config"], row["seed"])] = row
    runs = {run_key(name, config, seed): (config, seed) for config in points for seed in seeds}
    todo = [key for key in runs if not (key in stored and stored[key]["metrics"] is not None)]

    from tqdm.auto import tqdm
    own = client is None
    cluster = _local_cluster(distributed, dask, workers, retries) if own else None
    futures, run_of = [], {}
    bar = tqdm(total=len(runs), initial=len(runs) - len(todo), desc="sweep", unit="run", disable=not progress)
    try:
        if own:
            client = distributed.Client(cluster)
        for key in todo:
            config, seed = runs[key]
            # pure=False: a fresh Dask key per submission, so a re-run right after an
            # interrupted sweep never meets the cancelled futures of the same runs
            future = client.submit(_run_one, function, config, seed, pure=False, retries=retries)
            run_of[future.key] = key
            futures.append(future)
        for future in distributed.as_completed(futures):
            key = run_of[future.key]
            config, seed = runs[key]
            try:
                result = future.result()
            except Exception as exc:  # e.g. KilledWorker: the worker died more than retries allow
                result = {"metrics": None, "error": f"{type(exc).__name__}: {exc}", "seconds": None}
            stored[key] = {"task": name, "seed": seed, "config": config, **result}
            if out is not None:
                write_results(out, list(stored.values()))
            future.release()
            bar.update()
    finally:
        bar.close()
        if futures and not own:
            client.cancel(futures)
        if own:
            if client is not None:
                client.close()
            cluster.close()
    return [stored[key] for key in runs if key in stored]


# ---- summaries across seeds --------------------------------------------------------------

def _stats(values):
    """n, mean, sample std and the Student-t 95 % confidence interval of the mean."""
    from scipy import stats
    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return {"n": n, "mean": mean, "std": None, "ci95": None}
    std = float(np.std(values, ddof=1))
    if std == 0:
        return {"n": n, "mean": mean, "std": 0.0, "ci95": [mean, mean]}
    low, high = stats.t.interval(0.95, n - 1, loc=mean, scale=std / math.sqrt(n))
    return {"n": n, "mean": mean, "std": std, "ci95": [float(low), float(high)]}


def summarize(rows, metric=None, maximize=True):
    """Mean, std and 95 % confidence interval (Student t) of each numeric metric per grid
    point across seeds, and the best point.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`sweep` (or :func:`read_results`).
    metric : str, optional
        The metric that picks the best point; default ``test_accuracy`` when the runs
        report it, else the first numeric metric.
    maximize : bool
        Whether the best point has the highest mean of ``metric`` (else the lowest).

    Returns
    -------
    dict
        ``metric``, ``maximize``, ``runs``, ``failed``, ``points`` (each with ``config``,
        ``seeds``, ``failed``, ``errors`` and ``metrics``: ``{name: {n, mean, std, ci95}}``;
        ``std`` and ``ci95`` are None with fewer than two seeds) and ``best`` (a point, or
        None when every run failed).
    """
    points = {}
    for row in rows:
        point = points.setdefault(json.dumps(row["config"], sort_keys=True),
                                  {"config": row["config"], "seeds": [], "failed": 0, "errors": [], "values": {}})
        if row["metrics"] is None:
            point["failed"] += 1
            point["errors"].append(f"seed {row['seed']}: {row['error']}")
            continue
        point["seeds"].append(row["seed"])
        for name, value in row["metrics"].items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
                point["values"].setdefault(name, []).append(value)
    for point in points.values():
        point["metrics"] = {name: _stats(values) for name, values in point.pop("values").items()}
    points = list(points.values())
    numeric = [name for point in points for name in point["metrics"]]
    if metric is None:
        metric = "test_accuracy" if "test_accuracy" in numeric else (numeric[0] if numeric else None)
    elif metric not in numeric:
        raise ValueError(f"unknown metric {metric!r}; the runs report {', '.join(dict.fromkeys(numeric)) or 'none'}")
    scored = [p for p in points if metric in p["metrics"]]
    sign = 1 if maximize else -1
    best = max(scored, key=lambda p: sign * p["metrics"][metric]["mean"]) if scored else None
    return {"metric": metric, "maximize": bool(maximize), "runs": len(rows),
            "failed": sum(p["failed"] for p in points), "points": points, "best": best}


def _config_text(config):
    return " ".join(f"{k}={v}" for k, v in config.items()) or "all runs"


def _swept(points):
    """The config names whose value differs between points, in order of appearance."""
    names = dict.fromkeys(k for p in points for k in p["config"])
    return [k for k in names if len({json.dumps(p["config"].get(k)) for p in points}) > 1]


def format_summary(summary):
    """The summary as text: the fixed settings, each point's metrics as mean ± std and
    95 % CI, then the best point."""
    swept = _swept(summary["points"])
    fixed = {k: v for k, v in (summary["points"][0]["config"] if summary["points"] else {}).items() if k not in swept}
    lines = [f"fixed: {_config_text(fixed)}"] if fixed else []
    for point in summary["points"]:
        head = f"{_config_text({k: point['config'].get(k) for k in swept})}: {len(point['seeds'])} seeds"
        lines.append(head + (f", {point['failed']} failed" if point["failed"] else ""))
        for error in point["errors"]:
            lines.append(f"  failed {error}")
        for name, s in point["metrics"].items():
            text = f"  {name:<22} {s['mean']:.4g}"
            if s["std"] is not None:
                text += f" ± {s['std']:.2g}   95% CI [{s['ci95'][0]:.4g}, {s['ci95'][1]:.4g}]"
            lines.append(text)
    best, metric = summary["best"], summary["metric"]
    if best is None:
        lines.append("best: none (every run failed)")
    else:
        s = best["metrics"][metric]
        spread = f" ± {s['std']:.2g}" if s["std"] is not None else ""
        lines.append(f"best ({'highest' if summary['maximize'] else 'lowest'} mean {metric}): "
                     f"{_config_text({k: best['config'].get(k) for k in swept})}: "
                     f"{s['mean']:.4g}{spread} over {s['n']} seeds")
    return "\n".join(lines)


def plot_summary(summary, path, metric=None):
    """Save a figure of ``metric`` (default: the summary's) against each swept parameter,
    mean with std error bars across seeds, one line per setting of the other swept
    parameters. Needs matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    metric = metric or summary["metric"]
    points = [p for p in summary["points"] if metric in p["metrics"]]
    swept = _swept(points) or list(points[0]["config"])[:1]
    fig, axes = plt.subplots(1, max(1, len(swept)), figsize=(4.5 * max(1, len(swept)), 3.6), dpi=100, squeeze=False)
    for ax, name in zip(axes[0], swept or [None]):
        others = [k for k in swept if k != name]
        lines = {}
        for p in points:
            label = _config_text({k: p["config"].get(k) for k in others}) if others else None
            lines.setdefault(label, []).append(p)
        for label, group in lines.items():
            x = [str(p["config"].get(name)) if name else "" for p in group]
            s = [p["metrics"][metric] for p in group]
            ax.errorbar(x, [v["mean"] for v in s], yerr=[v["std"] or 0.0 for v in s],
                        marker="o", capsize=3, label=label)
        ax.set_xlabel(name or "")
        ax.set_ylabel(f"{metric} (mean ± std over seeds)")
        if others:
            ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
