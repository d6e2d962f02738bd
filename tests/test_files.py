"""Saved files: permissions, temporary names, and clear errors for corrupt or foreign files
(issue 12, item 4)."""
import json
import os
import re
import stat

import numpy as np
import pytest

import snnumba as snn
from snnumba.classifiers import MaxRateClassifier


def net():
    return snn.Network([snn.Dense(3, 2, rng=0), snn.LIF(), snn.Dense(2, 2, rng=1), snn.LeakyReadout()])


def classifier():
    clf = MaxRateClassifier(3, 2, decay=0.5)
    clf.rates = np.arange(6, dtype=np.float32).reshape(3, 2)
    return clf


def trainer():
    n = net()
    return snn.Trainer(n, snn.Adam(n), progress=False)


def save(kind, path):
    """Write a valid file of ``kind`` to ``path``."""
    if kind == "checkpoint":
        trainer().save_checkpoint(path, {"loss": [1.0]})
    else:
        (net() if kind == "network" else classifier()).save(path)


LOADERS = {"network": snn.Network.load, "classifier": MaxRateClassifier.load,
           "checkpoint": lambda path: trainer().load_checkpoint(path)}


def error_for(path, match=""):
    """A ValueError whose message starts with ``path`` and then matches ``match``."""
    return pytest.raises(ValueError, match="^" + re.escape(str(path)) + ".*" + match)


# --- atomic saves ------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
@pytest.mark.parametrize("kind", ["network", "classifier", "checkpoint"])
def test_saved_file_has_the_permissions_of_np_savez(tmp_path, umask, kind):
    old = os.umask(umask)
    try:
        np.savez(tmp_path / "plain.npz", a=np.zeros(1))
        save(kind, tmp_path / "ours.npz")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "ours.npz").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "plain.npz").st_mode) == 0o666 & ~umask


def test_temporary_is_named_after_its_target(tmp_path, monkeypatch):
    seen = []
    real_savez = np.savez

    def spy(file, **arrays):
        seen.extend(sorted(p.name for p in tmp_path.iterdir()))
        return real_savez(file, **arrays)
    monkeypatch.setattr(np, "savez", spy)
    net().save(tmp_path / "net.npz")
    assert len(seen) == 1 and re.fullmatch(r"net\.npz\.tmp-[0-9a-f]{8}", seen[0]), seen
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]


