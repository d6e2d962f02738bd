"""Sweeps on Dask distributed: results, resuming, failures, lost workers, the command."""
import importlib.util
import json
import os
import pathlib
import signal
import sys
import uuid

import pytest

import snnumba
from snnumba import cli, distributed
from snnumba.sweep_cli import parse_seeds, parse_sets
from snnumba.tasks import sound_localization as sl

TINY = {"epochs": 2, "hidden": 4, "batch_size": 4, "train_batches": 1, "test_batches": 1}
TIMINGS = ("train_seconds", "epoch_seconds_median", "compile_seconds")
# Student t quantile t(0.975, df=2), from a printed table
T975_DF2 = 4.3027


def toy_task(config, seed):
    """Records each call as a file in ``config["calls"]``; ``fail`` raises for that seed,
    ``kill`` kills the worker process the first time it runs that seed."""
    calls = pathlib.Path(config["calls"])
    (calls / f"seed{seed}-scale{config.get('scale', 1)}-{uuid.uuid4().hex}").touch()
    if seed == config.get("fail"):
        raise ValueError(f"seed {seed} is cursed")
    if seed == config.get("kill") and not (calls / "killed").exists():
        (calls / "killed").touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return {"score": seed * config.get("scale", 1) + 0.5, "numba_threads": os.environ.get("NUMBA_NUM_THREADS"),
            "cache_dir": os.environ.get("NUMBA_CACHE_DIR")}


def calls(folder, seed=None, scale=1):
    pattern = f"seed{'*' if seed is None else seed}-scale{scale}-*"
    return len(list(pathlib.Path(folder).glob(pattern)))


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("distributed")
    import dask
    import distributed as dd
    cluster = distributed._local_cluster(dd, dask, workers=2, retries=3)
    with cluster, dd.Client(cluster) as c:
        yield c


# ---- the task and its seeding -------------------------------------------------------------

def test_task_gives_the_commands_numbers(capsys):
    """sl.run must reproduce `snnumba sound-localization`'s seeding (SeedSequence spawn order)."""
    args = ["sound-localization", "--epochs", "2", "--hidden", "4", "--batch-size", "4",
            "--train-batches", "1", "--test-batches", "1", "--seed", "3", "--quiet", "--json"]
    assert cli.main(args) == 0
    command = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = sl.run(TINY, 3)
    compared = [k for k in metrics if k not in TIMINGS]
    assert {k: metrics[k] for k in compared} == {k: command[k] for k in compared}
    # and the seed matters, so the comparison above can fail
    assert sl.run(TINY, 4)["train_error_deg"] != metrics["train_error_deg"]


def test_task_rejects_bad_config():
    with pytest.raises(ValueError, match="'hiden'.*known keys: epochs"):
        sl.run({"hiden": 3}, 0)
    with pytest.raises(ValueError, match="'lr'"):
        sl.run({"lr": -1.0}, 0)
    with pytest.raises(TypeError, match="'dales_law'"):
        sl.run({"dales_law": "yes"}, 0)
    with pytest.raises(ValueError, match="surrogate"):
        sl.run({"surrogate": "relu"}, 0)
    with pytest.raises(ValueError, match="'seed'"):
        sl.run(TINY, -1)


# ---- results files ------------------------------------------------------------------------

ROWS = [{"task": "t", "seed": 0, "config": {"lr": 0.1 + 0.2, "surrogate": "arctan", "dales_law": True, "n": 30},
         "metrics": {"acc": 1 / 3, "stopped": False, "best": None, "device": "cpu"}, "error": None, "seconds": 1.5},
        {"task": "t", "seed": 1, "config": {"lr": 0.5, "surrogate": "1"},
         "metrics": None, "error": "ValueError: bad, \"quoted\"\nline", "seconds": 0.25}]


