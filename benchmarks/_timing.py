"""Timing helper shared by the benchmark scripts."""
import time

import numpy as np


def median_time(fn, repeats):
    """Median wall time of ``repeats`` calls of ``fn`` (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def median_time_and_load(fn, repeats):
    """``(median, load)``: the median wall time of ``repeats`` calls of ``fn`` (seconds) and
    the cores other processes kept busy meanwhile (from ``/proc/stat``; None without it).

    The load window is stretched to ``_threads.PROBE_INTERVAL`` by sleeping: /proc/stat
    counts in 10 ms ticks, so a few milliseconds would read as noise.
    """
    import os
    from bench_busy_core import other_load
    from snnumba import _threads
    readings = (_threads.read_busy_seconds(), sum(os.times()[:2]), time.monotonic())
    median = median_time(fn, repeats)
    if readings[0] is None:
        return median, None
    time.sleep(max(0.0, _threads.PROBE_INTERVAL - (time.monotonic() - readings[2])))
    return median, max(0.0, other_load(*readings))
