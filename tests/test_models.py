"""The neuron family's layers: options round-trip through save/load, continue_state,
trainable constants, and clear errors for bad options."""
import numba
import numpy as np
import pytest

import snnumba as snn
from tests.kernels.test_neuron import COMBOS, DT, build, combo_id, central_difference


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_continue_state_equals_one_long_call(combo, tmp_path):
    """Two calls with continue_state give the spikes, membrane and final state of one call
    (every state entry, z for the recurrence included, is carried)."""
    rng = np.random.default_rng(3)
    layer, _, _ = build(combo, 4, np.float64, rng)
    h = rng.normal(0.5, 0.9, (13, 2, 4))
    z = layer.forward(h).copy()
    v = layer.v.copy()
    final = {k: None if x is None else x.copy() for k, x in layer.state.items()}
    first = layer.forward(h[:6]).copy()
    v_first = layer.v.copy()
    second = layer.forward(h[6:], continue_state=True)
    np.testing.assert_array_equal(np.concatenate([first, second]), z)
    np.testing.assert_array_equal(np.concatenate([v_first, layer.v]), v)
    for k, x in final.items():
        assert (x is None) == (layer.state[k] is None), k
        if x is not None:
            np.testing.assert_array_equal(layer.state[k], x, err_msg=k)
    assert z.any()


@pytest.mark.parametrize("combo", COMBOS[::5] + [COMBOS[-1]], ids=combo_id)
def test_save_load_round_trip(combo, tmp_path):
    """Every option and trained constant survives Network.save / load."""
    rng = np.random.default_rng(5)
    layer, _, _ = build(combo, 4, np.float64, rng, learn=True)
    net = snn.Network([snn.Dense(3, 4, rng=0), layer, snn.Dense(4, 2, rng=1), snn.LeakyReadout()],
                      dtype=np.float64)
    for p in layer.params.values():       # trained values differ from the initial ones
        p *= 1.1
    x = (rng.random((9, 2, 3)) < 0.5).astype(np.uint8)
    out = net.forward(x).copy()
    net.save(tmp_path / "net.npz")
    loaded = snn.Network.load(tmp_path / "net.npz")
    twin = loaded.layers[1]
    assert type(twin) is type(layer) and twin.config() == layer.config()
    for name, p in layer.params.items():
        np.testing.assert_array_equal(twin.params[name], p)
    np.testing.assert_array_equal(loaded.forward(x), out)


@pytest.mark.parametrize("cls", [snn.LIF, snn.IF])
def test_if_and_lif_take_the_options(cls):
    layer = cls(reset="subtract", spike_timing="same_step", tau_syn=4e-3, tau_adapt=30e-3, adapt_strength=0.2)
    cfg = layer.config()
    assert cfg["reset"] == "subtract" and cfg["spike_timing"] == "same_step" and cfg["tau_syn"] == 4e-3
    z = layer.forward(np.full((10, 1, 2), 0.6))
    assert z.any() and set(layer.state) == set("vsiaz") and layer.state["z"] is None
    assert layer.state["i"] is not None and layer.state["a"] is not None


def test_default_lif_equals_the_seed_membrane():
    """Existing defaults keep the seed's LIF: no synapse, no adaptation state."""
    layer = snn.LIF()
    layer.forward(np.ones((3, 1, 2)))
    assert layer.state["i"] is None and layer.state["a"] is None and layer.state["z"] is None
    assert layer.config()["reset"] == "zero" and layer.config()["spike_timing"] == "delayed"


@pytest.mark.parametrize("decay", ["exact", "euler"])
def test_learned_tau_gradient_matches_central_differences(decay):
    """dL/dtau and dL/dtau_syn chain dL/dalpha through the decay's derivative (exact and
    Euler), checked where no spike can change (triangle surrogate, huge slope)."""
    rng = np.random.default_rng(11)
    for _ in range(100):
        layer = snn.LIF(tau=rng.uniform(4e-3, 9e-3, 3), tau_syn=rng.uniform(3e-3, 6e-3, 3), n=3, decay=decay,
                        learn_tau=True, learn_threshold=True, surrogate="triangle", slope=1e4, dtype=np.float64,
                        spike_timing="same_step", reset="subtract")
        h = rng.normal(0.6, 0.8, (8, 2, 3))
        z = layer.forward(h)
        if np.abs(layer.v - layer.params["threshold"]).min() > 0.02 and 0 < z.sum() < z.size:
            break
    gs, gv = rng.normal(size=h.shape), rng.normal(size=h.shape)
    layer.backward(gs, gv)

    def loss():
        return np.sum(gs * layer.forward(h)) + np.sum(gv * layer.v)
    for name in ("tau", "tau_syn", "threshold"):
        fd = central_difference(loss, layer.params[name], eps=1e-9 if name != "threshold" else 1e-6)
        np.testing.assert_allclose(layer.grads[name], fd, rtol=1e-5, atol=1e-6, err_msg=name)
        assert np.abs(fd).max() > 1e-3


