"""LinearHomeostasis: the documented formulas, bounds, targets, convergence."""
import numpy as np
import pytest

import snnumba as snn
from snnumba.homeostasis import LinearHomeostasis, ParameterUpdater, SpikeRateMonitor


def pair(rng, bias=True, delay=None, n_in=6, n_out=4):
    dense = snn.Dense(n_in, n_out, bias=bias, rng=rng, delay=delay, max_delay=5e-3 if delay is not None else None,
                      dtype=np.float64)
    lif = snn.LIF(tau=10e-3)
    return dense, lif, snn.Network([dense, lif], dtype=np.float64)


def spikes_in(rng, T=20, B=3, n=6):
    return (rng.random((T, B, n)) < 0.3).astype(np.float64)


@pytest.mark.parametrize("param", ["weight", "bias", "delay", "WEIGHT"])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_update_equals_hand_computation(param, per_neuron):
    rng = np.random.default_rng(0)
    dense, lif, net = pair(rng, delay=np.full((6, 4), 2e-3))
    target = np.array([0.05, 0.1, 0.2, 0.4]) if per_neuron else 0.1
    plasticity = 1e-5 if param == "delay" else 0.01   # delays are in seconds; stay inside [0, max_delay]
    homeo = LinearHomeostasis(plasticity, target, param)
    homeo.register("u", dense, lif)
    net.forward(spikes_in(rng))
    rate = lif.backend.to_host(lif._trace[2]).mean(axis=0)           # [B, N]: spikes per step
    key = param.lower()
    store = dense.buffers if key == "delay" else dense.params
    before = store[key].copy()
    homeo.step()
    k = (target - rate) / target * (-plasticity if key == "delay" else plasticity)
    expected_change = np.mean(np.maximum(k, 0), 0) - np.mean(np.maximum(-k, 0), 0)   # = mean(k)
    np.testing.assert_allclose(expected_change, k.mean(0), rtol=1e-12, atol=1e-15)
    change = store[key] - before
    if key == "bias":
        np.testing.assert_allclose(change, expected_change, rtol=1e-10, atol=1e-14)
    else:  # every input synapse of output neuron j moves by the same amount
        np.testing.assert_allclose(change, np.broadcast_to(expected_change, before.shape), rtol=1e-10, atol=1e-14)


def test_neuron_above_target_gets_smaller_bias():
    rng = np.random.default_rng(1)
    dense, lif, net = pair(rng)
    dense.params["bias"][:] = 2.0                                     # fires a lot
    homeo = LinearHomeostasis(0.1, 0.01, "bias")
    homeo.register("u", dense, lif)
    net.forward(spikes_in(rng))
    homeo.step()
    assert np.all(dense.params["bias"] < 2.0)


@pytest.mark.parametrize("param,plasticity", [("bias", 0.05), ("weight", 0.02)])
def test_rate_converges_to_target(param, plasticity):
    rng = np.random.default_rng(2)
    dense, lif, net = pair(rng, n_in=20, n_out=8)
    x = spikes_in(rng, T=50, B=4, n=20)
    homeo = LinearHomeostasis(plasticity, 0.05, param)
    homeo.register("u", dense, lif)
    rates = []
    for _ in range(300):
        net.forward(x)
        rates.append(homeo.units["u"]["monitor"].peek().mean())
        homeo.step()
    assert abs(rates[0] - 0.05) > 0.03
    assert abs(np.mean(rates[-20:]) - 0.05) < 0.01


def test_targets_per_layer_never_leak():
    rng = np.random.default_rng(3)
    d1, l1, n1 = pair(rng)
    d2, l2, n2 = pair(rng)
    homeo = LinearHomeostasis(0.01, None, "bias")
    homeo.register("own", d1, l1, target=0.2)
    homeo.register("none", d2, l2)
    n1.forward(spikes_in(rng))
    n2.forward(spikes_in(rng))
    with pytest.raises(RuntimeError, match="'none'"):
        homeo.step()
    homeo.step(names=["own"])                                         # its own target is enough
    n2.forward(spikes_in(rng))
    homeo.step(target=0.3, names=["none"])                            # a call target works too


def test_target_validation_and_eval_mode():
    rng = np.random.default_rng(4)
    dense, lif, net = pair(rng)
    with pytest.raises(ValueError, match="must not be 0"):
        LinearHomeostasis(0.1, np.array([0.1, 0.0, 0.1, 0.1]), "weight")
    with pytest.raises(ValueError, match="non-negative"):
        LinearHomeostasis(0.1, -0.1, "weight")
    with pytest.raises(ValueError, match="unknown param"):
        LinearHomeostasis(0.1, 0.1, "threshold")
    homeo = LinearHomeostasis(0.1, 0.1, "delay")
    with pytest.raises(ValueError, match="delays"):
        homeo.register("u", dense, lif)
    homeo = LinearHomeostasis(0.1, 0.1, "bias")
    homeo.register("u", dense, lif)
    net.eval()
    net.forward(spikes_in(rng))                                       # not observed in eval mode
    with pytest.raises(RuntimeError, match="observed nothing"):
        homeo.units["u"]["monitor"].peek()
    before = dense.params["bias"].copy()
    homeo.step()                                                      # skipped: the neuron is in eval mode
    np.testing.assert_array_equal(dense.params["bias"], before)


def test_updater_bounds():
    p = np.array([0.0, 0.5, 1.0])
    hard = ParameterUpdater("hard", 0.0, 1.0)
    hard.accumulate(np.array([0.0, 0.8, 0.1]), np.array([0.3, 0.0, 0.0]))
    np.testing.assert_allclose(hard.apply(p), [0.0, 1.0, 1.0])
    soft = ParameterUpdater("soft", 0.0, 1.0, mu=1.0)
    soft.accumulate(0.5, 0.5)
    np.testing.assert_allclose(soft.apply(p), p + 0.5 * (1 - p) - 0.5 * p)
    none = ParameterUpdater()
    none.accumulate(0.2, 0.5)
    np.testing.assert_allclose(none.apply(p), p - 0.3)
    with pytest.raises(ValueError, match="lower < upper"):
        ParameterUpdater("hard", 1.0, 0.0)


def test_delays_stay_within_bounds():
    rng = np.random.default_rng(5)
    dense, lif, net = pair(rng, delay=np.full((6, 4), 4.9e-3))
    homeo = LinearHomeostasis(10.0, 0.9, "delay")                     # far below target: delays shrink
    homeo.register("u", dense, lif)
    for _ in range(3):
        net.forward(spikes_in(rng))
        homeo.step()
    assert dense.buffers["delay"].min() >= 0.0 and dense.buffers["delay"].max() <= 5e-3


def test_monitor_is_cumulative_average():
    rng = np.random.default_rng(6)
    dense, lif, net = pair(rng)
    monitor = SpikeRateMonitor(lif)
    a = net.forward(spikes_in(rng, T=10)).copy()
    b = net.forward(spikes_in(rng, T=30)).copy()
    np.testing.assert_allclose(monitor.peek(), np.concatenate([a, b]).mean(axis=0))
