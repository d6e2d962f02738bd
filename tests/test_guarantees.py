"""Guarantees users rely on: gradients accumulate, snapshots are copies, the best epoch is
restored, a saved network comes back with every hyperparameter (checked by behaviour:
the same output *and* the same BPTT gradients), silent outputs have the textbook loss, and
the documented defaults hold."""
import numpy as np
import pytest

import snnumba as snn
from tests.reference import naive_adam, naive_lif_forward, naive_readout_forward, naive_sgd, tangent_lif

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.fixture
def device_small_blocks(request, monkeypatch):
    """The device of the test; on 'cuda', blocks of 8 threads so that launches span several."""
    device = request.param
    if device == "cuda":
        cuda = pytest.importorskip("numba.cuda")
        if not cuda.is_available():
            pytest.skip("no CUDA device and the simulator is off")
        from snnumba.kernels import cuda as gpu
        monkeypatch.setattr(gpu.config, "THREADS_PER_BLOCK", 8)
    return device


def spiking_net(device="cpu", dtype=np.float64, seed=0, bias=False, dales_law=False, delay_mode=None):
    rng = np.random.default_rng(seed)
    delay = dict(delay=rng.uniform(0, 3e-3, (5, 6)), max_delay=3e-3, delay_mode=delay_mode) if delay_mode else {}
    return snn.Network([snn.Dense(5, 6, bias=bias, dales_law=dales_law, rng=rng, init_bound=1.0, **delay),
                        snn.LIF(tau=8e-3, threshold=0.8),
                        snn.Dense(6, 3, bias=bias, dales_law=dales_law, rng=rng),
                        snn.LeakyReadout(tau=6e-3)], device=device, dtype=dtype)


def sparse_spikes(seed, T=12, B=3, n=5):
    return (np.random.default_rng(seed).random((T, B, n)) < 0.4).astype(np.float64)


# --- accumulation -------------------------------------------------------------------------
@pytest.mark.parametrize("device_small_blocks", DEVICES, indirect=True)
@pytest.mark.parametrize("options", [{}, {"bias": True}, {"dales_law": True}, {"delay_mode": "round"},
                                     {"delay_mode": "linear", "bias": True, "dales_law": True}],
                         ids=["plain", "bias", "dale", "delay-round", "delay-linear-bias-dale"])
def test_two_backward_calls_give_twice_the_gradient(device_small_blocks, options):
    """backward adds into the gradients: a second call adds exactly the same again."""
    net = spiking_net(device_small_blocks, **options)
    be = net.backend
    out = be.to_host(net.forward(sparse_spikes(1)))
    _, grad = snn.readout_nll(out, np.array([0, 2, 1]), scale=0.5)
    net.zero_grad()
    net.backward(grad)
    once = {name: be.to_host(g).copy() for name, _, g in net.named_parameters()}
    net.backward(grad)
    for name, _, g in net.named_parameters():
        assert np.abs(once[name]).sum() > 0, name
        np.testing.assert_array_equal(be.to_host(g), 2 * once[name], err_msg=name)


# --- snapshots ----------------------------------------------------------------------------
@pytest.mark.parametrize("device_small_blocks", DEVICES, indirect=True)
def test_state_dict_returns_copies(device_small_blocks):
    net = spiking_net(device_small_blocks, bias=True, dales_law=True, delay_mode="round")
    be = net.backend
    live = lambda: {f"{i}.{name}": np.array(be.to_host(a))  # noqa: E731 - read around state_dict
                    for i, layer in enumerate(net.layers)
                    for store in (layer.params, layer.buffers) for name, a in store.items()}
    before = live()
    state = net.state_dict()
    assert state.keys() == before.keys()
    for value in state.values():           # writing into the snapshot ...
        value[...] = 123.0
    for key, value in live().items():      # ... leaves the network alone
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    snapshot = net.state_dict()
    net.load_state_dict({key: value + 1.0 for key, value in before.items()})   # in-place update
    for key, value in snapshot.items():    # ... and changing the network leaves the snapshot alone
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def overshoot_task():
    """A one-weight regression whose validation optimum lies on the way to the training
    optimum: the validation loss falls for a few epochs, then rises again."""
    x = np.ones((4, 8, 1))
    train = snn.ArrayData(x, np.full((8, 4, 1), 2.0))
    val = snn.ArrayData(x, np.full((8, 4, 1), 0.8))
    net = snn.Network([snn.Dense(1, 1, bias=True, rng=0, init_bound=0.1), snn.LeakyReadout(tau=2e-3)],
                      dtype=np.float64)

    def loss(out, target):
        return snn.mse(out, np.moveaxis(target, 0, 1))
    return net, train, val, loss