def test_training_the_constants_with_adam_lowers_the_loss():
    rng = np.random.default_rng(0)
    layer = snn.LIF(n=5, tau_syn=5e-3, learn_tau=True, learn_threshold=True, dtype=np.float64)
    net = snn.Network([snn.Dense(4, 5, rng=0), layer], dtype=np.float64)
    x = rng.normal(0.8, 0.5, (20, 8, 4))
    target = np.zeros((20, 8, 5))
    target[::2] = 1.0
    opt = snn.Adam(net, lr=2e-4)   # Adam moves every parameter by about lr a step: tau is 5e-3 s
    losses = []
    for _ in range(15):
        net.zero_grad()
        z = net.forward(x)
        loss, grad = snn.mse(z, target)
        net.backward(grad)
        opt.step()
        losses.append(loss)
    assert losses[-1] < losses[0]
    assert not np.allclose(layer.params["tau"], 5e-3)


def test_a_tau_made_nonpositive_raises_at_the_next_forward():
    layer = snn.LIF(n=3, learn_tau=True, tau_syn=4e-3)
    layer.forward(np.ones((2, 1, 3)))
    layer.params["tau_syn"][1] = -1e-3
    with pytest.raises(ValueError, match="'tau_syn' must stay positive"):
        layer.forward(np.ones((2, 1, 3)))


@pytest.mark.parametrize("kwargs,match", [
    (dict(reset="soft"), "reset"),
    (dict(spike_timing="early"), "spike_timing"),
    (dict(decay="rk4"), "decay"),
    (dict(tau_syn=-1e-3), "tau_syn"),
    (dict(tau_adapt=0.0), "tau_adapt"),
    (dict(tau=np.full(3, 5e-3)), "'tau'.*needs 'n'"),
    (dict(tau=np.full(3, 5e-3), n=4), "'tau'.*shape"),
    (dict(adapt_strength=np.ones(2), n=3), "adapt_strength"),
    (dict(learn_tau=True), "'n'"),
    (dict(learn_threshold=True), "'n'"),
    (dict(learn_threshold=True, n=2, threshold=np.ones((3, 2))), "threshold"),
    (dict(tau=0.5e-3, decay="euler"), "'tau' must be >= dt"),
    (dict(n=0), "'n'"),
])
def test_bad_options_raise_value_errors_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        snn.LIF(**kwargs)


def test_bad_recurrent_and_if_options():
    with pytest.raises(ValueError, match="learn_tau"):
        snn.IF(learn_tau=True, n=3)
    with pytest.raises(TypeError, match="'n'"):
        snn.RecurrentLIF(2.5)
    with pytest.raises(ValueError, match="init_bound"):
        snn.RecurrentLIF(3, init_bound=-1.0)
    layer = snn.RecurrentLIF(3)
    with pytest.raises(ValueError, match="n=3"):
        layer.forward(np.ones((2, 1, 4)))


def test_recurrent_without_self_connections_keeps_a_zero_diagonal():
    layer = snn.RecurrentLIF(4, self_connections=False, rng=0, dtype=np.float64)
    assert np.all(np.diag(layer.params["recurrent_weight"]) == 0)
    assert np.abs(layer.params["recurrent_weight"]).sum() > 0
    net = snn.Network([snn.Dense(3, 4, rng=1), layer], dtype=np.float64)
    opt = snn.Adam(net, lr=0.1, weight_decay=0.01)
    x = np.random.default_rng(2).normal(1.0, 1.0, (15, 3, 3))
    for _ in range(3):
        net.zero_grad()
        z = net.forward(x)
        net.backward(np.ones(z.shape))
        opt.step()
    assert np.all(np.diag(layer.grads["recurrent_weight"]) == 0)
    assert np.all(np.diag(layer.params["recurrent_weight"]) == 0)
    assert np.abs(layer.grads["recurrent_weight"]).sum() > 0
    assert snn.Network([snn.Dense(3, 4), layer]).layers[1].n_in == 4
    assert layer.n_in == layer.n_out == 4 and DT == 1e-3


@pytest.mark.parametrize("recurrent", [False, True])
def test_every_option_set_gives_the_kernels_arrays_of_one_type(recurrent):
    """The decays, adaptation strengths and thresholds that the kernels get have one Numba
    type each, whatever the options: scalar, per neuron or (thresholds) per sample, present
    or absent (then empty). Read-only views among them were another type, and the kernels
    were compiled anew for each mix of options (about 20 s each, cold)."""
    n, batch = 4, 2

    def value(x, shape):
        return np.full(shape, x) if shape else x

    constant_types, threshold_types = set(), set()
    for shape in ((), (n,), (batch, n)):
        per = shape[-1:]   # constants per neuron where thresholds are per neuron or per sample
        for syn, adapt in ((False, False), (True, False), (False, True), (True, True)):
            opts = dict(tau=value(8e-3, per), threshold=value(0.7, shape), dt=DT,
                        tau_syn=value(4e-3, per) if syn else None, tau_adapt=value(30e-3, per) if adapt else None,
                        adapt_strength=value(0.3, per), dtype=np.float64)
            layer = snn.RecurrentLIF(n, **opts) if recurrent else snn.LIF(n=n, **opts)
            constant_types.update(numba.typeof(a) for a in layer._constants(n))
            threshold_types.add(numba.typeof(layer._threshold_array(batch, n)))
    assert len(constant_types) == 1 and len(threshold_types) == 1, (constant_types, threshold_types)
