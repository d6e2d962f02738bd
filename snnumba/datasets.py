"""Spike data sets read from files: the Spiking Heidelberg Digits (SHD) and Spiking Speech
Commands (SSC) of Cramer et al. 2020.

Both are HDF5 files (read through ``h5py``: ``pip install 'snnumba[data]'``) with

- ``spikes/times``: per sample, a 1-D array of spike times in seconds (ragged);
- ``spikes/units``: per sample, the input channel of each of those spikes (0 to 699);
- ``labels``: one class per sample (SHD 20 classes, SSC 35).

:class:`SpikeDataset` bins them to ``uint8`` spikes ``[T, B, n_units]`` with
``T = round(max_time / dt)``: a spike at time ``t`` lands in step ``floor(t / dt)``;
spikes at ``t >= max_time`` (or ``t < 0``) are dropped, and two or more spikes of one
channel in one step count as one (the count is clipped to 1, so a step holds 0 or 1).
Batches are read and binned one at a time, so the whole file is never made dense.

The files are not shipped and nothing is downloaded at run time: get them from
https://zenkelab.org/datasets (also mirrored at https://compneuro.net).
"""
import os

import numpy as np

from ._validation import check_int, check_positive

#: Where the data sets are published (for the error a missing file raises).
WHERE = ("the SHD and SSC data sets (Cramer et al. 2020) are published at "
         "https://zenkelab.org/datasets and https://compneuro.net; download and unpack them (e.g. "
         "shd_train.h5, shd_test.h5) yourself: snnumba downloads nothing at run time")
#: Classes of each data set.
NUM_CLASSES = {"shd": 20, "ssc": 35}
#: Input channels of both data sets.
N_UNITS = 700


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading SHD/SSC files needs h5py: pip install 'snnumba[data]'") from None
    return h5py


def dataset_path(folder, name, split):
    """The file of one split, ``<folder>/<name>_<split>.h5`` (``name`` 'shd' or 'ssc',
    ``split`` 'train', 'test' or, for SSC, 'valid'); FileNotFoundError saying where the
    data sets are published if it is not there."""
    path = os.path.join(os.fspath(folder), f"{name}_{split}.h5")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file; {WHERE}")
    return path


class SpikeDataset:
    """One SHD/SSC file, binned to ``uint8`` spikes batch by batch.

    Parameters
    ----------
    path : str or path-like
        An HDF5 file in the SHD layout (module docstring).
    dt : float
        Bin width in seconds (default 1 ms).
    max_time : float
        Spikes at or after this time (seconds) are dropped (default 1 s; SHD's longest
        samples last about 1.4 s).
    n_units : int
        Input channels (700 for SHD and SSC); a unit outside ``[0, n_units)`` is an error.
    indices : array of int, optional
        Use only these samples (e.g. to hold out a validation part); default all.

    Attributes
    ----------
    labels : int64 array [n_samples]
        The labels of the samples used, read once.
    steps : int
        ``T``, the number of time bins.
    """

    def __init__(self, path, dt=1e-3, max_time=1.0, n_units=N_UNITS, indices=None):
        h5py = _h5py()
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"{self.path}: no such file; {WHERE}")
        self.dt = check_positive("dt", dt)
        self.max_time = check_positive("max_time", max_time)
        self.n_units = check_int("n_units", n_units, 1)
        self.steps = int(round(self.max_time / self.dt))
        if self.steps < 1:
            raise ValueError(f"'max_time' {max_time} is shorter than one step of 'dt' {dt}")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise ValueError(f"{self.path}: not an HDF5 file ({exc})") from None
        try:
            self._times, self._units, labels = self._layout()
        except ValueError:
            self._file.close()
            raise
        if indices is None:
            indices = np.arange(labels.shape[0])
        indices = np.asarray(indices)
        if indices.ndim != 1 or indices.dtype.kind not in "iu" or (
                indices.size and (indices.min() < 0 or indices.max() >= labels.shape[0])):
            self._file.close()
            raise ValueError(f"'indices' must be a 1-D integer array within [0, {labels.shape[0]})")
        self.indices = indices.astype(np.int64)
        self.labels = labels[self.indices]

    def _layout(self):
        """``spikes/times``, ``spikes/units`` and the labels, or a ValueError naming the file
        and what is missing."""
        f = self._file
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in f:
                raise ValueError(f"{self.path}: not in the SHD/SSC layout: no '{key}' (expected "
                                 "'spikes/times', 'spikes/units' and 'labels')")
        times, units = f["spikes/times"], f["spikes/units"]
        labels = np.asarray(f["labels"][()])
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(f"{self.path}: 'labels' must be a 1-D integer array, got "
                             f"shape {labels.shape} dtype {labels.dtype}")
        if times.shape != labels.shape or units.shape != labels.shape:
            raise ValueError(f"{self.path}: 'spikes/times' ({times.shape[0] if times.shape else 0}), "
                             f"'spikes/units' ({units.shape[0] if units.shape else 0}) and 'labels' "
                             f"({labels.shape[0]}) must have one entry per sample")
        if labels.size and labels.min() < 0:
            raise ValueError(f"{self.path}: 'labels' must be non-negative")
        return times, units, labels.astype(np.int64)

    def __len__(self):
        return self.indices.shape[0]

    def close(self):
        """Close the file (batches cannot be read afterwards)."""
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def subset(self, positions):
        """A dataset on the same file with the samples at ``positions`` of this one."""
        return SpikeDataset(self.path, self.dt, self.max_time, self.n_units, self.indices[positions])

    def spikes(self, positions):
        """Binned spikes ``uint8 [T, len(positions), n_units]`` of the samples at
        ``positions`` (indices into this dataset)."""
        rows = self.indices[np.asarray(positions, dtype=np.int64)]
        out = np.zeros((self.steps, rows.size, self.n_units), np.uint8)
        for b, row in enumerate(rows):
            times = np.asarray(self._times[row], dtype=np.float64)
            units = np.asarray(self._units[row])
            if times.shape != units.shape:
                raise ValueError(f"{self.path}: sample {row} has {times.size} spike times but "
                                 f"{units.size} units")
            if units.size and (units.dtype.kind not in "iu" or units.min() < 0 or units.max() >= self.n_units):
                raise ValueError(f"{self.path}: sample {row} has units outside [0, {self.n_units})")
            if not np.isfinite(times).all():
                raise ValueError(f"{self.path}: sample {row} has NaN or infinite spike times")
            step = np.floor(times / self.dt)
            keep = (step >= 0) & (step < self.steps)
            out[step[keep].astype(np.int64), b, units[keep].astype(np.int64)] = 1  # counts clip to 1
        return out

    def batches(self, batch_size, rng, shuffle=True, drop_last=True):
        """Yield ``(spikes uint8 [T, B, n_units], labels [B])``, one batch read at a time;
        the order is a permutation drawn from ``rng`` when ``shuffle``, and with
        ``drop_last`` no final partial batch is served."""
        batch_size = check_int("batch_size", batch_size, 1)
        n = len(self)
        order = np.random.default_rng(rng).permutation(n) if shuffle else np.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            yield self.spikes(idx), self.labels[idx]