@pytest.mark.parametrize("restore_best", [True, False])
def test_fit_restores_the_best_epoch_not_the_last(restore_best):
    net, train, val, loss = overshoot_task()
    seen = []   # weights copied straight from the layer after every epoch (not via state_dict)
    record = lambda epoch, history: seen.append([p.copy() for p in net.parameters()])  # noqa: E731
    trainer = snn.Trainer(net, snn.SGD(net, lr=0.02), loss=loss, progress=False, report=record)
    # restore_best=True is the default: left out
    history = trainer.fit(train, val, epochs=12, batch_size=8, rng=0, early_stopping=False,
                          **({} if restore_best else {"restore_best": False}))
    best = history["best_epoch"]
    assert 0 < best < len(seen) - 1, history["val_loss"]          # the case this test is about
    assert history["val_loss"][best] == min(history["val_loss"])
    want = seen[best] if restore_best else seen[-1]
    other = seen[-1] if restore_best else seen[best]
    for p, w, o in zip(net.parameters(), want, other):
        np.testing.assert_array_equal(p, w)
        assert not np.array_equal(p, o)


# --- round trips by behaviour -------------------------------------------------------------
def rich_network(dtype, beta=3.5, seed=0):
    """Every saved hyperparameter away from its default."""
    rng = np.random.default_rng(seed)
    dt = 5e-4
    return snn.Network([
        snn.Dense(5, 6, bias=True, dales_law=True, ie_ratio=0.4, init_bound=1.5, rng=rng, dt=dt,
                  delay=rng.uniform(0, 2e-3, (5, 6)), max_delay=2.5e-3, delay_mode="linear"),
        snn.LIF(tau=7e-3, threshold=rng.uniform(0.5, 0.9, 6), dt=dt, surrogate="arctan", beta=beta),
        snn.Dense(6, 4, rng=rng, dt=dt, init_bound=1.2, delay=rng.uniform(0, 1e-3, (6, 4)), delay_mode="round"),
        snn.IF(threshold=0.3, dt=dt, surrogate="triangle", beta=0.7),
        snn.Dense(4, 3, bias=True, rng=rng, dt=dt),
        snn.LeakyReadout(tau=11e-3, dt=dt)], dtype=dtype)


def output_and_gradients(net, x, labels):
    out = np.array(net.backend.to_host(net.forward(x)))
    _, grad = snn.readout_nll(out, labels, scale=0.3)
    net.zero_grad()
    net.backward(grad)
    return out, {name: np.array(net.backend.to_host(g)) for name, _, g in net.named_parameters()}


def test_save_load_keeps_every_hyperparameter(tmp_path):
    dtype = np.float64   # a lost dtype would come back as float32: no longer equal
    net = rich_network(dtype)
    net.save(tmp_path / "net.npz")
    loaded = snn.Network.load(tmp_path / "net.npz")
    assert loaded.dtype == np.dtype(dtype)
    x, labels = sparse_spikes(7, T=30, B=4), np.array([0, 1, 2, 1])
    out, grads = output_and_gradients(net, x, labels)
    out2, grads2 = output_and_gradients(loaded, x, labels)
    np.testing.assert_array_equal(out2, out)
    for name, g in grads.items():
        assert np.abs(g).sum() > 0, name
        np.testing.assert_array_equal(grads2[name], g, err_msg=name)
    # the check can fail: a lost surrogate steepness leaves the output alone but not the gradients
    other_out, other_grads = output_and_gradients(rich_network(dtype, beta=2.0), x, labels)
    np.testing.assert_array_equal(other_out, out)
    assert not np.array_equal(other_grads["0.weight"], grads["0.weight"])


# --- silent samples and ties in the losses --------------------------------------------------
@pytest.mark.parametrize("loss_fn,scale", [(snn.readout_nll, 0.01), (snn.spike_count_cross_entropy, 1.0),
                                           (snn.spike_count_cross_entropy, 0.5)])
def test_silent_output_gives_uniform_softmax(loss_fn, scale):
    """All-zero output: every class ties, the loss is log C and dL/dout = scale (1/C - onehot) / B."""
    T, B, C = 6, 3, 4
    labels = np.array([3, 0, 3])
    loss, grad = loss_fn(np.zeros((T, B, C)), labels, scale=scale)
    assert loss == pytest.approx(np.log(C), rel=1e-12)
    want = scale * (np.full((B, C), 1 / C) - np.eye(C)[labels]) / B
    np.testing.assert_allclose(grad, np.broadcast_to(want, (T, B, C)), rtol=1e-12, atol=1e-15)


def test_softmax_losses_survive_large_outputs():
    """The log-softmax is shifted by its maximum: outputs of 1e4 give the exact loss, not inf/NaN."""
    v = np.zeros((2, 2, 3))
    v[:, 0, 0], v[:, 1, 2] = 5e3, 5e3          # time sums of 1e4 for the labelled classes
    loss, grad = snn.spike_count_cross_entropy(v, np.array([0, 1]))
    assert loss == pytest.approx(1e4 / 2, rel=1e-12)  # sample 1 pays 1e4, sample 0 nothing
    np.testing.assert_allclose(grad[0], [[0, 0, 0], [0, -0.5, 0.5]], atol=1e-12)


