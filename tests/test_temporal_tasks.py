"""The temporal tasks (tasks.temporal, tasks.shd, tasks.randman) and their commands
``snnumba shd`` and ``snnumba randman``."""
import json

import numpy as np
import pytest

import snnumba as snn
from snnumba import cli
from snnumba.tasks import randman, shd, temporal

#: the neuron family of issue #9 (RecurrentLIF, current-based LIF options)
needs_family = pytest.mark.skipif(not hasattr(snn.neurons, "RecurrentLIF"),
                                  reason="needs snn.RecurrentLIF and the LIF options of issue #9")

SMALL_RANDMAN = ["randman", "--classes", "3", "--inputs", "8", "--steps", "30", "--train-per-class", "8",
                 "--test-per-class", "4", "--batch-size", "6", "--hidden", "12", "--epochs", "2", "--quiet",
                 "--sequence", "1", "--gap", "0"]


@pytest.fixture
def shd_folder(tmp_path):
    pytest.importorskip("h5py")
    from tests.shd_files import write_shd
    write_shd(tmp_path / "shd_train.h5", n_samples=24, max_time=0.3, seed=0)
    write_shd(tmp_path / "shd_test.h5", n_samples=10, max_time=0.3, seed=1)
    return tmp_path


def small_shd(folder):
    return ["shd", "--data", str(folder), "--max-time", "0.3", "--dt", "0.01", "--batch-size", "4", "--val-fraction", "0.25",
            "--hidden", "10", "--epochs", "2", "--quiet"]


# --- evaluation by the readout's peak ---------------------------------------------------------
def test_evaluate_classifies_by_the_peak_not_the_sum():
    """Readout 0 peaks higher, readout 1 integrates more: the peak decides."""
    h = np.zeros((20, 1, 2), np.float32)
    h[0, 0, 0] = 5.0                 # one large kick: peak 5, decays
    h[:, 0, 1] = 0.5                 # steady drive: peaks near 0.5 / (1 - alpha) < 5, larger sum
    net = snn.Network([snn.LeakyReadout(tau=2e-3)])
    v = net.forward(h)
    assert v.sum(axis=0).argmax() == 1 and v.max(axis=0).argmax() == 0
    data = snn.ArrayData(h, np.array([0]))
    result = temporal.evaluate(net, data, 1, 2)
    assert result["accuracy"] == 1.0 and result["confusion"][0, 0] == 1
    assert net.layers[0].training    # the mode is restored


# --- the SHD task's data ---------------------------------------------------------------------------
def test_shd_make_data_holds_out_a_validation_part(shd_folder):
    data = shd.make_data(shd_folder, "shd", dt=0.01, max_time=0.3, val_fraction=0.25, seed=3)
    assert len(data.val) == 6 and len(data.train) == 18 and len(data.test) == 10
    assert not set(data.train.indices) & set(data.val.indices)
    again = shd.make_data(shd_folder, "shd", dt=0.01, max_time=0.3, val_fraction=0.25, seed=3)
    np.testing.assert_array_equal(data.val.indices, again.val.indices)
    assert data.num_classes == 20 and data.n_inputs == 700
    x, y = next(data.train.batches(4, 0))
    assert x.shape == (30, 4, 700) and x.dtype == np.uint8


