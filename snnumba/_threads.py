"""The one threading policy: how many threads NumPy's BLAS and Numba's kernels use.

**BLAS.** NumPy's and SciPy's OpenBLAS are kept from competing with Numba's threads.

OpenBLAS worker threads spin for a while after each call; Numba's OpenMP threads do the
same after each parallel kernel. On a 2-core machine the two pools then fight over the
cores and a training step gets 3-4x slower (measured: 2.4 s vs 0.6 s per epoch of the
sound-localization task). A network's forward and backward pass therefore run their
matrix products on one BLAS thread and leave the cores to the Numba kernels; products of
many rows get every core through Numba instead, a BLAS call per chunk of rows
(``kernels/cpu/dense.py``).
Other BLAS builds (MKL, Accelerate) are left alone.

**Busy cores.** Numba's parallel kernels split each loop statically over their threads
and wait for the slowest. When another process holds a core, the thread that shares it
gets half a core and every kernel waits for it: on a 2-core machine one busy process beside
the flagship training made an epoch 2.5x slower, while one thread lost only ~15 %.
:func:`compute_threads` therefore gives Numba only the cores that other processes left
idle, measured from ``/proc/stat`` (machine-wide busy time minus this process's own CPU
time) over the last half second or more; never more than ``numba.get_num_threads()``
(``NUMBA_NUM_THREADS`` or ``numba.set_num_threads``), never fewer than one. Where
``/proc/stat`` does not exist, the thread count is left alone.
"""
import contextlib
import ctypes
import functools
import glob
import os
import threading
import time

import numba
import numpy as np

_NAMES = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
          ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
          ("openblas_set_num_threads", "openblas_get_num_threads"))


@functools.lru_cache(maxsize=None)
def _openblas_controls():
    """(set, get) of each OpenBLAS that the NumPy and SciPy wheels bundle (Numba's ``np.dot``
    inside kernels calls SciPy's), possibly none."""
    import scipy
    controls = []
    for package, folder in ((np, "numpy.libs"), (scipy, "scipy.libs")):
        for path in glob.glob(os.path.join(os.path.dirname(package.__file__), os.pardir, folder, "*openblas*")):
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for set_name, get_name in _NAMES:
                if hasattr(lib, set_name) and hasattr(lib, get_name):
                    controls.append((getattr(lib, set_name), getattr(lib, get_name)))
                    break
    return tuple(controls)


@contextlib.contextmanager
def single_threaded_blas():
    """Run the block with NumPy's and SciPy's OpenBLAS on one thread, then restore them."""
    before = [(set_threads, get_threads()) for set_threads, get_threads in _openblas_controls()]
    for set_threads, _ in before:
        set_threads(1)
    try:
        yield
    finally:
        for set_threads, threads in before:
            set_threads(threads)


#: Seconds between two readings of /proc/stat; shorter windows are noise at 100 ticks/s.
PROBE_INTERVAL = 0.5
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def read_busy_seconds(stat_path="/proc/stat"):
    """CPU seconds all processes have been busy since boot (all cores), or None.

    Busy is everything but ``idle`` and ``iowait``; ``steal`` (taken by the hypervisor)
    counts as busy, since this process cannot use that time either.
    """
    try:
        with open(stat_path) as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user]
    ticks = [int(v) for v in fields[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _CLOCK_TICKS


def threads_for(other_busy_cores, n_cores, max_threads):
    """Numba threads to use when other processes keep ``other_busy_cores`` busy."""
    free = n_cores - max(0.0, other_busy_cores)
    return int(min(max_threads, max(1, round(free))))


class CoreMonitor:
    """Estimates, from time to time, how many cores other processes keep busy."""

    def __init__(self, read_busy=read_busy_seconds, clock=time.monotonic,
                 own_seconds=lambda: sum(os.times()[:2])):
        self._read_busy, self._clock, self._own_seconds = read_busy, clock, own_seconds
        self._lock = threading.Lock()
        self._last = None           # (wall, machine busy seconds, own cpu seconds)
        self.other_busy_cores = 0.0

    def update(self):
        """Refresh the estimate if ``PROBE_INTERVAL`` has passed; return it (or None
        where the machine's busy time cannot be read)."""
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last[0] < PROBE_INTERVAL:
                return self.other_busy_cores
            busy = self._read_busy()
            if busy is None:
                return None
            own = self._own_seconds()
            if self._last is not None:
                wall, busy_before, own_before = self._last
                self.other_busy_cores = max(0.0, ((busy - busy_before) - (own - own_before)) / (now - wall))
            self._last = (now, busy, own)
            return self.other_busy_cores


_monitor = CoreMonitor()
_inside = threading.local()


def _n_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def compute_threads(monitor=None):
    """Run the block with one BLAS thread and as many Numba threads as there are idle
    cores (see the module docstring); nested blocks keep the outer choice."""
    if getattr(_inside, "active", False):
        yield
        return
    monitor = _monitor if monitor is None else monitor
    before = numba.get_num_threads()
    others = monitor.update()
    _inside.active = True
    try:
        if others is not None:
            numba.set_num_threads(threads_for(others, _n_cores(), before))
        with single_threaded_blas():
            yield
    finally:
        numba.set_num_threads(before)
        _inside.active = False
