"""Trainer: learning, the seed's early-stopping rule, best weights, history."""
import numpy as np
import pytest

import snnumba as snn
from snnumba.tasks import sound_localization as sl
from snnumba.training import should_stop


def seed_rule(val_loss_hist, e):
    """The seed's line: torch.tensor(val_loss_hist[-10:]).argmin() == 0 and e > 10."""
    return int(np.argmin(val_loss_hist[-10:])) == 0 and e > 10


def test_should_stop_is_the_seeds_rule():
    rng = np.random.default_rng(0)
    for _ in range(200):
        hist = list(rng.random(rng.integers(1, 30)))
        e = len(hist) - 1
        assert should_stop(hist, e) == seed_rule(hist, e)
    assert not should_stop([], 20)
    # the boundary, drawn explicitly: the oldest of the last 10 is the lowest, at epoch 10 and 11
    rising = [5.0] + [1.0 + 0.1 * k for k in range(11)]
    assert not should_stop(rising[:11], 10) and not seed_rule(rising[:11], 10)
    assert should_stop(rising, 11) and seed_rule(rising, 11)


def small_task(n, seed):
    cfg = sl.StimulusConfig(anf_per_ear=30, num_classes=4)
    return sl.SoundLocalizationData(n, rng=seed, config=cfg), cfg


def test_trainer_learns_sound_localization_quickly():
    train, cfg = small_task(512, 1)
    val, _ = small_task(256, 2)
    test, _ = small_task(256, 3)
    net = sl.build_network(hidden=20, config=cfg, rng=0)
    trainer = snn.Trainer(net, snn.Adam(net, lr=0.01), progress=False)
    before = sl.evaluate(net, test, 0)["accuracy"]
    history = trainer.fit(train, val, epochs=8, batch_size=32, rng=0)
    after = sl.evaluate(net, test, 0)
    assert history["loss"][-1] < history["loss"][0]
    assert after["accuracy"] > max(0.6, before + 0.2), (before, after["accuracy"])
    assert after["confusion"].sum() == 256
    assert len(history["epoch_seconds"]) == len(history["loss"]) == len(history["val_loss"])


def test_best_weights_are_restored():
    train, cfg = small_task(128, 4)
    val, _ = small_task(64, 5)
    net = sl.build_network(hidden=10, config=cfg, rng=0)
    seen = []
    trainer = snn.Trainer(net, snn.Adam(net, lr=0.05), progress=False,
                          report=lambda epoch, h: seen.append(net.state_dict()))
    history = trainer.fit(train, val, epochs=6, batch_size=32, rng=0, early_stopping=False)
    best = seen[history["best_epoch"]]
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value, best[key])


def test_same_seed_same_result():
    def run():
        train, cfg = small_task(64, 6)
        net = sl.build_network(hidden=8, config=cfg, rng=3)
        snn.Trainer(net, snn.Adam(net, lr=0.01), progress=False).fit(train, None, epochs=2, batch_size=16, rng=9)
        return net.state_dict()
    a, b = run(), run()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_array_data_and_mse_training():
    rng = np.random.default_rng(0)
    x = (rng.random((10, 64, 4)) < 0.3).astype(np.float32)
    y = rng.normal(size=(10, 64, 2)).astype(np.float32) * 0.1
    data = snn.ArrayData(x, np.moveaxis(y, 1, 0))
    net = snn.Network([snn.Dense(4, 2, rng=0), snn.LeakyReadout()])

    def loss(out, target):
        return snn.mse(out, np.moveaxis(target, 0, 1))
    history = snn.Trainer(net, snn.SGD(net, lr=0.5, momentum=0.9), loss=loss, progress=False).fit(
        data, data, epochs=5, batch_size=16, rng=0, early_stopping=False)
    assert history["loss"][-1] < history["loss"][0]


def test_trainer_errors():
    net = sl.build_network(hidden=4, rng=0)
    other = sl.build_network(hidden=4, rng=0)
    with pytest.raises(ValueError, match="optimizer"):
        snn.Trainer(net, snn.Adam(other))
    train, cfg = small_task(8, 0)
    net = sl.build_network(hidden=4, config=cfg, rng=0)
    with pytest.raises(ValueError, match="batch_size"):
        snn.Trainer(net, snn.Adam(net), progress=False).fit(train, epochs=1, batch_size=64)
    with pytest.raises(TypeError, match="epochs"):
        snn.Trainer(net, snn.Adam(net), progress=False).fit(train, epochs=1.5)
    # ArrayData does not check batch_size itself: fit must
    data = snn.ArrayData(np.zeros((5, 8, cfg.n_inputs), np.float32), np.zeros(8, np.int64))
    for kwargs in ({"epochs": 0}, {"batch_size": 0}, {"patience": 0}):
        with pytest.raises(ValueError, match=f"'{next(iter(kwargs))}' of 0 must be >= 1"):
            snn.Trainer(net, snn.Adam(net), progress=False).fit(data, **{"epochs": 1, "batch_size": 4, **kwargs})


