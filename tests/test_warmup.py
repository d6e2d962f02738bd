"""The cold start on two cores (snnumba/_warmup.py): the helper process compiles the
backward kernels, this process the forward ones, and the step then compiles nothing."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from snnumba import _warmup
from snnumba.tasks import sound_localization as sl

STEP = "snnumba.tasks.sound_localization:training_step"
# a fresh kernel cache: the helper's warm-up, then the step; prints what the step compiled
STEP_AFTER_HELPER = """
import json
from snnumba import _warmup
from snnumba._cli_common import kernel_cache_counts
from snnumba.network import Network
from snnumba.tasks import sound_localization as sl
STEP = "snnumba.tasks.sound_localization:training_step"
net = Network.from_arrays(sl.build_network(hidden=12, rng=0).to_arrays())
with _warmup.backward_kernels_in_helper(net, 0.01, STEP, enabled=True) as helper:
    sl.compile_forward(net)
    finished = _warmup.finish(helper)
before = kernel_cache_counts()
sl.training_step(net, 0.01)
hits, misses = (a - b for a, b in zip(kernel_cache_counts(), before))
print(json.dumps(dict(finished=finished, hits=hits, misses=misses, marker=_warmup.marker_path(net))))
"""


def test_the_step_after_the_helper_loads_what_the_helper_compiled(tmp_path):
    """In an empty cache, the forward pass here and the helper compile every kernel of the
    step between them: the step then loads the helper's kernels (hits) and compiles none
    (misses); the helper leaves its marker."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", STEP_AFTER_HELPER], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["finished"]
    assert result["misses"] == 0 and result["hits"] >= 3   # LIF and readout backward, Adam, ...
    assert os.path.exists(result["marker"])


# the temporal tasks' warm-up in a fresh kernel cache, then an epoch in batches of its size
# and a test set whose last batch is smaller; prints what those compiled
TEMPORAL_RUN = """
import json, os
from snnumba._cli_common import kernel_cache_counts
from snnumba.kernels._cache import kernel_cache_dir
from snnumba.tasks import randman, temporal
data = randman.make_data(0, n_classes=2, n_inputs=8, steps=30, train_per_class=40, test_per_class=40)
net = temporal.build_network(8, 2, hidden=32, rng=0)
temporal.warm_up_step(net, data, 1e-3, 70, helper=True)
before = kernel_cache_counts()
temporal.fit_and_score(net, data, 1e-3, 1, 70, warm_up=False)
hits, misses = (a - b for a, b in zip(kernel_cache_counts(), before))
markers = [name for name in os.listdir(kernel_cache_dir()) if name.startswith("warm-up-helper-")]
print(json.dumps(dict(hits=hits, misses=misses, markers=len(markers))))
"""


def test_the_temporal_warm_up_compiles_what_its_batch_size_runs(tmp_path):
    """``temporal.warm_up_step`` steps one batch of the training batch size, a helper
    compiling its backward half (``temporal.helper_step``): the recurrent layer's batches of 70 (T=30, 32 neurons)
    reach FIXED_OPTIONS_MIN_SIZE, and its two-sample warm-up of earlier releases did not,
    so training then compiled the fixed kernels too. Now training, and a test set whose
    last batch of 10 samples falls below the bound, compile nothing more."""
    from snnumba.kernels.cpu.neuron import FIXED_OPTIONS_MIN_SIZE
    assert 30 * 10 * 32 < FIXED_OPTIONS_MIN_SIZE <= 30 * 70 * 32
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", TEMPORAL_RUN], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["misses"] == 0 and result["hits"] == 0, result  # all in memory already
    assert result["markers"] == 1                                # the helper finished its step


@pytest.fixture
def net(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("numba.core.config.CACHE_DIR", str(tmp_path))
    return sl.build_network(hidden=5, rng=0)


def test_no_helper_where_it_cannot_help(net, monkeypatch):
    """One core, or a marker of this architecture in the cache folder: no helper."""
    monkeypatch.setattr(_warmup, "_cores", lambda: 2)
    assert _warmup.wanted(net)
    monkeypatch.setattr(_warmup, "_cores", lambda: 1)
    assert not _warmup.wanted(net)
    monkeypatch.setattr(_warmup, "_cores", lambda: 2)
    marker = _warmup.marker_path(net)
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    open(marker, "w").close()
    assert not _warmup.wanted(net)
    with _warmup.backward_kernels_in_helper(net, 0.01, STEP) as helper:
        assert helper is None
    # another architecture has a marker of its own
    assert _warmup.marker_path(sl.build_network(hidden=5, tau=2e-3, rng=0)) != marker


def test_the_helper_imports_this_snnumba_not_one_in_its_working_directory(tmp_path):
    """A helper started in a folder that holds another snnumba (README line 1: a checkout
    beside a normal install) imports this process's. With the other copy, Numba cached the
    helper's kernels in folders (keyed on the source's path) that this process never read."""
    decoy = tmp_path / "snnumba"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the copy in the working directory')\n")
    command = _warmup._helper_command("snnumba.no_such_module:step", str(tmp_path / "missing.npz"), 0.01,
                                      str(tmp_path / "marker"))
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "the copy in the working directory" not in run.stderr
    assert "No module named 'snnumba.no_such_module'" in run.stderr   # this snnumba's helper ran the step

def test_a_failing_helper_leaves_the_kernels_to_this_process(net, monkeypatch):
    """A helper that fails writes no marker, and the warm-up still completes here."""
    monkeypatch.setattr(_warmup, "_helper_command", lambda *args: [sys.executable, "-c", "raise SystemExit(3)"])
    with _warmup.backward_kernels_in_helper(net, 0.01, STEP, enabled=True) as helper:
        assert not _warmup.finish(helper)
    assert helper.returncode == 3
    assert not os.path.exists(_warmup.marker_path(net))
    sl.warm_up(net, 0.01, helper=False)


def test_leaving_the_block_early_stops_the_helper(net, monkeypatch):
    """An error in this process (or Ctrl-C) does not leave the helper running."""
    monkeypatch.setattr(_warmup, "_helper_command", lambda *args: [sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(RuntimeError):
        with _warmup.backward_kernels_in_helper(net, 0.01, STEP, enabled=True) as helper:
            raise RuntimeError("this process failed")
    assert helper.poll() is not None


def test_zero_outputs_writes_zeros_into_writable_arrays_only():
    writable = np.ones(3)
    frozen = np.ones(2)
    frozen.flags.writeable = False
    _warmup._zero_outputs(writable, frozen, 4, "x")
    assert not writable.any() and frozen.all()
