"""The ``snnumba`` command."""
import json
import sys

import pytest

import snnumba as snn
from snnumba import cli

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
