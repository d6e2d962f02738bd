"""Dense with synaptic delays: kernel vs a NumPy loop, backward vs finite differences, CUDA twins."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import snnumba as snn
from tests.reference import naive_delayed_dense


def delayed_layer(rng, n_in, n_out, mode, max_steps=3, bias=False, dales_law=False, dtype=np.float64, device="cpu"):
    delay = rng.uniform(0, max_steps, (n_in, n_out)) * 1e-3
    layer = snn.Dense(n_in, n_out, bias=bias, dales_law=dales_law, rng=rng, delay=delay,
                      max_delay=max_steps * 1e-3, delay_mode=mode, dtype=dtype)
    return snn.Network([layer], device=device, dtype=dtype).layers[0], delay / 1e-3


@given(st.integers(1, 8), st.integers(1, 3), st.integers(1, 5), st.integers(1, 4),
       st.sampled_from(["round", "linear"]), st.integers(0, 2**32 - 1), st.booleans())
@example(6, 2, 4, 3, "linear", 0, True)
def test_delayed_forward_equals_loop(T, B, n_in, n_out, mode, seed, sparse):
    """Dense or sparse 0/1 input (the kernel skips zeros; a one must not be skipped)."""
    rng = np.random.default_rng(seed)
    layer, steps = delayed_layer(rng, n_in, n_out, mode)
    x = (rng.random((T, B, n_in)) < 0.3).astype(np.float64) if sparse else rng.normal(size=(T, B, n_in))
    if mode == "round":
        steps = np.rint(steps)
    np.testing.assert_allclose(layer.forward(x), naive_delayed_dense(x, layer.params["weight"], steps),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode,dales_law", [("round", False), ("linear", True)])
def test_delayed_backward_matches_central_differences(mode, dales_law):
    rng = np.random.default_rng(3)
    layer, _ = delayed_layer(rng, 4, 3, mode, bias=True, dales_law=dales_law)
    x = rng.normal(size=(7, 2, 4))
    G = rng.normal(size=(7, 2, 3))
    layer.forward(x)
    layer.zero_grad()
    grad_x = layer.backward(G)

    def fd(array):
        out = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            old = array[i]
            array[i] = old + 1e-6
            up = np.sum(G * layer.forward(x))
            array[i] = old - 1e-6
            down = np.sum(G * layer.forward(x))
            array[i] = old
            out[i] = (up - down) / 2e-6
        return out
    for name, p in layer.params.items():
        np.testing.assert_allclose(layer.grads[name], fd(p), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(grad_x, fd(x), rtol=1e-7, atol=1e-8)


def test_zero_delays_equal_plain_dense():
    rng = np.random.default_rng(4)
    plain = snn.Dense(5, 3, rng=0, dtype=np.float64)
    delayed = snn.Dense(5, 3, rng=0, delay=0.0, dtype=np.float64)
    x = rng.normal(size=(6, 2, 5))
    np.testing.assert_allclose(delayed.forward(x), plain.forward(x), rtol=1e-12)


def test_delay_validation_and_save(tmp_path):
    with pytest.raises(ValueError, match="'delay' must lie in"):
        snn.Dense(2, 2, delay=np.array([[0.0, 2e-3], [0.0, 0.0]]), max_delay=1e-3)
    with pytest.raises(ValueError, match="'delay' must lie in"):
        snn.Dense(2, 2, delay=-1e-3)
    with pytest.raises(ValueError, match="unknown delay_mode"):
        snn.Dense(2, 2, delay=0.0, delay_mode="cubic")
    rng = np.random.default_rng(5)
    net = snn.Network([delayed_layer(rng, 3, 2, "linear")[0], snn.LeakyReadout()], dtype=np.float64)
    net.save(tmp_path / "d.npz")
    loaded = snn.Network.load(tmp_path / "d.npz")
    x = rng.normal(size=(5, 2, 3))
    np.testing.assert_array_equal(loaded.forward(x), net.forward(x))


@pytest.mark.cuda
@settings(max_examples=5)
@given(st.integers(1, 6), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3),
       st.sampled_from(["round", "linear"]), st.integers(0, 10**6))
def test_delay_cuda_twins(T, B, n_in, n_out, mode, seed):
    cuda = pytest.importorskip("numba.cuda")
    if not cuda.is_available():
        pytest.skip("no CUDA")
    from snnumba.kernels import cuda as kernels
    layers = [delayed_layer(np.random.default_rng(seed), n_in, n_out, mode, device=d)[0] for d in ("cpu", "cuda")]
    rng = np.random.default_rng(seed + 1)
    x, G = (rng.random((T, B, n_in)) < 0.5).astype(np.float64), rng.normal(size=(T, B, n_out))
    outs = []
    old, kernels.config.THREADS_PER_BLOCK = kernels.config.THREADS_PER_BLOCK, 4   # several blocks
    try:
        for layer in layers:
            h = layer.backend.to_host(layer.forward(x))
            layer.zero_grad()
            gx = layer.backend.to_host(layer.backward(G))
            outs.append((h, gx, layer.backend.to_host(layer.grads["weight"])))
    finally:
        kernels.config.THREADS_PER_BLOCK = old
    for a, b in zip(*outs):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
