"""Bad input is caught where it enters (issue 12, items 3, 5, 6 and 7)."""
import re

import numpy as np
import pytest

import snnumba as snn
from snnumba.classifiers import MaxRateClassifier
from snnumba.functional import spike_similar_loss
from snnumba.homeostasis import LinearHomeostasis


def net(last=None):
    return snn.Network([snn.Dense(3, 2, rng=0), snn.LIF(), snn.Dense(2, 2, rng=1), last or snn.LeakyReadout()])


X = np.ones((5, 2, 3))
BAD_GRADS = [(np.nan, ValueError, "contains NaN"), (np.inf, ValueError, "contains NaN"),
             (1j, TypeError, "must hold real numbers")]


# --- item 3: non-finite values ------------------------------------------------------------
# Every neuron model: its input's finiteness is read from the final state, not scanned
NEURON_LAYERS = {
    "LIF": lambda: snn.LIF(),
    "LIF same step, subtract": lambda: snn.LIF(reset="subtract", spike_timing="same_step"),
    "LIF late reset, no reset": lambda: snn.LIF(reset="none", spike_timing="same_step_late_reset"),
    "CUBA adaptive": lambda: snn.LIF(tau_syn=2e-3, tau_adapt=5e-3, adapt_strength=0.5),
    "LIF euler, alpha = 0": lambda: snn.LIF(tau=1e-3, decay="euler"),
    "IF": lambda: snn.IF(),
    "RecurrentLIF": lambda: snn.RecurrentLIF(3, tau_syn=2e-3, rng=0),
    "LeakyReadout": lambda: snn.LeakyReadout(),
}