# --- corrupt and foreign files -------------------------------------------------------------
CORRUPTIONS = {
    "truncated": lambda data: data[: len(data) // 2],
    "flipped bytes": lambda data: data[:200] + bytes(b ^ 0xFF for b in data[200:260]) + data[260:],
    "not a zip file": lambda data: b"hello, I am a text file\n",
    "empty": lambda data: b"",
}


@pytest.mark.parametrize("kind", ["network", "classifier", "checkpoint"])
@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_corrupt_file(tmp_path, kind, how):
    path = tmp_path / "f.npz"
    save(kind, path)
    path.write_bytes(CORRUPTIONS[how](path.read_bytes()))
    with error_for(path):
        LOADERS[kind](path)


@pytest.mark.parametrize("kind", ["network", "classifier", "checkpoint"])
def test_single_array_and_pickled_files(tmp_path, kind):
    np.save(tmp_path / "a.npy", np.zeros(3))
    with error_for(tmp_path / "a.npy", "not an .npz archive"):
        LOADERS[kind](tmp_path / "a.npy")
    np.savez(tmp_path / "o.npz", kind=np.array(kind), rates=np.array([{"x": 1}], dtype=object))
    with error_for(tmp_path / "o.npz"):
        LOADERS[kind](tmp_path / "o.npz")


@pytest.mark.parametrize("saved,loader", [("network", "classifier"), ("checkpoint", "classifier"),
                                          ("classifier", "network"), ("classifier", "checkpoint"),
                                          ("network", "checkpoint")])
def test_file_of_another_kind(tmp_path, saved, loader):
    path = tmp_path / "f.npz"
    save(saved, path)
    with error_for(path, f"is not an snnumba {loader} file \\(it is an snnumba {saved} file\\)"):
        LOADERS[loader](path)


def test_foreign_npz(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    np.savez(tmp_path / "y.npz", kind=np.array("image"))
    for loader in LOADERS.values():
        with error_for(tmp_path / "x.npz", r"not an snnumba \w+ file \(no 'kind' entry\)"):
            loader(tmp_path / "x.npz")
        with error_for(tmp_path / "y.npz", r"not an snnumba \w+ file \(its 'kind' is 'image'\)"):
            loader(tmp_path / "y.npz")


def test_network_loads_from_a_checkpoint(tmp_path):
    t = trainer()
    t.save_checkpoint(tmp_path / "ck.npz")
    x = np.ones((4, 2, 3))
    np.testing.assert_array_equal(snn.Network.load(tmp_path / "ck.npz").forward(x), t.network.forward(x))


def rewrite(path, **changes):
    with np.load(path) as data:
        arrays = dict(data)
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def meta(**changes):
    m = json.loads(str(net().to_arrays()["meta"]))
    m.update(changes)
    return np.array(json.dumps(m))


@pytest.mark.parametrize("kind", ["network", "checkpoint"])
@pytest.mark.parametrize("bad_meta,match", [
    (np.array("{not json"), "entry 'meta' is not valid metadata"),
    (np.array("[1, 2]"), "expected a JSON object"),
    (np.zeros(3), "entry 'meta' is not valid metadata"),
    (meta(layers=None), "no valid 'layers' list"),
    (meta(layers=[{"type": "Dense"}]), "no valid 'layers' list"),
    (meta(layers=[{"type": "Conv", "config": {}}]), "unknown layer type 'Conv'"),
    (meta(layers=[{"type": "Dense", "config": {"n_in": -1, "n_out": 2}}]), r"layer 0 \(Dense\): 'n_in'"),
    (meta(layers=[{"type": "Dense", "config": {"units": 3}}]), r"layer 0 \(Dense\)"),
    (meta(dtype="int8"), "'dtype'"),
    (meta(dtype=None), "no 'dtype'"),
    (meta(format_version=99), "format version 99"),
])
def test_bad_network_metadata(tmp_path, kind, bad_meta, match):
    path = tmp_path / "f.npz"
    save(kind, path)
    rewrite(path, meta=bad_meta)
    with error_for(path, match):
        LOADERS[kind](path)


@pytest.mark.parametrize("changes,match", [
    ({"param:2.weight": None}, "state has no entry '2.weight'"),
    ({"param:2.weight": np.zeros((3, 2), np.float32)}, r"'2.weight': shape \(3, 2\)"),
    ({"meta": meta(layers=[{"type": "Dense", "config": {"n_in": 3, "n_out": 2}},
                           {"type": "Dense", "config": {"n_in": 5, "n_out": 2}}])},
     r"layer 1 \(Dense\) takes 5 inputs"),
])
def test_network_file_with_missing_or_mismatched_parameters(tmp_path, changes, match):
    path = tmp_path / "f.npz"
    save("network", path)
    rewrite(path, **changes)
    with error_for(path, match):
        snn.Network.load(path)


@pytest.mark.parametrize("changes,match", [
    ({"checkpoint": np.array("{oops")}, "entry 'checkpoint' is not valid metadata"),
    ({"checkpoint": np.array(json.dumps({"history": None, "rng": {"bit_generator": "nope"}}))}, ""),
    ({"optim:step_count": None}, "step_count"),
])
def test_bad_checkpoint_entries(tmp_path, changes, match):
    path = tmp_path / "ck.npz"
    save("checkpoint", path)
    rewrite(path, **changes)
    with error_for(path, match):
        LOADERS["checkpoint"](path)


def test_bad_checkpoint_leaves_the_trainers_network_as_it_was(tmp_path):
    path = tmp_path / "ck.npz"
    saver = trainer()
    for _, p, _ in saver.network.named_parameters():
        p += 1.0                                   # saved weights differ from a fresh net's
    saver.save_checkpoint(path)
    rewrite(path, **{"optim:step_count": None})   # the optimizer's part is broken
    loader = trainer()
    kept = [p.copy() for _, p, _ in loader.network.named_parameters()]
    with error_for(path, "step_count"):
        loader.load_checkpoint(path)
    for (_, p, _), k in zip(loader.network.named_parameters(), kept):
        np.testing.assert_array_equal(p, k)


@pytest.mark.parametrize("changes,match", [
    ({"decay": None}, "has no 'decay' entry"), ({"decay": np.array(-1.0)}, "'decay'"),
    ({"rates": np.zeros(3, np.float32)}, r"shapes \(3,\)"), ({"decay": np.zeros(2)}, r"shapes .* and \(2,\)"),
])
def test_bad_classifier_entries(tmp_path, changes, match):
    path = tmp_path / "c.npz"
    save("classifier", path)
    rewrite(path, **changes)
    with error_for(path, match):
        MaxRateClassifier.load(path)


def test_missing_file_is_an_os_error(tmp_path):
    for loader in LOADERS.values():
        with pytest.raises(FileNotFoundError):
            loader(tmp_path / "absent.npz")


# --- files written before the 'kind' marker still load -------------------------------------
@pytest.mark.parametrize("kind", ["network", "classifier", "checkpoint"])
def test_files_without_kind_marker_load(tmp_path, kind):
    path = tmp_path / "old.npz"
    save(kind, path)
    rewrite(path, kind=None)
    with np.load(path) as data:
        assert "kind" not in data.files
    if kind == "network":
        x = np.ones((4, 2, 3))
        np.testing.assert_array_equal(snn.Network.load(path).forward(x), net().forward(x))
    elif kind == "classifier":
        loaded = MaxRateClassifier.load(path)
        np.testing.assert_array_equal(loaded.rates, classifier().rates)
        assert loaded.decay == 0.5
    else:
        assert trainer().load_checkpoint(path)[0] == {"loss": [1.0]}
