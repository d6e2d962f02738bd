"""Gradients of whole networks (feed-forward and recurrent) against an independent forward-mode model.

The backward pass (reverse mode, in the kernels) must give <grad, d> equal to the
directional derivative along any direction d of the *surrogate model*: the network in
which the spike's derivative is surrogate'(v - threshold). That derivative is computed
here by forward-mode tangent propagation in plain NumPy (tests/reference.py), with the decay
``exp(-dt / tau)`` and the surrogate written in the test, not read from the layers. Smooth parts
(Dense, readout, loss, surrogate primitives) are also checked by central differences.
"""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import snnumba as snn
from snnumba import surrogate as sg
from tests.reference import naive_log_softmax_nll, tangent_lif, tangent_neuron, tangent_readout

SURROGATES = ["sigmoid", "fast_sigmoid", "arctan", "triangle"]


def build(rng, n_in, hidden, classes, dales_law, bias, surrogate, beta, tau=5e-3, dt=1e-3, threshold=1.0,
          tau_out=None):
    layers = [snn.Dense(n_in, hidden, bias=bias, dales_law=dales_law, ie_ratio=0.3, rng=rng,
                        init_bound=1.0),
              snn.LIF(tau=tau, threshold=threshold, dt=dt, surrogate=surrogate, beta=beta),
              snn.Dense(hidden, classes, bias=bias, dales_law=dales_law, ie_ratio=0.3, rng=rng),
              snn.LeakyReadout(tau=tau if tau_out is None else tau_out, dt=dt)]
    return snn.Network(layers, dtype=np.float64)


def effective(w, dales_law, dw):
    """W_eff and its tangent: |w| * sign under Dale's law (the first int(0.3 n_in) input
    rows inhibitory, the product truncated as the seed's arange does), else w."""
    if not dales_law:
        return w, dw
    sign = np.where(np.arange(w.shape[0])[:, None] < int(0.3 * w.shape[0]), -1.0, 1.0)
    return np.abs(w) * sign, np.sign(w) * sign * dw


def tangent_loss(net, x, labels, directions, scale, model):
    """Loss and its directional derivative along ``directions`` (a dict like named_parameters).

    ``model`` holds the constants the network was built with (tau, tau_out, dt, threshold,
    surrogate, beta, dales_law, bias); the decays are computed here from them, never read
    from the layers."""
    d1, _, d2, _ = net.layers
    alpha = np.exp(-model["dt"] / model["tau"])
    alpha_out = np.exp(-model["dt"] / model["tau_out"])
    w1, dw1 = effective(d1.params["weight"], model["dales_law"], directions["0.weight"])
    w2, dw2 = effective(d2.params["weight"], model["dales_law"], directions["2.weight"])
    h1, dh1 = x @ w1, x @ dw1
    if model["bias"]:
        h1, dh1 = h1 + d1.params["bias"], dh1 + directions["0.bias"]
    v, s, dv, ds = tangent_lif(h1, dh1, alpha, model["threshold"], model["surrogate"], model["beta"])
    h2, dh2 = s @ w2, ds @ w2 + s @ dw2
    if model["bias"]:
        h2, dh2 = h2 + d2.params["bias"], dh2 + directions["2.bias"]
    vo, dvo = tangent_readout(h2, dh2, alpha_out)
    loss, p = naive_log_softmax_nll(scale * vo.sum(0), labels)
    onehot = np.eye(p.shape[1])[labels]
    dloss = np.sum((p - onehot) * scale * dvo.sum(0)) / len(labels)
    return loss, dloss, vo


@settings(max_examples=12)
@given(st.sampled_from(SURROGATES), st.booleans(), st.booleans(), st.integers(0, 2**32 - 1),
       st.floats(1.0, 6.0), st.sampled_from([(5e-3, 1e-3), (2e-2, 5e-4)]), st.booleans())
