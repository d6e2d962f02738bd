"""Parallel kernels with serial twins for small calls (kernels/cpu/_compile.py)."""
import os
import subprocess
import sys

import numpy as np
from hypothesis import given, strategies as st

from snnumba.kernels.cpu import _compile, lif


@given(st.tuples(st.integers(1, 9), st.integers(1, 4), st.integers(1, 300)), st.sampled_from([64, 256]),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
def test_readout_backward_twins_give_the_same_bits(shape, size, dtype, seed):
    """Blocks of ``size`` neurons (one to several per row): the serial twin runs the same
    work items one after another."""
    rng = np.random.default_rng(seed)
    grad_v = rng.normal(size=shape).astype(dtype)
    alpha = dtype(rng.uniform(0, 1))
    out = {}
    for name in ("parallel", "serial"):
        out[name] = np.full(shape, np.nan, dtype)
        getattr(lif._readout_backward, name)(alpha, grad_v, out[name], size)
    np.testing.assert_array_equal(out["serial"], out["parallel"])
    expected, g = np.empty(shape), np.zeros(shape[1:])   # gh[t] = gv[t+1]; gv[t] = grad_v[t] + a gv[t+1]
    for t in range(shape[0] - 1, -1, -1):
        expected[t] = g
        g = grad_v[t] + alpha * g
    np.testing.assert_allclose(out["serial"], expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_calls_below_the_size_bound_run_the_serial_twin(monkeypatch):
    twin = lif._readout_backward
    calls = []
    monkeypatch.setattr(twin, "serial", lambda *args: calls.append("serial"))
    monkeypatch.setattr(twin, "parallel", lambda *args: calls.append("parallel"))
    n = _compile.SERIAL_MAX_ELEMENTS
    small, large = np.zeros((1, 1, n - 1)), np.zeros((1, 1, n))
    twin(0.5, small, small, 64)
    twin(0.5, small, large, 64)     # one large array is enough
    twin(0.5, large, large, 64)
    assert calls == ["serial", "parallel", "parallel"]


# each twin run once in a fresh process, with the per-kernel cache statistics printed
RUN_TWINS = """
import numpy as np
from snnumba._cli_common import kernel_cache_counts
from snnumba.kernels.cpu import lif
grad_v = np.arange(60.0).reshape(3, 4, 5)
for name in ("serial", "parallel"):
    kernel = getattr(lif._readout_backward, name)
    grad_h = np.empty_like(grad_v)
    kernel(0.5, grad_v, grad_h, 64)
    print(name, sum(kernel.stats.cache_hits.values()), sum(kernel.stats.cache_misses.values()), grad_h.sum())
print("all", *kernel_cache_counts())
"""


def _cache_stats(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", RUN_TWINS], env=env, capture_output=True, text=True, check=True)
    # name, hits, misses[, sum of the output]
    return {name: (int(hits), int(misses), *map(float, rest))
            for name, hits, misses, *rest in (line.split() for line in out.stdout.splitlines())}


def test_twins_cache_apart(tmp_path):
    """Numba's cache does not tell compile options apart: compiled under one name, the
    parallel kernel would load the serial twin's entry. Each compiles on a cold cache, and
    each loads its own entry later; the command's cache count sees both."""
    cold = _cache_stats(tmp_path)
    assert {name: stats[:2] for name, stats in cold.items()} == {"serial": (0, 1), "parallel": (0, 1), "all": (0, 2)}
    warm = _cache_stats(tmp_path)
    assert {name: stats[:2] for name, stats in warm.items()} == {"serial": (1, 0), "parallel": (1, 0), "all": (2, 0)}
    assert warm["serial"][2] == warm["parallel"][2] == cold["serial"][2]
