"""Small files in the SHD/SSC HDF5 layout, written for the tests."""
import numpy as np


def write_shd(path, n_samples=12, n_classes=20, n_units=700, max_time=0.2, seed=0, times_dtype=np.float32,
              spikes_per_sample=(5, 60)):
    """Write ``n_samples`` random samples in the layout of Cramer et al. 2020 (``spikes/times``
    and ``spikes/units`` ragged per sample, ``labels``); returns ``(times, units, labels)``."""
    import h5py
    rng = np.random.default_rng(seed)
    times, units = [], []
    for _ in range(n_samples):
        k = int(rng.integers(*spikes_per_sample))
        times.append(np.sort(rng.uniform(0, max_time, k)).astype(times_dtype))
        units.append(rng.integers(0, n_units, k).astype(np.uint16))
    labels = (np.arange(n_samples) % n_classes).astype(np.uint8)
    with h5py.File(path, "w") as f:
        spikes = f.create_group("spikes")
        spikes.create_dataset("times", data=_ragged(times), dtype=h5py.vlen_dtype(times_dtype))
        spikes.create_dataset("units", data=_ragged(units), dtype=h5py.vlen_dtype(np.uint16))
        f.create_dataset("labels", data=labels)
    return times, units, labels


def _ragged(rows):
    out = np.empty(len(rows), dtype=object)  # element by element: equal lengths must not make a 2-D array
    for i, row in enumerate(rows):
        out[i] = row
    return out