@example("triangle", True, True, 0, 1.0, (2e-2, 5e-4), True)   # a silent sample, Dale's law, bias
def test_network_gradient_equals_forward_mode(surrogate, dales_law, bias, seed, beta, tau_dt, silent):
    rng = np.random.default_rng(seed)
    T, B, n_in, hidden, classes = 25, 4, 7, 6, 3
    model = dict(tau=tau_dt[0], tau_out=2 * tau_dt[0], dt=tau_dt[1], threshold=0.8, surrogate=surrogate, beta=beta,
                 dales_law=dales_law, bias=bias)
    net = build(rng, n_in, hidden, classes, dales_law, bias, surrogate, beta, tau=model["tau"],
                dt=model["dt"], threshold=model["threshold"], tau_out=model["tau_out"])
    x = (rng.random((T, B, n_in)) < 0.3).astype(np.float64)
    if silent:
        x[:, 0] = 0.0   # a sample without input spikes still has a (bias-driven) gradient
    labels = rng.integers(0, classes, B)
    scale = 0.1
    out = net.forward(x)
    loss, grad = snn.readout_nll(out, labels, scale=scale)
    net.zero_grad()
    net.backward(grad)
    for _ in range(3):
        directions = {name: rng.normal(size=p.shape) for name, p, _ in net.named_parameters()}
        ref_loss, dloss, vo = tangent_loss(net, x, labels, directions, scale, model)
        np.testing.assert_allclose(out, vo, rtol=1e-12, atol=1e-12)
        assert np.isclose(loss, ref_loss, rtol=1e-12)
        inner = sum(np.sum(g * directions[name]) for name, _, g in net.named_parameters())
        assert np.isclose(inner, dloss, rtol=1e-9, atol=1e-12 * (1 + abs(dloss))), (inner, dloss)


@settings(max_examples=12)
@given(st.sampled_from(SURROGATES), st.sampled_from(["zero", "subtract", "none"]),
       st.sampled_from(["delayed", "same_step", "same_step_late_reset"]), st.booleans(), st.booleans(),
       st.booleans(), st.integers(0, 2**32 - 1))
@example("fast_sigmoid", "subtract", "same_step", True, True, False, 0)   # Norse-like ALIF without V's diagonal
@example("sigmoid", "zero", "same_step_late_reset", True, False, True, 1)  # snnTorch RSynaptic-like
def test_recurrent_network_gradient_equals_forward_mode(surrogate, reset, timing, syn, adapt, self_connections,
                                                        seed):
    """Dense -> RecurrentLIF -> Dense -> readout: <grad, d> equals the forward-mode
    derivative along d (tests/reference.py's tangent_neuron, decays computed here)."""
    rng = np.random.default_rng(seed)
    T, B, n_in, hidden, classes, dt = 20, 3, 5, 6, 3, 1e-3
    tau, tau_syn, tau_adapt, strength, slope = 8e-3, 4e-3, 30e-3, 0.3, 2.0
    rec = snn.RecurrentLIF(hidden, tau=tau, threshold=0.7, dt=dt, surrogate=surrogate, slope=slope, reset=reset,
                           spike_timing=timing, tau_syn=tau_syn if syn else None,
                           tau_adapt=tau_adapt if adapt else None, adapt_strength=strength,
                           self_connections=self_connections, init_bound=0.5, rng=rng)
    net = snn.Network([snn.Dense(n_in, hidden, rng=rng, init_bound=1.0), rec, snn.Dense(hidden, classes, rng=rng),
                       snn.LeakyReadout(tau=tau, dt=dt)], dtype=np.float64)
    x = (rng.random((T, B, n_in)) < 0.3).astype(np.float64)
    labels = rng.integers(0, classes, B)
    out = net.forward(x)
    loss, grad = snn.readout_nll(out, labels, scale=0.1)
    net.zero_grad()
    net.backward(grad)
    assert net.layers[1].forward(x @ net.layers[0].params["weight"]).any()
    for _ in range(2):
        d = {name: rng.normal(size=p.shape) for name, p, _ in net.named_parameters()}
        if not self_connections:
            np.fill_diagonal(d["1.recurrent_weight"], 0.0)   # the diagonal is not a parameter then
        w1, w2, V = net.layers[0].params["weight"], net.layers[2].params["weight"], rec.params["recurrent_weight"]
        z, dz = tangent_neuron(x @ w1, x @ d["0.weight"], np.exp(-dt / tau), 0.7, surrogate, slope, reset, timing,
                               np.exp(-dt / tau_syn) if syn else None, np.exp(-dt / tau_adapt) if adapt else None,
                               strength, V, d["1.recurrent_weight"])
        vo, dvo = tangent_readout(z @ w2, dz @ w2 + z @ d["2.weight"], np.exp(-dt / tau))
        np.testing.assert_allclose(out, vo, rtol=1e-12, atol=1e-12)
        ref_loss, p = naive_log_softmax_nll(0.1 * vo.sum(0), labels)
        dloss = np.sum((p - np.eye(classes)[labels]) * 0.1 * dvo.sum(0)) / B
        assert np.isclose(loss, ref_loss, rtol=1e-12)
        inner = sum(np.sum(g * d[name]) for name, _, g in net.named_parameters())
        assert np.isclose(inner, dloss, rtol=1e-8, atol=1e-11 * (1 + abs(dloss))), (inner, dloss)


