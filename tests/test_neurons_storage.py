"""Neuron layers store spikes as uint8 and record nothing for backward in evaluation mode."""
import tracemalloc

import numpy as np
import pytest

import snnumba as snn
from snnumba.classifiers import MaxRateClassifier
from snnumba.functional import first_spike_index
from snnumba.homeostasis import SpikeRateMonitor
from tests.reference import naive_lif_forward


def currents(T=30, B=3, N=7, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(0.45, 0.8, (T, B, N)).astype(dtype)


@pytest.mark.parametrize("cls", [snn.LIF, snn.IF])
def test_spikes_are_uint8_and_equal_the_reference(cls):
    layer = cls(threshold=0.9)
    h = currents()
    s = layer.forward(h)
    assert s.dtype == np.uint8 and s.flags.c_contiguous and s.shape == h.shape
    assert layer.state["s"].dtype == np.uint8
    _, rs, _, _ = naive_lif_forward(h, layer.alpha, 0.9)
    np.testing.assert_array_equal(s, rs)
    assert 0 < s.sum() < s.size


@pytest.mark.parametrize("cls", [snn.LIF, snn.IF])
def test_eval_forward_equals_training_forward(cls):
    layer = cls(threshold=0.9)
    h = currents(seed=1)
    s_train = layer.forward(h).copy()
    v_train = layer.v.copy()
    v_final, s_final = (layer.state[k].copy() for k in "vs")
    layer.eval()
    s_eval = layer.forward(h)
    np.testing.assert_array_equal(s_eval, s_train)
    np.testing.assert_array_equal(layer.state["v"], v_final)
    np.testing.assert_array_equal(layer.state["s"], s_final)
    assert layer.v is None                                  # no membrane recorded
    # continuing from the state works in evaluation mode too
    first = layer.forward(h[:10]).copy()
    second = layer.forward(h[10:], continue_state=True)
    np.testing.assert_array_equal(np.concatenate([first, second]), s_train)
    # opt-in membrane recording for membrane read-outs at inference
    layer.record_membrane = True
    layer.forward(h)
    np.testing.assert_array_equal(layer.v, v_train)


def test_backward_after_eval_forward_raises():
    net = snn.Network([snn.Dense(7, 5, rng=0), snn.LIF(), snn.Dense(5, 3, rng=1), snn.LeakyReadout()])
    x = (np.random.default_rng(2).random((20, 4, 7)) < 0.3)
    v_train = net.forward(x).copy()
    net.eval()
    np.testing.assert_array_equal(net.forward(x), v_train)
    with pytest.raises(RuntimeError, match="evaluation mode"):
        net.backward(np.ones_like(v_train))
    for layer in (net.layers[1], net.layers[3]):
        with pytest.raises(RuntimeError, match=f"{type(layer).__name__}.backward.*evaluation mode"):
            layer.backward(np.ones((20, 4, (layer.state["v"] if isinstance(layer.state, dict) else layer.state[0]).shape[1])))
    net.reset()
    with pytest.raises(RuntimeError, match="before forward"):
        net.layers[1].backward(np.ones((20, 4, 5)))
    # a training forward records again
    net.train()
    net.forward(x)
    net.backward(np.ones_like(v_train))
    assert np.abs(net.layers[0].grads["weight"]).sum() > 0


def peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_eval_forward_allocates_only_the_spikes():
    """Training records v (4 bytes per neuron-step) beside the spikes (1 byte); evaluation
    writes the spikes only."""
    T, B, N = 200, 2, 500
    h = currents(T, B, N)
    layer = snn.LIF()
    layer.forward(h)                       # compile or load the kernel before measuring
    steps = T * B * N
    train = peak_bytes(lambda: layer.forward(h))
    layer.eval()
    layer.reset()
    evaluation = peak_bytes(lambda: layer.forward(h))
    assert train >= 5 * steps
    assert steps <= evaluation < 1.5 * steps


def test_downstream_consumers_accept_uint8_spikes():
    h = currents(T=25, B=4, N=6, seed=3)
    lif = snn.LIF(threshold=0.8)
    monitor = SpikeRateMonitor(lif)
    s = lif.forward(h)
    as_float = s.astype(np.float32)
    labels = np.array([0, 5, 2, 1])
    loss, grad = snn.spike_count_cross_entropy(s, labels)
    ref_loss, ref_grad = snn.spike_count_cross_entropy(as_float, labels)
    assert loss == pytest.approx(ref_loss, rel=1e-12) and grad.dtype.kind == "f"
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-6)
    assert snn.mse(s, np.zeros(s.shape))[0] == pytest.approx(as_float.mean(), rel=1e-12)
    np.testing.assert_allclose(monitor.peek(), s.mean(axis=0, dtype=np.float64), rtol=1e-12)
    np.testing.assert_array_equal(first_spike_index(np.moveaxis(s, 0, -1)),
                                  first_spike_index(np.moveaxis(as_float, 0, -1)))
    clf = MaxRateClassifier(6, 3)
    clf.forward(s[:, :3], np.array([0, 1, 2]), logits=None)
    np.testing.assert_allclose(clf.rates.T, as_float[:, :3].mean(axis=0), rtol=1e-6)
    # the float gradient of a uint8 output flows back through the layer in its dtype
    grad_h = lif.backward(grad)
    assert grad_h.dtype == np.float32 and np.abs(grad_h).sum() > 0


@pytest.mark.cuda
def test_cuda_layers_store_uint8_and_skip_traces_in_eval():
    cuda = pytest.importorskip("numba.cuda")
    if not cuda.is_available():  # pragma: no cover
        pytest.skip("no CUDA device and the simulator is off")
    h = currents(T=6, B=2, N=3, seed=4)
    cpu_layer = snn.LIF(threshold=0.7)
    expected = cpu_layer.forward(h)
    gpu_layer = snn.LIF(threshold=0.7).to("cuda")
    s = gpu_layer.forward(h)
    assert s.dtype == np.uint8
    np.testing.assert_array_equal(s.copy_to_host(), expected)
    gpu_layer.eval()
    np.testing.assert_array_equal(gpu_layer.forward(h).copy_to_host(), expected)
    assert gpu_layer.v is None
    with pytest.raises(RuntimeError, match="evaluation mode"):
        gpu_layer.backward(np.ones(h.shape))