@pytest.mark.parametrize("name", ["r.csv", "r.jsonl"])
def test_results_round_trip_keeps_types(tmp_path, name):
    path = tmp_path / name
    distributed.write_results(path, ROWS)
    assert distributed.read_results(path) == ROWS


@pytest.mark.parametrize("name", ["r.csv", "r.jsonl"])
def test_failed_write_leaves_previous_file_whole(tmp_path, name, monkeypatch):
    path = tmp_path / name
    distributed.write_results(path, ROWS[:1])
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        distributed.write_results(path, ROWS)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_foreign_results_file_named(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"something": 1}\n')
    with pytest.raises(ValueError, match="r.jsonl is not a results file"):
        distributed.read_results(path)


# ---- summaries ----------------------------------------------------------------------------

def _row(seed, scale, score):
    return {"task": "t", "seed": seed, "config": {"scale": scale}, "metrics": {"score": score, "ok": True},
            "error": None, "seconds": 0.0}


def test_summary_mean_std_and_t_interval():
    rows = [_row(s, 1, s + 0.5) for s in range(3)] + [_row(s, 2, 2 * s + 0.5) for s in range(3)]
    rows.append({**_row(3, 2, 0), "metrics": None, "error": "ValueError: x"})
    summary = distributed.summarize(rows)
    first, second = summary["points"]
    s = first["metrics"]["score"]
    assert (s["n"], s["mean"], s["std"]) == (3, 1.5, 1.0)
    half = T975_DF2 / 3 ** 0.5
    assert s["ci95"] == pytest.approx([1.5 - half, 1.5 + half], abs=1e-4)
    assert "ok" not in first["metrics"]  # booleans are not averaged
    assert second["failed"] == 1 and summary["failed"] == 1
    assert summary["metric"] == "score" and summary["best"]["config"] == {"scale": 2}
    assert distributed.summarize(rows, "score", maximize=False)["best"]["config"] == {"scale": 1}
    one = distributed.summarize([_row(0, 1, 2.0)])["points"][0]["metrics"]["score"]
    assert one["std"] is None and one["ci95"] is None
    with pytest.raises(ValueError, match="unknown metric 'acc'"):
        distributed.summarize(rows, "acc")
    text = distributed.format_summary(summary)
    assert "scale=2: 3 seeds, 1 failed" in text and "best (highest mean score): scale=2" in text


# ---- argument checks ----------------------------------------------------------------------

def test_sweep_arguments_checked_before_any_cluster():
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        distributed.sweep(None, "nope", {}, [0])
    with pytest.raises(ValueError, match="'hiden' for task 'sound-localization'"):
        distributed.sweep(None, "sound-localization", {"hiden": [3]}, [0])
    with pytest.raises(ValueError, match="'seeds' has repeated"):
        distributed.sweep(None, sl.run, {}, [0, 0])
    with pytest.raises(TypeError, match="'seeds'"):
        distributed.sweep(None, sl.run, {}, 3)
    with pytest.raises(ValueError, match=r"grid\['lr'\] has no values"):
        distributed.sweep(None, sl.run, {"lr": []}, [0])


def test_without_dask_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'snnumba\[distributed\]'"):
        snnumba.sweep(None, toy_task, {"calls": [str(tmp_path)]}, [0])
    args = cli.build_parser().parse_args(["sweep", "sound-localization", "--out", str(tmp_path / "r.csv")])
    with pytest.raises(SystemExit, match=r"snnumba\[distributed\]"):
        args.run(args)


def test_plot_without_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    args = cli.build_parser().parse_args(["sweep", "sound-localization", "--out", str(tmp_path / "r.csv"),
                                          "--plot", str(tmp_path / "p.png")])
    with pytest.raises(SystemExit, match=r"snnumba\[plot\]"):
        args.run(args)


