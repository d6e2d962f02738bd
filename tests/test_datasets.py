"""SHD/SSC loader (snnumba.datasets) on small files written in the data sets' layout."""
import numpy as np
import pytest

pytest.importorskip("h5py")

from snnumba import datasets  # noqa: E402
from tests.shd_files import write_shd  # noqa: E402


def reference_bins(times, units, dt, max_time, n_units):
    """Plain loops: step floor(t / dt), dropped at or after max_time, counts clipped to 1."""
    T = int(round(max_time / dt))
    out = np.zeros((T, len(times), n_units), np.uint8)
    for b, (ts, us) in enumerate(zip(times, units)):
        for t, u in zip(ts, us):
            step = int(np.floor(float(t) / dt))
            if 0 <= step < T:
                out[step, b, int(u)] = 1
    return out


@pytest.mark.parametrize("dt,max_time,times_dtype", [(1e-3, 0.2, np.float32), (4e-3, 0.1, np.float32),
                                                     (2e-3, 0.15, np.float16)])
def test_binning_matches_plain_loops(tmp_path, dt, max_time, times_dtype):
    path = tmp_path / "shd_train.h5"
    times, units, labels = write_shd(path, n_samples=9, max_time=0.2, times_dtype=times_dtype)
    with datasets.SpikeDataset(path, dt=dt, max_time=max_time) as ds:
        assert len(ds) == 9 and ds.steps == int(round(max_time / dt))
        got = ds.spikes(np.arange(9))
        assert got.dtype == np.uint8 and got.shape == (ds.steps, 9, 700)
        np.testing.assert_array_equal(got, reference_bins(times, units, dt, max_time, 700))
        np.testing.assert_array_equal(ds.labels, labels)


def test_two_spikes_in_one_bin_count_once_and_late_spikes_drop(tmp_path):
    import h5py
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes/times", data=_obj([np.array([0.0101, 0.0109, 0.5, 0.0999], np.float32)]),
                         dtype=h5py.vlen_dtype(np.float32))
        f.create_dataset("spikes/units", data=_obj([np.array([3, 3, 4, 5], np.uint16)]),
                         dtype=h5py.vlen_dtype(np.uint16))
        f.create_dataset("labels", data=np.array([1], np.uint8))
    with datasets.SpikeDataset(path, dt=1e-3, max_time=0.1) as ds:
        x = ds.spikes([0])
    assert x[10, 0, 3] == 1                  # two spikes in step 10: clipped to one
    assert x[99, 0, 5] == 1                  # the last step
    assert x.sum() == 2                      # 0.5 s >= max_time: dropped


def test_batches_shuffle_with_seed_cover_every_sample(tmp_path):
    path = tmp_path / "shd_train.h5"
    times, units, labels = write_shd(path, n_samples=10)
    ds = datasets.SpikeDataset(path, max_time=0.2)
    ref = reference_bins(times, units, 1e-3, 0.2, 700)
    seen = []
    for x, y in ds.batches(3, np.random.default_rng(5)):
        seen.append(y)
        assert x.shape == (200, 3, 700)
    order = np.random.default_rng(5).permutation(10)
    np.testing.assert_array_equal(np.concatenate(seen), labels[order[:9]])  # drop_last: 3 batches of 3
    x, y = next(ds.batches(10, 5))
    np.testing.assert_array_equal(x, ref[:, order])
    first = [y for _, y in ds.batches(4, 1, drop_last=False)]
    assert sum(len(y) for y in first) == 10
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate([y for _, y in ds.batches(4, 1, drop_last=False)]))
    ds.close()


def test_subset_reads_only_its_samples(tmp_path):
    path = tmp_path / "shd_train.h5"
    times, units, labels = write_shd(path, n_samples=8)
    ds = datasets.SpikeDataset(path, max_time=0.2)
    sub = ds.subset([6, 1])
    np.testing.assert_array_equal(sub.labels, labels[[6, 1]])
    np.testing.assert_array_equal(sub.spikes([0, 1]), reference_bins(times, units, 1e-3, 0.2, 700)[:, [6, 1]])


def test_missing_file_says_where_the_data_are_published(tmp_path):
    with pytest.raises(FileNotFoundError, match="zenkelab.org/datasets") as info:
        datasets.SpikeDataset(tmp_path / "shd_train.h5")
    assert "compneuro.net" in str(info.value) and "downloads nothing" in str(info.value)
    with pytest.raises(FileNotFoundError, match="shd_test.h5"):
        datasets.dataset_path(tmp_path, "shd", "test")


def test_missing_h5py_says_how_to_install(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"snnumba\[data\]"):
        datasets.SpikeDataset(tmp_path / "x.h5")


def test_wrong_layout_names_the_file_and_the_key(tmp_path):
    import h5py
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match=r"bad\.h5.*'spikes/times'"):
        datasets.SpikeDataset(path)
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        datasets.SpikeDataset(text)


def test_bad_units_and_arguments(tmp_path):
    path = tmp_path / "shd.h5"
    write_shd(path, n_samples=3, n_units=700)
    with pytest.raises(ValueError, match=r"units outside \[0, 10\)"):
        datasets.SpikeDataset(path, n_units=10).spikes([0])
    with pytest.raises(ValueError, match="'dt'"):
        datasets.SpikeDataset(path, dt=0)
    with pytest.raises(ValueError, match="'indices'"):
        datasets.SpikeDataset(path, indices=[5])
    with pytest.raises(ValueError, match="'max_time'"):
        datasets.SpikeDataset(path, dt=1.0, max_time=0.1)


def _obj(rows):
    out = np.empty(len(rows), dtype=object)
    for i, r in enumerate(rows):
        out[i] = r
    return out