@pytest.mark.parametrize("layer", NEURON_LAYERS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("step", [0, 3, -1])
@pytest.mark.parametrize("training", [True, False])
def test_neuron_layers_refuse_non_finite_input(layer, value, step, training):
    h = np.full((6, 2, 3), 0.7)
    h[step, 1, 2] = value
    lay = NEURON_LAYERS[layer]()
    lay.train(training)
    with pytest.raises(ValueError, match="'h' contains NaN or infinite"):
        lay.forward(h)
    assert lay.state is None  # nothing of the bad pass was kept
    h[step, 1, 2] = 0.7
    lay.forward(h)             # the same layer runs on finite input


@pytest.mark.parametrize("sizes", [(7, 2), (2, 7)], ids=["narrowing: product checked", "widening: input checked"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [(0, 0, 0), (-1, -1, -1), (2, 1, 3)])
@pytest.mark.parametrize("delay", [False, True])
def test_dense_refuses_non_finite_float_input(sizes, value, where, delay):
    """Wherever the bad value sits (also in the last step, which a delay would carry past
    the end), Dense refuses it, before or after its product, and names 'x'."""
    n_in, n_out = sizes
    x = np.full((4, 2, n_in), 0.5)
    x[where[0], where[1], where[2] % n_in] = value
    layer = snn.Dense(n_in, n_out, rng=0, **(dict(delay=2e-3) if delay else {}))
    with pytest.raises(ValueError, match="'x' contains NaN or infinite"):
        layer.forward(x)
    with pytest.raises(RuntimeError, match="before forward"):  # nothing of the refused pass is kept
        layer.backward(np.zeros((4, 2, n_out)))
    x[where[0], where[1], where[2] % n_in] = 0.5
    layer.forward(x)


def test_dense_zero_weights_still_find_non_finite_input():
    """inf * 0 is NaN: a zero weight row does not hide a bad input from the product check."""
    layer = snn.Dense(5, 2, rng=0)
    layer.params["weight"][:] = 0
    x = np.zeros((3, 1, 5))
    x[1, 0, 2] = np.inf
    with pytest.raises(ValueError, match="'x' contains NaN or infinite"):
        layer.forward(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_neuron_layer_refuses_an_overflowing_membrane(dtype):
    big = np.finfo(dtype).max
    h = np.full((4, 1, 2), big, dtype)
    with pytest.raises(ValueError, match="membrane overflowed"):
        snn.LIF(reset="none", dtype=dtype).forward(h)


@pytest.mark.parametrize("value,exc,match", BAD_GRADS)
def test_backward_rejects_bad_grad_out(value, exc, match):
    n = net()
    n.forward(X)
    grad = np.zeros((5, 2, 2), np.result_type(np.float64, type(value)))
    grad[2, 1, 0] = value
    with pytest.raises(exc, match=f"'grad_out' {match}"):
        n.backward(grad)
    assert all(not g.any() for g in n.gradients())  # nothing reached the gradients


@pytest.mark.parametrize("value,exc,match", BAD_GRADS)
def test_backward_rejects_bad_grad_v(value, exc, match):
    n = net(last=snn.LIF())
    n.forward(X)
    grad_v = np.zeros((5, 2, 2), np.result_type(np.float64, type(value)))
    grad_v[-1, 0, 1] = value
    with pytest.raises(exc, match=f"'grad_v' {match}"):
        n.backward(np.zeros((5, 2, 2)), grad_v=grad_v)


def test_load_state_dict_rejects_nan_naming_the_key_and_changes_nothing():
    n = net()
    before = n.state_dict()
    state = {k: v + 1 for k, v in before.items()}
    state["2.weight"][1, 0] = np.inf
    with pytest.raises(ValueError, match="'2.weight' contains NaN or infinite"):
        n.load_state_dict(state)
    for key, value in n.state_dict().items():  # '0.weight' (checked first) was not copied either
        np.testing.assert_array_equal(value, before[key])


def test_network_load_rejects_nan_parameter(tmp_path):
    arrays = net().to_arrays()
    arrays["param:0.weight"][0, 0] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*'param:0.weight' contains NaN"):
        snn.Network.load(path)


@pytest.mark.parametrize("key", ["param:2.weight", "optim:0.weight:1"])
def test_checkpoint_load_rejects_nan(tmp_path, key):
    n = net()
    trainer = snn.Trainer(n, snn.Adam(n), progress=False)
    n.forward(X)
    n.backward(np.ones((5, 2, 2)))
    trainer.optimizer.step()  # creates the moments
    path = tmp_path / "ck.npz"
    trainer.save_checkpoint(path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays[key] = np.full_like(arrays[key], np.nan)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=re.escape(str(path)) + f".*'{key}' contains NaN"):
        trainer.load_checkpoint(path)


def test_classifier_rejects_nan_rates():
    clf = MaxRateClassifier(3, 2)
    with pytest.raises(ValueError, match="'rates' contains NaN"):
        clf.rates = np.full((3, 2), np.nan)
    with pytest.raises(ValueError, match="'rates' contains NaN"):
        clf.load_state_dict({"rates": np.array([[1.0, np.inf], [0, 1], [1, 0]])})
    assert np.isfinite(clf.regress(np.ones((2, 3)))).all()  # the rejected rates were not kept


def test_softmax_nll_rejects_nan_and_wrong_dimensions():
    labels = np.array([0, 1])
    with pytest.raises(ValueError, match="'logits' contains NaN"):
        snn.losses.softmax_nll(np.array([[0.0, np.nan], [1.0, 2.0]]), labels)
    with pytest.raises(ValueError, match=re.escape("'logits' must have 2 dimensions, got shape (2, 3, 4)")):
        snn.losses.softmax_nll(np.zeros((2, 3, 4)), labels)
    with pytest.raises(ValueError, match="'logits' must have at least one sample and one class"):
        snn.losses.softmax_nll(np.zeros((2, 0)), labels)


def test_polynomial_kernel_gradient_with_a_silent_sample():
    """d = 0.5: d a^(d-1) is infinite at a = 0; the documented convention takes it as 0."""
    rng = np.random.default_rng(0)
    spikes = rng.random((3, 2, 4)) + 0.1
    spikes[2] = 0.0                                                   # a silent sample
    labels = np.array([[1, 0], [0, 1], [1, 0]])

    def loss(s):
        return spike_similar_loss(s, labels, "polynomial", "mse", 0.5)
    value, grad = spike_similar_loss(spikes, labels, "polynomial", "mse", 0.5, return_grad=True)
    assert np.isfinite(value) and np.isfinite(grad).all()
    np.testing.assert_array_equal(grad[2], 0.0)
    eps = 1e-6
    for idx in np.ndindex(2, 2, 4):                                   # the active samples: smooth there
        step = np.zeros_like(spikes)
        step[idx] = eps
        numeric = (loss(spikes + step) - loss(spikes - step)) / (2 * eps)
        np.testing.assert_allclose(grad[idx], numeric, rtol=1e-5, atol=1e-8)


# --- item 5: adjacent sizes ------------------------------------------------------------
def test_network_checks_adjacent_sizes():
    with pytest.raises(ValueError, match=r"layer 2 \(Dense\) takes 12 inputs but layer 0 \(Dense\) gives 10"):
        snn.Network([snn.Dense(20, 10), snn.LIF(), snn.Dense(12, 4), snn.LeakyReadout()])
    with pytest.raises(ValueError, match=r"layer 1 \(Dense\) takes 3 inputs but layer 0 \(Dense\) gives 2"):
        snn.Network([snn.Dense(3, 2), snn.Dense(3, 2)])
    assert len(snn.Network([snn.LIF(), snn.Dense(20, 10), snn.LIF(), snn.Dense(10, 4)]).layers) == 4


# --- item 6: the seed's Dale's law truncates ----------------------------------------------
@pytest.mark.parametrize("n_in,ie_ratio,inhibitory", [
    (7, 0.5, 3), (31, 0.5, 15), (9, 0.3, 2), (30, 0.1, 3),   # the numbers, from torch
    (200, 0.5, 100), (30, 0.5, 15),                           # the sound-localization layers
])
def test_dales_law_inhibitory_rows_as_the_seed(n_in, ie_ratio, inhibitory):
    sign = snn.Dense(n_in, 2, dales_law=True, ie_ratio=ie_ratio).buffers["sign"]
    expected = np.ones((n_in, 2))
    expected[:inhibitory] = -1
    np.testing.assert_array_equal(sign, expected)


# --- item 7: LinearHomeostasis arguments -------------------------------------------------
def pair(n_in=6, n_out=4):
    dense = snn.Dense(n_in, n_out, bias=True, rng=0, dtype=np.float64)
    lif = snn.LIF(tau=10e-3)
    return dense, lif, snn.Network([dense, lif], dtype=np.float64)


@pytest.mark.parametrize("target", [np.full(5, 0.1), np.full((2, 3, 4), 0.1), np.full((4, 2), 0.1)])
def test_homeostasis_target_must_fit_at_register(target):
    dense, lif, _ = pair()
    with pytest.raises(ValueError, match=r"'target' of shape .* does not fit unit 'u'"):
        LinearHomeostasis(0.1, None, "bias").register("u", dense, lif, target=target)
    with pytest.raises(ValueError, match=r"'target' of shape .* does not fit unit 'u'"):
        LinearHomeostasis(0.1, target, "bias").register("u", dense, lif)


def test_homeostasis_target_batch_is_checked_at_step():
    dense, lif, net = pair()
    homeo = LinearHomeostasis(0.1, None, "bias")
    homeo.register("u", dense, lif, target=np.full((2, 4), 0.1))      # a batch of 2
    net.forward(np.ones((10, 3, 6)))                                  # a batch of 3
    with pytest.raises(ValueError, match=re.escape("'target' of shape (2, 4) does not fit unit 'u'")):
        homeo.step()
    net.forward(np.ones((10, 3, 6)))
    with pytest.raises(ValueError, match="'target'"):
        homeo.step(target=np.full(5, 0.1))


@pytest.mark.parametrize("name,reduce", [("sum", np.sum), ("max", np.max), ("median", np.median)])
def test_homeostasis_batch_reduction_by_name(name, reduce):
    rng = np.random.default_rng(3)
    dense, lif, net = pair()
    homeo = LinearHomeostasis(0.01, 0.1, "bias", batch_reduction=name)
    homeo.register("u", dense, lif)
    s = net.forward((rng.random((20, 5, 6)) < 0.4).astype(np.float64))
    rate = s.mean(axis=0)
    before = dense.params["bias"].copy()
    homeo.step()
    k = 0.01 * (0.1 - rate) / 0.1
    expected = before + reduce(np.maximum(k, 0), axis=0) - reduce(np.maximum(-k, 0), axis=0)
    np.testing.assert_allclose(dense.params["bias"], expected, rtol=1e-12)


def test_homeostasis_bad_batch_reduction():
    dense, lif, _ = pair()
    with pytest.raises(ValueError, match="unknown batch_reduction 'average'"):
        LinearHomeostasis(0.1, 0.1, "bias", batch_reduction="average")
    with pytest.raises(TypeError, match="'batch_reduction' must be a callable"):
        LinearHomeostasis(0.1, 0.1, "bias", batch_reduction=3)
    with pytest.raises(ValueError, match="unknown batch_reduction 'total'"):
        LinearHomeostasis(0.1, 0.1, "bias").register("u", dense, lif, batch_reduction="total")
