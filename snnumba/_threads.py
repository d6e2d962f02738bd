"""Keep NumPy's OpenBLAS from competing with Numba's threads.

OpenBLAS worker threads spin for a while after each call; Numba's OpenMP threads do the
same after each parallel kernel. On a 2-core machine the two pools then fight over the
cores and a training step gets 3-4x slower (measured: 2.4 s vs 0.6 s per epoch of the
sound-localization task). A network's forward and backward pass therefore run their
small matrix products on one BLAS thread and leave the cores to the Numba kernels.
Other BLAS builds (MKL, Accelerate) are left alone.
"""
import contextlib
import ctypes
import functools
import glob
import os

import numpy as np

_NAMES = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
          ("openblas_set_num_threads", "openblas_get_num_threads"))


@functools.lru_cache(maxsize=None)
def _openblas_controls():
    """(set, get) of the OpenBLAS that NumPy's wheel bundles, or None."""
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*")
    for path in glob.glob(libs):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _NAMES:
            if hasattr(lib, set_name) and hasattr(lib, get_name):
                return getattr(lib, set_name), getattr(lib, get_name)
    return None


@contextlib.contextmanager
def single_threaded_blas():
    """Run the block with NumPy's OpenBLAS on one thread, then restore its setting."""
    controls = _openblas_controls()
    if controls is None:
        yield
        return
    set_threads, get_threads = controls
    before = get_threads()
    set_threads(1)
    try:
        yield
    finally:
        set_threads(before)
