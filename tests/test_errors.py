"""Bad input gets a clear error naming the argument."""
import numpy as np
import pytest

import snnumba as snn
from snnumba.tasks import sound_localization as sl


def net():
    return snn.Network([snn.Dense(3, 2, rng=0), snn.LIF(), snn.Dense(2, 2, rng=0), snn.LeakyReadout()])


@pytest.mark.parametrize("x,exc,match", [
    (np.zeros((5, 2)), ValueError, "'x' must have 3 dimensions"),
    (np.zeros((5, 2, 4)), ValueError, r"'x' must have shape \[T, B, 3\]"),
    (np.zeros((0, 2, 3)), ValueError, "at least one time step"),
    (np.full((5, 2, 3), np.nan), ValueError, "'x' contains NaN"),
    (np.zeros((5, 2, 3), complex), TypeError, "'x' must hold real numbers"),
    (np.array([["a"]]), TypeError, "'x' must hold real numbers"),
])
def test_network_input_errors(x, exc, match):
    with pytest.raises(exc, match=match):
        net().forward(x)


def test_bool_and_int_spikes_are_accepted():
    x = np.random.default_rng(0).random((5, 2, 3)) < 0.5
    a = net().forward(x)
    np.testing.assert_array_equal(a, net().forward(x.astype(np.int64)))


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"tau": -1.0}, ValueError, "'tau'"), ({"dt": 0.0}, ValueError, "'dt'"),
    ({"tau": "5"}, TypeError, "'tau'"), ({"surrogate": "relu"}, ValueError, "unknown surrogate 'relu'"),
    ({"beta": -2.0}, ValueError, "'beta'"), ({"threshold": np.nan}, ValueError, "'threshold'"),
])
def test_lif_argument_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        snn.LIF(**kwargs)


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"n_in": 0, "n_out": 2}, ValueError, "'n_in'"), ({"n_in": 2.5, "n_out": 2}, TypeError, "'n_in'"),
    ({"n_in": 2, "n_out": 2, "ie_ratio": 1.5}, ValueError, "'ie_ratio'"),
    ({"n_in": 2, "n_out": 2, "dtype": np.int32}, TypeError, "'dtype'"),
])
def test_dense_argument_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        snn.Dense(**kwargs)


def test_unknown_device():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        snn.Network([snn.Dense(2, 2)], device="tpu")


def test_backward_shape_and_order_errors():
    n = net()
    with pytest.raises(RuntimeError, match="before forward"):
        n.backward(np.zeros((5, 2, 2)))
    n.forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match="'grad_v'"):
        n.backward(np.zeros((4, 2, 2)))


def test_threshold_that_does_not_fit_batch():
    n = net()
    n.layers[1].threshold = np.ones((3, 2))
    with pytest.raises(ValueError, match="'threshold'"):
        n.forward(np.zeros((5, 2, 3)))


@pytest.mark.parametrize("labels,exc,match", [
    (np.array([0, 5]), ValueError, "'labels' must lie in"), (np.array([0.0, 1.0]), TypeError, "'labels' must be integers"),
    (np.array([0]), ValueError, "'labels' has 1 entries"),
])
def test_loss_label_errors(labels, exc, match):
    with pytest.raises(exc, match=match):
        snn.readout_nll(np.zeros((3, 2, 4)), labels)


def test_loss_rejects_nan_output():
    with pytest.raises(ValueError, match="'v' contains NaN"):
        snn.readout_nll(np.full((3, 2, 4), np.nan), np.array([0, 1]))


@pytest.mark.parametrize("kwargs,match", [({"dt": -1e-3}, "'dt'"), ({"rate_max": 2000.0}, "rate_max"),
                                          ({"anf_per_ear": 0}, "'anf_per_ear'")])
def test_stimulus_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sl.StimulusConfig(**kwargs)


def test_discretise_clamps_the_upper_edge():
    assert sl.discretise(np.array([-np.pi / 2, 0.0, np.pi / 2])).tolist() == [0, 6, 11]
    assert sl.continuise(np.array([0, 11])) == pytest.approx([-np.pi / 2 + np.pi / 24, np.pi / 2 - np.pi / 24])