def test_spike_count_loss_by_hand():
    """One sample fires, one is silent: loss and gradient worked out from the definition."""
    spikes = np.zeros((3, 2, 2))
    spikes[:, 0, 1] = 1.0                     # sample 0: 3 spikes for class 1, label 1
    loss, grad = snn.spike_count_cross_entropy(spikes, np.array([1, 0]), scale=1.0)
    p1 = np.exp(3) / (1 + np.exp(3))          # softmax([0, 3])[1]
    assert loss == pytest.approx((-np.log(p1) + np.log(2)) / 2, rel=1e-12)
    np.testing.assert_allclose(grad[0], [[(1 - p1) / 2, (p1 - 1) / 2], [-0.25, 0.25]], rtol=1e-12)


def test_stca_loss_of_a_silent_neuron():
    """No spike, one desired cluster: the loss raises the highest membrane, at its step."""
    v = np.array([[0.1, 0.3, 0.7, 0.2, 0.7]]).T   # a tie at the top: the first step wins
    loss, grad = snn.losses.stca_loss(v, 1.0, 1, N_d=1)
    assert loss == pytest.approx(1.0 - 0.7)
    np.testing.assert_array_equal(grad[:, 0], [0, 0, -1, 0, 0])
    assert snn.losses.stca_loss(np.zeros((4, 2)), 1.0, 1, N_d=0) == (0.0, pytest.approx(np.zeros((4, 2))))


# --- documented defaults, by behaviour -------------------------------------------------------
#: Default surrogate steepness per surrogate, as documented (kernels/scalar.py; the seed's sigmoid: 5).
DEFAULT_STEEPNESS = {"sigmoid": 5.0, "fast_sigmoid": 10.0, "arctan": 2.0, "triangle": 1.0}


@pytest.mark.parametrize("surrogate", list(DEFAULT_STEEPNESS))
def test_lif_defaults(surrogate):
    """LIF(): tau 5 ms, dt 1 ms, threshold 1, the surrogate's default steepness."""
    rng = np.random.default_rng(3)
    h = rng.normal(0.6, 0.8, (15, 2, 4))
    lif = snn.LIF(surrogate=surrogate, dtype=np.float64)
    s = lif.forward(h)
    alpha = np.exp(-1e-3 / 5e-3)
    v_ref, s_ref, _, _ = naive_lif_forward(h, alpha, 1.0)
    np.testing.assert_allclose(lif.v, v_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(s, s_ref)
    assert s.any()
    gs, dh = rng.normal(size=h.shape), rng.normal(size=h.shape)
    grad_h = lif.backward(gs)
    _, _, _, ds = tangent_lif(h, dh, alpha, 1.0, surrogate, DEFAULT_STEEPNESS[surrogate])
    assert np.sum(grad_h * dh) == pytest.approx(np.sum(gs * ds), rel=1e-9)
    assert snn.LIFParams().alpha == pytest.approx(alpha, rel=1e-15)


def test_if_and_readout_defaults():
    h = np.random.default_rng(4).normal(0.3, 1.0, (10, 2, 3))
    layer = snn.IF(dtype=np.float64)                        # alpha = 1, threshold 1
    np.testing.assert_array_equal(layer.forward(h), naive_lif_forward(h, 1.0, 1.0)[1])
    readout = snn.LeakyReadout(dtype=np.float64)            # tau 5 ms, dt 1 ms
    np.testing.assert_allclose(readout.forward(h), naive_readout_forward(h, np.exp(-0.2))[0], rtol=1e-12)


def test_dense_and_layer_defaults():
    dense = snn.Dense(7, 4, rng=0)
    assert set(dense.params) == {"weight"} and not dense.buffers      # no bias, no Dale, no delays
    assert np.abs(dense.params["weight"]).max() <= 1 / np.sqrt(4)      # the seed's init bound
    assert dense.params["weight"].dtype == np.float32
    dense.eval()
    assert dense.train().training


def test_optimizer_defaults():
    """Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay (PyTorch's); SGD: lr 1e-2,
    no momentum, no weight decay, and with momentum no dampening and no Nesterov. Two steps:
    the first step of SGD is the same with and without momentum."""
    p0, grads = np.array([[0.5, -1.0]]), [np.array([[0.2, 0.3]]), np.array([[-0.4, 0.1]])]
    cases = [(snn.Adam, {}, lambda p, g, s, k: naive_adam(p, g, *s, k, 1e-3, 0.9, 0.999, 1e-8, 0.0)),
             (snn.SGD, {}, lambda p, g, s, k: naive_sgd(p, g, s[0], k, 1e-2, 0.0, 0.0, 0.0, False)),
             (snn.SGD, {"momentum": 0.9}, lambda p, g, s, k: naive_sgd(p, g, s[0], k, 1e-2, 0.9, 0.0, 0.0, False))]
    for make, kwargs, reference in cases:
        net = snn.Network([snn.Dense(1, 2, rng=0)], dtype=np.float64)
        layer = net.layers[0]
        layer.params["weight"][...] = p0
        opt = make(net, **kwargs)
        want, slots = p0, (np.zeros_like(p0), np.zeros_like(p0))
        for step, g in enumerate(grads, 1):
            layer.grads["weight"][...] = g
            opt.step()
            want, *slots = reference(want, g, slots, step)
            np.testing.assert_allclose(layer.params["weight"], want, rtol=1e-13, err_msg=f"{make.__name__} {kwargs}")
