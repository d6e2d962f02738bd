"""The surrogate's steepness is called ``slope``; ``beta`` stays as a deprecated alias."""
import json
import warnings

import numpy as np
import pytest

import snnumba as snn
from snnumba import surrogate as sg
from snnumba.tasks import sound_localization as sl

X = np.array([-1.0, -0.3, 0.0, 0.2, 0.7])
FORMULAS = {  # the derivatives as documented, written out independently
    "sigmoid": lambda x, k: k * np.exp(-k * x) / (1 + np.exp(-k * x)) ** 2,
    "fast_sigmoid": lambda x, k: 1 / (1 + k * np.abs(x)) ** 2,
    "arctan": lambda x, k: (k / 2) / (1 + (np.pi * k * x / 2) ** 2),
    "triangle": lambda x, k: k * np.maximum(0, 1 - k * np.abs(x)),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_slope_sets_the_steepness(name):
    np.testing.assert_allclose(sg.derivative(name, X, slope=3.0), FORMULAS[name](X, 3.0), rtol=1e-12)
    with pytest.warns(DeprecationWarning, match="'slope'"):
        old = sg.derivative(name, X, beta=3.0)
    np.testing.assert_array_equal(old, sg.derivative(name, X, slope=3.0))


def _lif_input_grad(layer):
    h = np.random.default_rng(0).normal(0.8, 0.5, (20, 3, 4))
    s = layer.forward(h)
    return layer.backward(np.ones_like(s))


def test_lif_slope_reaches_the_backward_pass():
    with_slope = _lif_input_grad(snn.LIF(surrogate="fast_sigmoid", slope=2.0, dtype=np.float64))
    default = _lif_input_grad(snn.LIF(surrogate="fast_sigmoid", dtype=np.float64))
    assert not np.allclose(with_slope, default)
    with pytest.warns(DeprecationWarning):
        aliased = snn.LIF(surrogate="fast_sigmoid", beta=2.0, dtype=np.float64)
    assert aliased.slope == 2.0
    np.testing.assert_array_equal(_lif_input_grad(aliased), with_slope)


@pytest.mark.parametrize("cls", [snn.LIF, snn.IF])
def test_beta_alias(cls):
    with pytest.warns(DeprecationWarning, match="'beta' is deprecated"):
        layer = cls(beta=4.0)
    assert layer.slope == 4.0 and cls(slope=4.0).slope == 4.0
    with pytest.warns(DeprecationWarning):
        assert layer.beta == 4.0
    with pytest.raises(TypeError, match="not both"):
        cls(slope=1.0, beta=1.0)
    with pytest.raises(ValueError, match="'slope'"):
        cls(slope=-1.0)
    with pytest.raises(ValueError, match="'beta'"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cls(beta=-1.0)


def test_build_network_takes_slope():
    assert sl.build_network(hidden=4, slope=7.0, rng=0).layers[1].slope == 7.0


def test_save_load_keeps_slope_and_reads_old_beta_key(tmp_path):
    net = snn.Network([snn.Dense(3, 2, rng=0), snn.LIF(surrogate="arctan", slope=2.5), snn.IF(slope=0.5)])
    net.save(tmp_path / "new.npz")
    loaded = snn.Network.load(tmp_path / "new.npz")
    assert [loaded.layers[1].slope, loaded.layers[2].slope] == [2.5, 0.5]
    assert loaded.layers[1].surrogate == "arctan"

    # a file written before the rename stores the steepness under 'beta'
    arrays = net.to_arrays()
    meta = json.loads(str(arrays["meta"]))
    for entry in meta["layers"][1:]:
        entry["config"]["beta"] = entry["config"].pop("slope")
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "old.npz", **arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = snn.Network.load(tmp_path / "old.npz")
    assert [old.layers[1].slope, old.layers[2].slope] == [2.5, 0.5]