def test_checkpoint_resumes_exactly(tmp_path):
    train, cfg = small_task(64, 7)
    val, _ = small_task(32, 8)

    def trainer(seed):
        net = sl.build_network(hidden=8, config=cfg, rng=seed)
        return snn.Trainer(net, snn.Adam(net, lr=0.01), progress=False)
    first = trainer(0)
    rng = np.random.default_rng(5)
    history = first.fit(train, val, epochs=2, batch_size=16, rng=rng, early_stopping=False, restore_best=False)
    first.save_checkpoint(tmp_path / "ck.npz", history, rng)
    first.fit(train, val, epochs=1, batch_size=16, rng=rng, early_stopping=False, restore_best=False)

    resumed = trainer(99)                                   # other initial weights: all must be restored
    saved_history, saved_rng = resumed.load_checkpoint(tmp_path / "ck.npz")
    assert saved_history["loss"] == history["loss"]
    resumed.fit(train, val, epochs=1, batch_size=16, rng=saved_rng, early_stopping=False, restore_best=False)
    for key, value in first.network.state_dict().items():
        np.testing.assert_array_equal(resumed.network.state_dict()[key], value)
    resumed.network.save(tmp_path / "net.npz")              # a network file is not a checkpoint
    with pytest.raises(ValueError, match="not an snnumba checkpoint"):
        resumed.load_checkpoint(tmp_path / "net.npz")


@pytest.mark.parametrize("n,batch_size", [(10, 3), (9, 3), (4, 4), (5, 1)])
def test_array_data_batches(n, batch_size):
    x = np.arange(2 * n, dtype=np.float32).reshape(2, n, 1)
    data = snn.ArrayData(x, np.arange(n))
    for drop_last in (True, False):
        batches = list(data.batches(batch_size, 0, shuffle=True, drop_last=drop_last))
        sizes = [len(y) for _, y in batches]
        full, rest = divmod(n, batch_size)
        assert sizes == [batch_size] * full + ([rest] if rest and not drop_last else [])
        seen = np.concatenate([y for _, y in batches])
        assert len(set(seen.tolist())) == len(seen)          # no sample twice
        if not drop_last:
            assert sorted(seen.tolist()) == list(range(n))
        for xb, yb in batches:                              # inputs travel with their targets
            np.testing.assert_array_equal(xb[0, :, 0], yb)
    ordered = [y.tolist() for _, y in data.batches(batch_size, 0, shuffle=False, drop_last=False)]
    assert sum(ordered, []) == list(range(n))


def test_default_early_stopping_stops_after_patience():
    """Validation loss rises after a few epochs: with the default early stopping the fit ends
    patience epochs after the best one (the seed's rule) instead of running all epochs."""
    from tests.test_guarantees import overshoot_task
    net, train, val, loss = overshoot_task()
    history = snn.Trainer(net, snn.SGD(net, lr=0.02), loss=loss, progress=False).fit(
        train, val, epochs=40, batch_size=8, rng=0, patience=3)
    assert history["stopped_early"]
    assert len(history["val_loss"]) < 40
    assert should_stop(history["val_loss"], len(history["val_loss"]) - 1, 3)


def test_task_evaluation_records_no_traces_and_restores_modes():
    net = sl.build_network(hidden=4, rng=0)
    data = sl.SoundLocalizationData(6, rng=1)
    trained_mode = sl.evaluate(net, data, rng=0, batch_size=3)
    lif = net.layers[1]
    assert lif.training and lif.v is None             # evaluated in eval mode: nothing recorded
    net.layers[2].eval()                               # a mixed state is kept as it was
    again = sl.evaluate(net, data, rng=0, batch_size=3)
    assert [layer.training for layer in net.layers] == [True, True, False, True]
    np.testing.assert_array_equal(again["predicted"], trained_mode["predicted"])
    x, _ = next(data.batches(6, 0, shuffle=False))
    v = net.train().forward(x)                         # the training-mode forward agrees
    np.testing.assert_array_equal(v.sum(axis=0).argmax(axis=1), trained_mode["predicted"])
