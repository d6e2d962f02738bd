"""Network assembly, state, modes, saving, and the CUDA path against the CPU one."""
import numpy as np
import pytest

import snnumba as snn
from snnumba.tasks import sound_localization as sl
from tests.reference import tangent_lif


def small_net(device="cpu", dtype=np.float64, dales_law=False, seed=0):
    rng = np.random.default_rng(seed)
    return snn.Network([snn.Dense(6, 5, bias=True, dales_law=dales_law, rng=rng, init_bound=1.0),
                        snn.LIF(tau=8e-3, threshold=0.8, surrogate="arctan"),
                        snn.Dense(5, 3, dales_law=dales_law, rng=rng),
                        snn.LeakyReadout(tau=4e-3)], device=device, dtype=dtype)


def spikes(seed, T=20, B=4, n=6):
    return (np.random.default_rng(seed).random((T, B, n)) < 0.4).astype(np.float64)


def test_forward_shapes_and_reset():
    net = small_net()
    x = spikes(0)
    out = net.forward(x)
    assert out.shape == (20, 4, 3)
    np.testing.assert_array_equal(out, net.forward(x))  # each call starts from rest


def test_continue_state_equals_one_long_run():
    net = small_net()
    x = spikes(1, T=30)
    whole = net.forward(x).copy()
    first = net.forward(x[:12]).copy()
    second = net.forward(x[12:], reset=False)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12)
    with pytest.raises(ValueError, match="reset"):
        net.forward(spikes(1, T=5, B=2), reset=False)


def test_per_sample_thresholds():
    net = small_net()
    x = spikes(2)
    lif = net.layers[1]
    lif.threshold = np.full((4, 5), 100.0)
    net.forward(x)
    assert lif._trace[2].sum() == 0  # nothing fires
    lif.threshold = np.array([0.8, 0.8, 0.8, 0.8, 1e9])
    net.forward(x)
    assert lif._trace[2][:, :, 4].sum() == 0
    with pytest.raises(ValueError, match="threshold"):
        lif.threshold = np.ones((2, 3, 4))


def test_train_eval_flags():
    net = small_net().eval()
    assert not any(layer.training for layer in net.layers)
    assert all(layer.training for layer in net.train().layers)


def test_save_load_round_trip(tmp_path):
    net = small_net(dales_law=True)
    path = tmp_path / "net.npz"
    net.save(path)
    loaded = snn.Network.load(path)
    x = spikes(3)
    np.testing.assert_array_equal(loaded.forward(x), net.forward(x))
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in net.layers]
    assert loaded.layers[0].dales_law


def test_save_never_leaves_partial_file(tmp_path, monkeypatch):
    net = small_net()
    path = tmp_path / "net.npz"
    net.save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError):
        net.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]


def test_load_rejects_foreign_file(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not an snnumba network"):
        snn.Network.load(tmp_path / "x.npz")


def test_dales_law_keeps_signs():
    net = small_net(dales_law=True)
    w_eff = net.layers[0].effective_weight()
    n_inh = int(0.5 * 6)
    assert np.all(w_eff[:n_inh] <= 0) and np.all(w_eff[n_inh:] >= 0)


@pytest.mark.cuda
def test_cuda_training_step_equals_cpu(monkeypatch):
    cuda = pytest.importorskip("numba.cuda")
    if not cuda.is_available():
        pytest.skip("no CUDA device or simulator")
    from snnumba.kernels import cuda as gpu
    monkeypatch.setattr(gpu.config, "THREADS_PER_BLOCK", 16)
    results = []
    for device in ("cpu", "cuda"):
        net = small_net(device=device, dales_law=True)
        opt = snn.Adam(net, lr=0.01)
        x, labels = spikes(4, T=12), np.array([0, 1, 2, 0])
        for _ in range(2):
            net.zero_grad()
            loss, grad = snn.readout_nll(net.backend.to_host(net.forward(x)), labels)
            net.backward(grad)
            opt.step()
        results.append((loss, net.state_dict()))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-10)
    for key, value in results[0][1].items():
        np.testing.assert_allclose(results[1][1][key], value, rtol=1e-9, atol=1e-12)


