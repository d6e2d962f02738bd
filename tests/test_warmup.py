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
