"""Network.save under a crash: a process killed (SIGKILL) while it overwrites a saved
network leaves the previous file whole, or the new one whole, never a torn one."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import snnumba as snn

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

#: The writer saves network A once, says so, then overwrites the file with B and A in turn.
WRITER = """
import sys
import numpy as np
import snnumba as snn

def network(seed):
    return snn.Network([snn.Dense(1200, 800, bias=True, rng=seed), snn.LIF()], dtype=np.float64)

path = sys.argv[1]
a, b = network(1), network(2)
a.save(path)
print("ready", flush=True)
while True:
    b.save(path)
    a.save(path)
"""


def network(seed):
    return snn.Network([snn.Dense(1200, 800, bias=True, rng=seed), snn.LIF()], dtype=np.float64)


def test_sigkill_during_save_keeps_a_whole_file(tmp_path):
    path = tmp_path / "net.npz"
    saved = [network(seed).state_dict() for seed in (1, 2)]      # what the writer saves (A, B)
    rng = np.random.default_rng(0)
    # the writer imports the snnumba under test, not whichever one is installed
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(snn.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    for attempt in range(3):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                                  env=env, cwd=tmp_path)
        try:
            assert writer.stdout.readline().strip() == b"ready"
            full = path.stat().st_size
            # kill at a random point, or as soon as the file is seen shorter than a whole
            # network (a save that writes in place is caught in the act)
            deadline = time.monotonic() + rng.uniform(0.05, 0.4)
            while time.monotonic() < deadline and path.exists() and path.stat().st_size >= full:
                pass
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
        loaded = snn.Network.load(path).state_dict()             # a torn zip fails here ...
        matches = [all(np.array_equal(loaded[k], state[k]) for k in state) for state in saved]
        assert any(matches), f"attempt {attempt}: the file holds neither network"   # ... or here
