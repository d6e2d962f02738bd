"""Test configuration: the CUDA simulator and the Numba cache are set up before Numba loads."""
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
if "numba" in sys.modules and "NUMBA_ENABLE_CUDASIM" not in os.environ:
    raise RuntimeError("numba was imported before tests/conftest.py could enable the CUDA "
                       "simulator; set NUMBA_ENABLE_CUDASIM explicitly")
# A machine without a GPU runs the CUDA twins in Numba's simulator; on a GPU machine run
# the suite with NUMBA_ENABLE_CUDASIM=0 to test the real kernels.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

from hypothesis import HealthCheck, settings  # noqa: E402

# deadline=None: the first example of a kernel pays its compilation. The default profile is
# derandomized, so a CI run is reproducible; HYPOTHESIS_PROFILE=explore draws fresh examples.
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("quick", max_examples=5, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