def test_gradient_flows_through_reset_and_spikes():
    """The hidden weights get a non-zero gradient only through the spike surrogate."""
    rng = np.random.default_rng(0)
    net = build(rng, 5, 4, 3, False, False, "sigmoid", 5.0)
    x = (rng.random((30, 3, 5)) < 0.5).astype(np.float64)
    loss, grad = snn.readout_nll(net.forward(x), np.array([0, 1, 2]))
    net.backward(grad)
    assert np.abs(net.layers[0].grads["weight"]).sum() > 0


def central_difference(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize("dales_law,bias", [(False, False), (True, True)])
def test_dense_matches_central_differences(dales_law, bias):
    rng = np.random.default_rng(1)
    layer = snn.Dense(4, 3, bias=bias, dales_law=dales_law, rng=rng, dtype=np.float64)
    x = rng.normal(size=(5, 2, 4))
    G = rng.normal(size=(5, 2, 3))
    loss = lambda: np.sum(G * layer.forward(x))  # noqa: E731
    layer.forward(x)
    layer.zero_grad()
    grad_x = layer.backward(G)
    for name, p in layer.params.items():
        np.testing.assert_allclose(layer.grads[name], central_difference(loss, p), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(grad_x, central_difference(loss, x), rtol=1e-7, atol=1e-8)


def test_readout_matches_central_differences():
    rng = np.random.default_rng(2)
    layer = snn.LeakyReadout(tau=7e-3, dtype=np.float64)
    h = rng.normal(size=(6, 2, 3))
    G = rng.normal(size=(6, 2, 3))
    layer.forward(h)
    grad_h = layer.backward(G)
    np.testing.assert_allclose(grad_h, central_difference(lambda: np.sum(G * layer.forward(h)), h),
                               rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("loss_fn", [snn.readout_nll, snn.spike_count_cross_entropy])
def test_time_sum_losses_match_central_differences(loss_fn):
    rng = np.random.default_rng(3)
    v = rng.normal(size=(5, 3, 4))
    labels = np.array([0, 3, 1])
    _, grad = loss_fn(v, labels)
    np.testing.assert_allclose(grad, central_difference(lambda: loss_fn(v, labels)[0], v),
                               rtol=1e-6, atol=1e-9)


def test_mse_matches_central_differences():
    rng = np.random.default_rng(4)
    out, target = rng.normal(size=(3, 2, 2)), rng.normal(size=(3, 2, 2))
    _, grad = snn.mse(out, target)
    np.testing.assert_allclose(grad, central_difference(lambda: snn.mse(out, target)[0], out), rtol=1e-6)


@pytest.mark.parametrize("name", SURROGATES)
def test_surrogate_is_derivative_of_primitive(name):
    x = np.linspace(-3, 3, 601)
    # the primitives are smooth except at the triangle's kinks and at 0 (|x| terms)
    x = x[(np.abs(np.abs(x) - 1.0 / 2.5) > 1e-3) & (np.abs(x) > 1e-3)]
    eps = 1e-6
    fd = (sg.primitive(name, x + eps, 2.5) - sg.primitive(name, x - eps, 2.5)) / (2 * eps)
    np.testing.assert_allclose(sg.derivative(name, x, 2.5), fd, rtol=1e-6, atol=1e-8)


def test_sigmoid_surrogate_safe_in_float32():
    """exp(-beta x) would overflow for large negative x; the kernel's form does not."""
    x = np.array([-1e5, -100.0, 0.0, 100.0, 1e5])
    d = sg.derivative("sigmoid", x, 5.0)
    assert np.all(np.isfinite(d)) and d[2] == pytest.approx(1.25)