def test_parse_seeds():
    assert parse_seeds("0-9") == list(range(10))
    assert parse_seeds("0,3,5") == [0, 3, 5]
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]
    for bad, message in [("a", "'a' is not a seed"), ("3-1", "increasing"), ("-1", "'-1'"), ("0-2,1", "repeats")]:
        with pytest.raises(ValueError, match=message):
            parse_seeds(bad)


def test_parse_sets_types_from_task_defaults():
    grid = parse_sets(["lr=0.002,0.005", "hidden=30,100", "dales_law=true,False", "surrogate=sigmoid,arctan",
                       "tau=1"], sl.RUN_DEFAULTS, "sound-localization")
    assert grid == {"lr": [0.002, 0.005], "hidden": [30, 100], "dales_law": [True, False],
                    "surrogate": ["sigmoid", "arctan"], "tau": [1.0]}
    assert type(grid["hidden"][0]) is int and type(grid["tau"][0]) is float
    for bad, message in [(["hiden=3"], "unknown config key 'hiden'"),
                         (["hidden=3.5"], "hidden: '3.5' is not an integer"),
                         (["dales_law=maybe"], "not true or false"), (["lr"], "expected name=value"),
                         (["lr=1", "lr=2"], "given twice")]:
        with pytest.raises(ValueError, match=message):
            parse_sets(bad, sl.RUN_DEFAULTS, "sound-localization")
    # a task without defaults: types inferred
    assert parse_sets(["a=1,2.5,true,x"]) == {"a": [1, 2.5, True, "x"]}


def test_command_line_parsing(capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["sweep", "sound-localization", "--seeds", "0,3,5", "--set", "lr=0.1",
                              "--workers", "2", "--out", "r.csv"])
    assert args.seeds == [0, 3, 5] and args.sets == ["lr=0.1"] and args.workers == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["sweep", "sound-localization", "--seeds", "2-1", "--out", "r.csv"])
    assert "--seeds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["sweep", "sound-localization", "--workers", "2", "--scheduler", "tcp://h:1", "--out", "r"])
    assert "not allowed with" in capsys.readouterr().err
    for argv, message in [(["--set", "hiden=3"], "unknown config key 'hiden'"), (["--workers", "0"], "--workers"),
                          (["--retries", "-1"], "--retries"), (["--plot", "no/such/p.png"], "does not exist")]:
        args = parser.parse_args(["sweep", "sound-localization", "--out", "r.csv"] + argv)
        with pytest.raises(SystemExit):
            args.check(args)
        assert message in capsys.readouterr().err


# ---- on a cluster -------------------------------------------------------------------------

def test_sweep_equals_serial_runs(client, tmp_path):
    grid, seeds = {"lr": [0.002, 0.02], **{k: [v] for k, v in TINY.items()}}, [0, 1]
    serial = {(lr, s): sl.run({**TINY, "lr": lr}, s) for lr in grid["lr"] for s in seeds}
    rows = snnumba.sweep(client, "sound-localization", grid, seeds, out=tmp_path / "r.csv", progress=False)
    assert [(r["config"]["lr"], r["seed"]) for r in rows] == list(serial)
    for row in rows:
        expected = serial[row["config"]["lr"], row["seed"]]
        assert row["error"] is None
        assert {k: row["metrics"][k] for k in expected if k not in TIMINGS} == \
            {k: v for k, v in expected.items() if k not in TIMINGS}
    stored = distributed.read_results(tmp_path / "r.csv")  # in the order the runs finished
    assert sorted(stored, key=lambda r: (r["config"]["lr"], r["seed"])) == rows


def test_failing_run_recorded_others_finish_and_rerun_retries_only_it(client, tmp_path):
    grid = {"calls": [str(tmp_path)], "fail": [1]}
    out = tmp_path / "r.jsonl"
    rows = distributed.sweep(client, toy_task, grid, [0, 1, 2], out=out, progress=False)
    assert [r["error"] for r in rows] == [None, "ValueError: seed 1 is cursed", None]
    assert [r["metrics"]["score"] for r in rows if r["metrics"]] == [0.5, 2.5]
    rows = distributed.sweep(client, toy_task, grid, [0, 1, 2], out=out, progress=False)
    assert [calls(tmp_path, s) for s in range(3)] == [1, 2, 1]
    assert len(distributed.read_results(out)) == 3 and rows[1]["error"] is not None


