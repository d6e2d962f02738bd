"""Adam and SGD against transcriptions of PyTorch's documented algorithms."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import snnumba as snn
from tests.reference import naive_adam, naive_sgd


def one_param_net(p):
    layer = snn.Dense(p.shape[0], p.shape[1], rng=0, dtype=np.float64)
    net = snn.Network([layer], dtype=np.float64)
    layer.params["weight"][...] = p
    return net, layer


@given(st.integers(0, 2**32 - 1), st.floats(1e-4, 0.1), st.floats(0.0, 0.99), st.floats(0.0, 0.999),
       st.floats(0.0, 0.1))
def test_adam_equals_reference(seed, lr, beta1, beta2, weight_decay):
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(3, 4))
    net, layer = one_param_net(p)
    opt = snn.Adam(net, lr=lr, betas=(beta1, beta2), weight_decay=weight_decay)
    m, v = np.zeros_like(p), np.zeros_like(p)
    for step in range(1, 6):
        g = rng.normal(size=p.shape)
        layer.grads["weight"][...] = g
        opt.step()
        p, m, v = naive_adam(p, g, m, v, step, lr, beta1, beta2, 1e-8, weight_decay)
        np.testing.assert_allclose(layer.params["weight"], p, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("momentum,dampening,nesterov", [(0.0, 0.0, False), (0.9, 0.0, True), (0.5, 0.3, False)])
def test_sgd_equals_reference(momentum, dampening, nesterov):
    rng = np.random.default_rng(1)
    p = rng.normal(size=(2, 5))
    net, layer = one_param_net(p)
    opt = snn.SGD(net, lr=0.05, momentum=momentum, dampening=dampening, weight_decay=0.01, nesterov=nesterov)
    buf = np.zeros_like(p)
    for step in range(1, 5):
        g = rng.normal(size=p.shape)
        layer.grads["weight"][...] = g
        opt.step()
        p, buf = naive_sgd(p, g, buf, step, 0.05, momentum, dampening, 0.01, nesterov)
        np.testing.assert_allclose(layer.params["weight"], p, rtol=1e-12)


def test_adam_state_dict_round_trip():
    rng = np.random.default_rng(2)
    net, layer = one_param_net(rng.normal(size=(2, 2)))
    opt = snn.Adam(net, lr=0.1)
    layer.grads["weight"][...] = 1.0
    opt.step()
    state = opt.state_dict()
    twin_net, twin_layer = one_param_net(layer.params["weight"].copy())
    twin = snn.Adam(twin_net, lr=0.1)
    twin.load_state_dict(state)
    layer.grads["weight"][...] = twin_layer.grads["weight"][...] = -0.5
    opt.step()
    twin.step()
    np.testing.assert_array_equal(layer.params["weight"], twin_layer.params["weight"])


@pytest.mark.parametrize("kwargs,match", [({"lr": -1}, "lr"), ({"betas": (0.9, 1.0)}, "betas"),
                                          ({"eps": 0}, "eps")])
def test_adam_rejects_bad_arguments(kwargs, match):
    net, _ = one_param_net(np.zeros((1, 1)))
    with pytest.raises(ValueError, match=match):
        snn.Adam(net, **kwargs)


@pytest.mark.parametrize("optimizer", [snn.Adam, snn.SGD])
def test_a_read_only_parameter_is_named_and_nothing_moves(optimizer):
    """A read-only parameter gets a ValueError naming it, before any parameter is updated
    (the update kernel failed typing on it, after the parameters before it had moved)."""
    rng = np.random.default_rng(0)
    net = snn.Network([snn.Dense(4, 5, rng=rng), snn.LIF(n=5), snn.Dense(5, 3, rng=rng), snn.LeakyReadout()])
    out = net.forward((rng.random((6, 2, 4)) < 0.5).astype(np.float32))
    net.zero_grad()
    net.backward(snn.readout_nll(out, np.array([0, 2]))[1])
    net.layers[2].params["weight"].setflags(write=False)
    before = [p.copy() for p in net.parameters()]
    opt = optimizer(net, lr=0.1)
    with pytest.raises(ValueError, match="'2.weight' is read-only"):
        opt.step()
    assert opt.step_count == 0 and not opt.state
    for p, q in zip(net.parameters(), before):
        np.testing.assert_array_equal(p, q)
    assert any(np.any(g != 0) for _, _, g in net.named_parameters())