def test_shd_missing_file_is_a_usage_error_saying_where_to_get_it(tmp_path, capsys):
    pytest.importorskip("h5py")
    with pytest.raises(SystemExit) as info:
        cli.main(["shd", "--data", str(tmp_path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "shd_train.h5" in err and "zenkelab.org/datasets" in err and "downloads nothing" in err


def test_shd_without_h5py_says_how_to_install(shd_folder, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(SystemExit, match=r"snnumba\[data\]"):
        cli.main(small_shd(shd_folder))


def test_shd_task_needs_its_data_folder():
    with pytest.raises(ValueError, match="config\\['data'\\]"):
        shd.run({"epochs": 1})
    with pytest.raises(ValueError, match="unknown config key 'bogus'"):
        shd.run({"bogus": 1})


@pytest.mark.parametrize("args,option", [(["--epochs", "0"], "--epochs"), (["--lr", "nan"], "--lr"),
                                         (["--tau-syn", "-1"], "--tau-syn"), (["--val-fraction", "1"], "--val-fraction"),
                                         (["--batch-size", "100"], "--batch-size"), (["--dataset", "mnist"], "--dataset"),
                                         (["--val-fraction", "0.1"], "validation samples")])
def test_shd_bad_arguments_are_usage_errors(shd_folder, args, option, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(small_shd(shd_folder) + args)
    assert info.value.code == 2 and option in capsys.readouterr().err


@pytest.mark.parametrize("args,option", [(["--classes", "1"], "--classes"), (["--batch-size", "100"], "--batch-size"),
                                         (["--steps", "0"], "--steps"), (["--recurrent", "--feedforward"], "--feedforward"),
                                         (["--sequence", "0"], "--sequence"), (["--gap", "-1"], "--gap"),
                                         (["--adapt", "0"], "--adapt"),
                                         # 3**2 classes x 4 validation samples = 36 < 40
                                         (["--sequence", "2", "--batch-size", "40"], "--batch-size")])
def test_randman_bad_arguments_are_usage_errors(args, option, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(SMALL_RANDMAN + args)
    assert info.value.code == 2 and option in capsys.readouterr().err


def test_randman_run_rejects_bad_config():
    with pytest.raises(TypeError, match="'recurrent'"):
        randman.run({"recurrent": "yes"})
    with pytest.raises(ValueError, match="'tau_syn'"):
        randman.run({"tau_syn": 0.0})
    assert randman.run.defaults is randman.RUN_DEFAULTS


def test_output_folder_is_checked_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(SMALL_RANDMAN + ["--save", str(tmp_path / "missing" / "net.npz")])
    assert "does not exist" in capsys.readouterr().err


def test_randman_data_are_split_and_seeded():
    def make(seed):
        return randman.make_data(seed, n_classes=3, n_inputs=5, steps=20, train_per_class=10, test_per_class=4)
    data = make(4)
    assert (len(data.train), len(data.val), len(data.test)) == (30, 12, 12)
    np.testing.assert_array_equal(data.test.x, make(4).test.x)
    assert not np.array_equal(data.test.x, make(5).test.x)
    # one spike per channel in every split: the slices cut samples, not time or channels
    for part in (data.train, data.val, data.test):
        np.testing.assert_array_equal(part.x.sum(axis=0), 1)


def test_randman_sequence_data_have_one_class_per_ordered_pair():
    data = randman.make_data(2, n_classes=3, n_inputs=5, steps=10, train_per_class=4, test_per_class=2, sequence=2,
                             gap=6)
    assert data.num_classes == 9 and (len(data.train), len(data.val), len(data.test)) == (36, 18, 18)
    assert data.train.x.shape[0] == 2 * 10 + 6
    labels = np.concatenate([data.train.y, data.val.y, data.test.y])  # the splits are random slices
    np.testing.assert_array_equal(np.bincount(labels, minlength=9), 8)


def test_randman_defaults_are_the_memory_task():
    """``snnumba randman`` without options trains on pairs of syllables across a gap longer
    than every time constant of the network (module docstring of tasks.randman)."""
    d = randman.RUN_DEFAULTS
    assert d["sequence"] == 2 and d["gap"] * 1e-3 >= 5 * max(d["tau"], d["tau_syn"])


@needs_family
def test_build_network_recurrent_init_and_adaptation():
    net = temporal.build_network(4, 3, hidden=50, recurrent_gain=0.3, tau_adapt=0.15, rng=0)
    hidden = net.layers[1]
    v = np.abs(hidden.params["recurrent_weight"])
    assert 0.9 * 0.3 / np.sqrt(50) < v.max() <= 0.3 / np.sqrt(50)
    assert float(np.max(hidden.tau_adapt)) == pytest.approx(0.15)
    assert float(np.max(hidden.adapt_strength)) == temporal.ADAPT_STRENGTH
    default = temporal.build_network(4, 3, hidden=50, rng=0).layers[1]
    assert np.abs(default.params["recurrent_weight"]).max() <= temporal.RECURRENT_GAIN / np.sqrt(50)
    assert default.tau_adapt is None
    with pytest.raises(ValueError, match="recurrent_gain"):
        temporal.build_network(4, 3, recurrent_gain=-1.0)


# --- end to end (with the neuron family) ----------------------------------------------------------
@needs_family
@pytest.mark.parametrize("kind", ["--recurrent", "--feedforward"])
def test_shd_command_end_to_end_on_a_written_file(shd_folder, tmp_path, kind, capsys):
    path = tmp_path / "net.npz"
    assert cli.main(small_shd(shd_folder) + [kind, "--json", "--save", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 2 and 0 <= summary["test_accuracy"] <= 100
    assert summary["chance_accuracy"] == 5.0 and summary["recurrent"] is (kind == "--recurrent")
    net = snn.Network.load(path)
    assert net.layers[0].params["weight"].shape == (700, 10)
    assert ("recurrent_weight" in net.layers[1].params) is (kind == "--recurrent")


@needs_family
def test_randman_command_human_summary(capsys):
    assert cli.main(SMALL_RANDMAN) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "chance accuracy level: 33.3%" in out and "recurrent adaptive LIF" in out


@needs_family
def test_randman_command_trains_the_adaptive_memory_task(tmp_path, capsys):
    path = tmp_path / "net.npz"
    args = SMALL_RANDMAN[:-4] + ["--sequence", "2", "--gap", "5", "--steps", "8", "--adapt", "--save", str(path)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "chance accuracy level: 11.1%" in out and "recurrent adaptive LIF" in out
    assert "72 training" in out
    hidden = snn.Network.load(path).layers[1]
    assert float(np.max(hidden.tau_adapt)) == pytest.approx(0.2)


@needs_family
def test_randman_run_is_reproducible_and_learns():
    config = {"n_classes": 2, "sequence": 1, "gap": 0, "n_inputs": 10, "steps": 40, "train_per_class": 40,
              "test_per_class": 20,
              "hidden": 16, "epochs": 8, "batch_size": 20, "lr": 5e-3, "early_stopping": False}
    first, second = randman.run(config, seed=1), randman.run(config, seed=1)
    assert first["test_accuracy"] == second["test_accuracy"] and first["recurrent"]
    assert first["train_accuracy"] > 70       # two manifolds: far above the 50 % of chance


def test_temporal_tasks_are_sweep_tasks():
    from snnumba import distributed
    assert distributed.resolve_task("randman") == ("randman", randman.run)
    assert distributed.resolve_task("shd") == ("shd", shd.run)


def test_randman_adapts_by_default_and_no_adapt_turns_it_off():
    """The default is the adaptive recurrent network (the one that wins on the memory task);
    ``--no-adapt`` gives plain thresholds, ``--adapt TAU`` another time constant."""
    from snnumba.cli import build_parser
    parse = build_parser().parse_args
    assert parse(["randman"]).tau_adapt == randman.RUN_DEFAULTS["tau_adapt"] == 0.2
    assert parse(["randman", "--no-adapt"]).tau_adapt is None
    assert parse(["randman", "--adapt", "0.5"]).tau_adapt == 0.5