def test_interrupted_sweep_completes_only_missing_runs(client, tmp_path, monkeypatch):
    grid, seeds, out = {"calls": [str(tmp_path)]}, list(range(6)), tmp_path / "r.csv"
    write, writes = distributed.write_results, []

    def interrupt_after_two(path, rows):
        if len(writes) == 2:
            raise KeyboardInterrupt
        writes.append(len(rows))
        write(path, rows)
    monkeypatch.setattr(distributed, "write_results", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        distributed.sweep(client, toy_task, grid, seeds, out=out, progress=False)
    monkeypatch.undo()
    done = [r["seed"] for r in distributed.read_results(out)]
    assert len(done) == 2
    rows = distributed.sweep(client, toy_task, grid, seeds, out=out, progress=False)
    assert [r["seed"] for r in rows] == seeds and all(r["metrics"] for r in rows)
    assert [calls(tmp_path, s) for s in done] == [1, 1]  # finished runs are not run again
    stored = distributed.read_results(out)
    assert sorted(r["seed"] for r in stored) == seeds  # every run once


def test_killed_worker_costs_only_its_run(client, tmp_path):
    grid, seeds = {"calls": [str(tmp_path)], "kill": [1]}, [0, 1, 2, 3]
    rows = distributed.sweep(client, toy_task, grid, seeds, out=tmp_path / "r.jsonl", progress=False)
    assert (tmp_path / "killed").exists()
    assert [r["metrics"]["score"] for r in rows] == [0.5, 1.5, 2.5, 3.5]
    assert [calls(tmp_path, s) for s in seeds] == [1, 2, 1, 1]
    assert len(distributed.read_results(tmp_path / "r.jsonl")) == 4


def test_client_none_starts_single_threaded_workers_and_closes_them(tmp_path, monkeypatch):
    dd = pytest.importorskip("distributed")
    started = []

    class Spy(dd.LocalCluster):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)
    monkeypatch.setattr(dd, "LocalCluster", Spy)
    rows = distributed.sweep(None, toy_task, {"calls": [str(tmp_path)]}, [0, 1], workers=1, progress=False)
    assert [r["metrics"]["score"] for r in rows] == [0.5, 1.5]
    assert {r["metrics"]["numba_threads"] for r in rows} == {"1"}
    assert {r["metrics"]["cache_dir"] for r in rows} == {os.environ["NUMBA_CACHE_DIR"]}
    assert len(started) == 1 and started[0].status.name == "closed"


def test_command_summary_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / "r.csv", tmp_path / "p.png"
    argv = ["sweep", f"{__name__}:toy_task", "--seeds", "0-2", "--set", f"calls={tmp_path}",
            "--set", "scale=1,2", "--workers", "1", "--out", str(out), "--json"]
    has_mpl = importlib.util.find_spec("matplotlib") is not None
    argv += ["--plot", str(png)] if has_mpl else []
    args = cli.build_parser().parse_args(argv)
    assert args.run(args) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    first, second = summary["points"]
    assert first["config"]["scale"] == 1 and first["metrics"]["score"]["mean"] == 1.5
    assert first["metrics"]["score"]["std"] == 1.0
    assert summary["best"]["config"]["scale"] == 2 and second["metrics"]["score"]["mean"] == 2.5
    assert "fixed: calls=" in captured.err
    assert "best (highest mean score): scale=2: 2.5 ± 2 over 3 seeds" in captured.err
    assert len(distributed.read_results(out)) == 6
    if has_mpl:
        assert png.read_bytes()[:4] == b"\x89PNG"
