"""The ``snnumba`` command."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import snnumba as snn
from snnumba import cli
from snnumba.tasks import sound_localization as sl

SMALL = ["sound-localization", "--epochs", "2", "--hidden", "8", "--train-batches", "2",
         "--test-batches", "1", "--batch-size", "16", "--quiet"]


def test_no_subcommand_prints_help(capsys):
    assert cli.main([]) == 0
    assert "sound-localization" in capsys.readouterr().out


def test_json_summary_is_last_line(capsys, tmp_path):
    path = tmp_path / "net.npz"
    assert cli.main(SMALL + ["--json", "--save", str(path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    for key in ("test_accuracy", "test_error_deg", "train_accuracy", "epochs", "train_seconds",
                "epoch_seconds_median", "compile_seconds"):
        assert key in summary
    assert 0 <= summary["test_accuracy"] <= 100 and summary["epochs"] == 2
    net = snn.Network.load(path)
    assert net.layers[0].params["weight"].shape == (200, 8)


def test_human_summary(capsys):
    assert cli.main(SMALL + ["--dales-law"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "chance accuracy level: 8.3%" in out


def test_plot_without_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit, match=r"snnumba\[plot\]"):
        cli.main(SMALL + ["--plot", str(tmp_path / "p.png")])


@pytest.mark.parametrize("args,message", [(["--epochs", "0"], "--epochs"), (["--lr", "-1"], "--lr"),
                                          (["--device", "tpu"], "device")])
def test_bad_arguments(args, message, capsys):
    with pytest.raises(SystemExit):
        cli.main(["sound-localization"] + args)
    assert message in capsys.readouterr().err


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "p.png"
    assert cli.main(SMALL + ["--plot", str(path)]) == 0
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_cuda_device_without_gpu_says_so(monkeypatch):
    import snnumba.backend as backend

    def no_gpu(device):
        raise RuntimeError("device='cuda' but no CUDA GPU is available")
    monkeypatch.setattr(backend, "_make", no_gpu)
    with pytest.raises(SystemExit, match="no CUDA GPU"):
        cli.main(SMALL + ["--device", "cuda"])


@pytest.mark.parametrize("args,option", [
    (["--lr", "inf"], "--lr"), (["--lr", "nan"], "--lr"), (["--tau", "inf"], "--tau"),
    (["--seed", "-1"], "--seed"), (["--hidden", "1.5"], "--hidden"), (["--batch-size", "0"], "--batch-size"),
    (["--slope", "-2"], "--slope"), (["--test-batches", "x"], "--test-batches"),
])
def test_bad_numbers_are_usage_errors(args, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(SMALL + args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "Traceback" not in err


@pytest.fixture
def no_training(monkeypatch):
    """Training fails the test: the checks must come first."""
    from snnumba.training import Trainer

    def fail(*args, **kwargs):
        raise AssertionError("training started before the arguments were checked")
    monkeypatch.setattr(Trainer, "fit", fail)


@pytest.mark.parametrize("option", ["--save", "--plot"])
def test_output_folder_is_checked_before_training(option, tmp_path, capsys, no_training):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(SMALL + [option, str(tmp_path / "missing" / "out.npz")])
    assert exit_info.value.code == 2
    assert option in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(SMALL + [option, str(tmp_path)])  # a folder, not a file
    assert "is a folder" in capsys.readouterr().err


DATA = ["--train-batches", "2", "--test-batches", "1", "--batch-size", "16"]


def test_evaluate_reproduces_the_training_runs_numbers(tmp_path, capsys):
    path = str(tmp_path / "net.npz")
    assert cli.main(SMALL + ["--seed", "3", "--json", "--save", path]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert cli.main(["evaluate", path, "--seed", "3", "--json"] + DATA) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("test_accuracy", "test_error_deg", "train_accuracy", "train_error_deg"):
        assert evaluated[key] == trained[key], key
    assert evaluated["hidden"] == 8
    assert cli.main(["evaluate", path, "--seed", "3"] + DATA) == 0
    out = capsys.readouterr().out
    assert f"test accuracy:  {trained['test_accuracy']:.1f}%" in out and "absolute error" in out


def test_evaluate_rejects_networks_that_do_not_fit_the_task(tmp_path, capsys):
    wrong_inputs = tmp_path / "in.npz"
    snn.Network([snn.Dense(10, 4, rng=0), snn.LIF(), snn.Dense(4, 12, rng=0), snn.LeakyReadout()]).save(wrong_inputs)
    wrong_classes = tmp_path / "out.npz"
    snn.Network([snn.Dense(200, 4, rng=0), snn.LIF(), snn.Dense(4, 5, rng=0), snn.LeakyReadout()]).save(wrong_classes)
    not_a_network = tmp_path / "other.npz"
    np.savez(not_a_network, a=np.zeros(3))
    for path, message in [(wrong_inputs, "takes 10 inputs"), (wrong_classes, "5 outputs"),
                          (not_a_network, "not an snnumba network"), (tmp_path / "none.npz", "No such file")]:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["evaluate", str(path)])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert message in err and str(path) in err


def test_load_continues_from_the_saved_weights(tmp_path, capsys):
    first, second = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    assert cli.main(SMALL + ["--save", first]) == 0
    # another seed (another initialisation) and a learning rate too small to move the weights:
    # the result must be the loaded network, not a fresh one
    assert cli.main(SMALL + ["--seed", "5", "--lr", "1e-12", "--load", first, "--save", second, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["loaded_from"] == first and summary["hidden"] == 8
    a, b = snn.Network.load(first).state_dict(), snn.Network.load(second).state_dict()
    fresh = sl.build_network(hidden=8, rng=np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0]))
    for key in a:
        np.testing.assert_allclose(b[key], a[key], atol=1e-6)
        assert not np.allclose(fresh.state_dict()[key], a[key])


def test_load_checks_compatibility(tmp_path, capsys, no_training):
    path = str(tmp_path / "a.npz")
    sl.build_network(hidden=8, rng=0).save(path)
    for extra, message in [(["--hidden", "9"], "--hidden 9 does not match the 8 hidden"),
                           (["--tau", "0.01"], "--tau cannot be combined with --load"),
                           (["--dales-law"], "--dales-law cannot be combined with --load")]:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(SMALL + ["--load", path] + extra)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    snn.Network([snn.Dense(20, 8, rng=0), snn.LIF(), snn.Dense(8, 12, rng=0), snn.LeakyReadout()]).save(path)
    with pytest.raises(SystemExit):
        cli.main(SMALL + ["--load", path])
    assert "takes 20 inputs" in capsys.readouterr().err


def test_slope_option_reaches_the_network(tmp_path):
    path = tmp_path / "net.npz"
    assert cli.main(SMALL + ["--surrogate", "arctan", "--slope", "3", "--save", str(path)]) == 0
    lif = snn.Network.load(path).layers[1]
    assert (lif.surrogate, lif.slope) == ("arctan", 3.0)


def test_kernel_message_says_compiled_then_loaded(tmp_path):
    """A fresh Numba cache: the first run compiles, the second loads what the first cached."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "snnumba.cli", "sound-localization", "--epochs", "1", "--hidden", "4",
           "--train-batches", "1", "--test-batches", "1", "--batch-size", "2", "--quiet"]
    first, second = (subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
                     for _ in range(2))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "compiled kernels in" in first.stdout and "loaded cached" not in first.stdout
    assert "loaded cached kernels in" in second.stdout and "compil" not in second.stdout.split("wall time")[0]
