"""Examples take their output path and say where they wrote."""
import pathlib
import subprocess
import sys

import pytest

import snnumba as snn

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def test_sound_localization_example_writes_where_it_is_told(tmp_path):
    work, out = tmp_path / "cwd", tmp_path / "results" / "net.npz"
    work.mkdir()
    out.parent.mkdir()
    run = subprocess.run([sys.executable, str(EXAMPLES / "sound_localization.py"), "--epochs", "1",
                          "--out", str(out)], cwd=work, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert f"saved the network to {out}" in run.stdout
    assert list(work.iterdir()) == []                         # nothing dropped in the current folder
    assert snn.Network.load(out).layers[0].params["weight"].shape == (200, 30)


def test_sound_localization_example_checks_the_folder_first(tmp_path):
    run = subprocess.run([sys.executable, str(EXAMPLES / "sound_localization.py"),
                          "--out", str(tmp_path / "missing" / "net.npz")], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and "--out" in run.stderr and "does not exist" in run.stderr


@pytest.mark.skipif(not hasattr(snn.neurons, "RecurrentLIF"), reason="needs snn.RecurrentLIF (issue #9)")
def test_recurrent_randman_example_runs():
    run = subprocess.run([sys.executable, str(EXAMPLES / "recurrent_randman.py"), "--epochs", "1"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "recurrent network, epochs: 1" in run.stdout and "test accuracy" in run.stdout