@pytest.mark.cuda
def test_cuda_stimulus_equals_cpu(monkeypatch):
    cuda = pytest.importorskip("numba.cuda")
    if not cuda.is_available():
        pytest.skip("no CUDA device or simulator")
    from snnumba.kernels import cuda as gpu
    monkeypatch.setattr(gpu.config, "THREADS_PER_BLOCK", 64)
    cfg = sl.StimulusConfig(anf_per_ear=4, duration=0.01)
    a = sl.SoundLocalizationData(6, rng=3, config=cfg)
    b = sl.SoundLocalizationData(6, rng=3, config=cfg, device="cuda")
    np.testing.assert_array_equal(b.backend.to_host(b.spikes([5, 1, 2], 0.3)), a.spikes([5, 1, 2], 0.3))


def test_membrane_gradient_reaches_the_weights():
    """Network.backward(grad_out, grad_v) with a spiking last layer (a loss on the membrane,
    as stca_loss): <dW, direction> equals the forward-mode derivative of the loss."""
    rng = np.random.default_rng(5)
    tau, dt = 6e-3, 1e-3
    net = snn.Network([snn.Dense(4, 3, rng=rng, init_bound=1.0),
                       snn.LIF(tau=tau, dt=dt, threshold=0.7, surrogate="fast_sigmoid", beta=4.0)],
                      dtype=np.float64)
    x = (rng.random((15, 2, 4)) < 0.5).astype(np.float64)
    gs, gv = rng.normal(size=(15, 2, 3)), rng.normal(size=(15, 2, 3))
    net.forward(x)
    net.zero_grad()
    net.backward(gs, grad_v=gv)
    w = net.layers[0].params["weight"]
    d = rng.normal(size=w.shape)
    _, _, dv, ds = tangent_lif(x @ w, x @ d, np.exp(-dt / tau), 0.7, "fast_sigmoid", 4.0)
    want = np.sum(gs * ds) + np.sum(gv * dv)
    assert np.sum(net.layers[0].grads["weight"] * d) == pytest.approx(want, rel=1e-9)
    with pytest.raises(ValueError, match="grad_v"):
        net.backward(gs, grad_v=gv[:5])


def test_consecutive_dense_layers_pass_gradients_on():
    """Dense after Dense: the inner one must return its input gradient (layer 0 needs it)."""
    rng = np.random.default_rng(6)
    net = snn.Network([snn.Dense(3, 4, rng=rng), snn.Dense(4, 2, bias=True, rng=rng),
                       snn.LeakyReadout(tau=4e-3)], dtype=np.float64)
    x, G = rng.normal(size=(5, 2, 3)), rng.normal(size=(5, 2, 2))
    net.forward(x)
    net.zero_grad()
    net.backward(G)
    w = net.layers[0].params["weight"]
    fd = np.zeros_like(w)
    for i in np.ndindex(w.shape):                      # the loss is linear in w: exact differences
        old = w[i]
        w[i] = old + 1.0
        up = np.sum(G * net.forward(x))
        w[i] = old - 1.0
        down = np.sum(G * net.forward(x))
        w[i] = old
        fd[i] = (up - down) / 2.0
    np.testing.assert_allclose(net.layers[0].grads["weight"], fd, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_threshold_follows_a_growing_batch(device):
    """A per-neuron threshold is broadcast anew when the batch grows (not a cached [B, N])."""
    if device == "cuda":
        cuda = pytest.importorskip("numba.cuda")
        if not cuda.is_available():
            pytest.skip("no CUDA device or simulator")
    h = np.random.default_rng(7).normal(0.5, 1.0, (10, 4, 3))
    threshold = np.array([0.4, 0.9, 1.6])
    net = snn.Network([snn.LIF(threshold=threshold)], device=device, dtype=np.float64)
    net.forward(h[:, :2])
    grown = net.backend.to_host(net.forward(h))
    fresh = snn.Network([snn.LIF(threshold=threshold)], dtype=np.float64).forward(h)
    np.testing.assert_array_equal(grown, fresh)
