"""Every CUDA launcher equals its CPU twin (under NUMBA_ENABLE_CUDASIM=1 without a GPU)."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

cuda = pytest.importorskip("numba.cuda")
if not cuda.is_available():  # pragma: no cover
    pytest.skip("no CUDA device and the simulator is off", allow_module_level=True)

from snnumba.kernels import cpu, cuda as gpu  # noqa: E402
from snnumba.kernels.cuda import linalg  # noqa: E402
from snnumba.tasks.sound_localization import StimulusConfig, phase_tables  # noqa: E402

pytestmark = pytest.mark.cuda
SIMULATED = cuda.simulator_enabled if hasattr(cuda, "simulator_enabled") else True


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    # small blocks: fast under the simulator, and several blocks with a ragged last one
    monkeypatch.setattr(gpu.config, "THREADS_PER_BLOCK", 8)


def on_device(*arrays):
    return [cuda.to_device(np.ascontiguousarray(a)) for a in arrays]


def nan_like(*arrays):
    """Output buffers filled with NaN (integer buffers: their largest value, never a spike):
    an element a kernel forgets to write keeps it (a buffer holding the CPU's answer would
    hide it)."""
    return [np.full(a.shape, np.nan if a.dtype.kind == "f" else np.iinfo(a.dtype).max, a.dtype)
            for a in arrays]


def lif_inputs(seed, shape, dtype):
    rng = np.random.default_rng(seed)
    h = rng.normal(0.4, 1.0, shape).astype(dtype)
    th = rng.uniform(0.5, 1.5, shape[1:]).astype(dtype)
    return h, th


small_shapes = st.tuples(st.integers(1, 9), st.integers(1, 4), st.integers(1, 11))


def lif_outputs(shape, dtype, record_v=True):
    """Host arrays for lif_forward's outputs: v (zero steps when not recorded), s, v_final, s_final."""
    T, B, N = shape
    return [np.empty((T if record_v else 0, B, N), dtype), np.empty(shape, np.uint8),
            np.empty((B, N), dtype), np.empty((B, N), np.uint8)]


@settings(max_examples=8)
@given(small_shapes, st.integers(0, 10**6), st.floats(0.0, 1.0), st.booleans())
# B * N threads in blocks of 8: one thread, a full block, a ragged second block, three blocks
@example((2, 1, 1), 0, 0.5, True)
@example((3, 2, 4), 1, 0.9, True)
@example((3, 3, 3), 2, 1.0, False)
@example((2, 1, 17), 3, 0.0, True)
@example((1, 3, 5), 4, 0.8, True)     # fewer steps than samples
def test_lif_forward_backward_twins(shape, seed, alpha, record_v):
    T, B, N = shape
    h, th = lif_inputs(seed, shape, np.float64)
    z, z8 = np.zeros((B, N)), np.zeros((B, N), np.uint8)
    outs_cpu = lif_outputs(shape, np.float64, record_v)
    cpu.lif_forward(h, alpha, th, z, z8, *outs_cpu)
    d = on_device(h, th, z, z8, *nan_like(*outs_cpu))
    gpu.lif_forward(d[0], alpha, d[1], d[2], d[3], *d[4:])
    for a, b in zip(outs_cpu, d[4:]):
        assert b.dtype == a.dtype and b.shape == a.shape
        np.testing.assert_allclose(b.copy_to_host(), a, rtol=1e-12, atol=1e-12)
    if not record_v:
        return
    v, s = outs_cpu[:2]
    rng = np.random.default_rng(seed + 1)
    gs, gv = rng.normal(size=shape), rng.normal(size=shape)
    for code in range(4):
        for grad_v in (gv, np.empty((0, B, N))):   # zero steps: no dL/dv
            gh = np.empty(shape)
            cpu.lif_backward(h, v, s, alpha, th, code, 3.0, gs, grad_v, gh)
            dh, = on_device(*nan_like(gh))
            dv = on_device(h, v, s, th, gs, grad_v)
            gpu.lif_backward(dv[0], dv[1], dv[2], alpha, dv[3], code, 3.0, dv[4], dv[5], dh)
            np.testing.assert_allclose(dh.copy_to_host(), gh, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lif_twin_membrane_exactly_at_threshold(dtype):
    """H(0) = 0 on the GPU too: v == threshold gives no spike, the next float above does."""
    h = np.zeros((4, 2, 1), dtype)
    h[0, 0, 0] = 1.0
    h[0, 1, 0] = np.nextafter(dtype(1.0), dtype(2.0))
    th, z = np.ones((2, 1), dtype), np.zeros((2, 1), dtype)
    d = on_device(h, th, z, z, *nan_like(h, h, z, z))
    gpu.lif_forward(d[0], dtype(0.5), d[1], d[2], d[3], *d[4:])
    s = d[5].copy_to_host()
    np.testing.assert_array_equal(s[:, 0, 0], [0, 0, 0, 0])
    np.testing.assert_array_equal(s[:, 1, 0], [0, 0, 1, 0])


def test_lif_twins_at_the_default_block_size(monkeypatch):
    """129 threads in blocks of the real default (128): the second block holds one thread."""
    monkeypatch.setattr(gpu.config, "THREADS_PER_BLOCK", 128)
    shape = (2, 3, 43)
    h, th = lif_inputs(9, shape, np.float64)
    z = np.zeros(shape[1:])
    outs = [np.empty(shape), np.empty(shape), np.empty(shape[1:]), np.empty(shape[1:])]
    cpu.lif_forward(h, 0.7, th, z, z, *outs)
    d = on_device(h, th, z, z, *nan_like(*outs))
    gpu.lif_forward(d[0], 0.7, d[1], d[2], d[3], *d[4:])
    for a, b in zip(outs, d[4:]):
        np.testing.assert_array_equal(b.copy_to_host(), a)
    gs = np.random.default_rng(10).normal(size=shape)
    gh = np.empty(shape)
    cpu.lif_backward(h, outs[0], outs[1], 0.7, th, 2, 3.0, gs, np.zeros(shape), gh)
    dgh, = on_device(*nan_like(gh))
    dv = on_device(h, outs[0], outs[1], th, gs, np.zeros(shape))
    gpu.lif_backward(dv[0], dv[1], dv[2], 0.7, dv[3], 2, 3.0, dv[4], dv[5], dgh)
    np.testing.assert_allclose(dgh.copy_to_host(), gh, rtol=1e-12, atol=1e-14)


def test_lif_forward_twin_float32():
    h, th = lif_inputs(5, (12, 3, 10), np.float32)
    z, z8 = np.zeros((3, 10), np.float32), np.zeros((3, 10), np.uint8)
    outs = lif_outputs(h.shape, np.float32)
    cpu.lif_forward(h, np.float32(0.8), th, z, z8, *outs)
    d = on_device(h, th, z, z8, *nan_like(*outs))
    gpu.lif_forward(d[0], np.float32(0.8), d[1], d[2], d[3], *d[4:])
    np.testing.assert_allclose(d[4].copy_to_host(), outs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(d[5].copy_to_host(), outs[1])
    assert outs[1].any()


@settings(max_examples=8)
@given(small_shapes, st.integers(0, 10**6), st.floats(0.0, 1.0))
def test_readout_twins(shape, seed, alpha):
    T, B, N = shape
    rng = np.random.default_rng(seed)
    h, gv = rng.normal(size=shape), rng.normal(size=shape)
    v, vf, gh = np.empty(shape), np.empty((B, N)), np.empty(shape)
    cpu.readout_forward(h, alpha, np.zeros((B, N)), v, vf)
    cpu.readout_backward(alpha, gv, gh)
    d = on_device(h, np.zeros((B, N)), *nan_like(v, vf), gv, *nan_like(gh))
    gpu.readout_forward(d[0], alpha, d[1], d[2], d[3])
    gpu.readout_backward(alpha, d[4], d[5])
    np.testing.assert_allclose(d[2].copy_to_host(), v, rtol=1e-12)
    np.testing.assert_allclose(d[3].copy_to_host(), vf, rtol=1e-12)
    np.testing.assert_allclose(d[5].copy_to_host(), gh, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("power", [2.0, 3.0])
def test_sound_spikes_twin(power):
    cfg = StimulusConfig(anf_per_ear=6, duration=0.012, envelope_power=power)
    rng = np.random.default_rng(2)
    ipd = rng.random(5) * np.pi - np.pi / 2
    ids = np.array([3, 0, 7, 1, 2])
    sin_a, cos_a = phase_tables(cfg, 0.37)
    out = np.empty((cfg.steps, 5, cfg.n_inputs), np.float32)
    cpu.sound_localization_spikes(sin_a, cos_a, ipd, ids, 77, 0.6, power, out)
    d = on_device(sin_a, cos_a, ipd, ids)
    dout = cuda.device_array(out.shape, np.float32)
    gpu.sound_localization_spikes(*d, 77, 0.6, power, dout)
    np.testing.assert_array_equal(dout.copy_to_host(), out)


def test_optimizer_twins():
    rng = np.random.default_rng(4)
    p, g, m, v = (rng.normal(size=37) for _ in range(4))
    v = np.abs(v)
    cp = [a.copy() for a in (p, g, m, v)]
    cpu.adam_step(*cp, 1e-2, 0.9, 0.999, 1e-8, 0.01, 0.1, 0.002)
    d = on_device(p, g, m, v)
    gpu.adam_step(*d, 1e-2, 0.9, 0.999, 1e-8, 0.01, 0.1, 0.002)
    for a, b in zip(cp, d):
        np.testing.assert_allclose(b.copy_to_host(), a, rtol=1e-12)
    for first in (True, False):
        cp = [p.copy(), g.copy(), m.copy()]
        cpu.sgd_step(*cp, 0.1, 0.9, 0.1, 0.01, False, first)
        d = on_device(p, g, m)
        gpu.sgd_step(*d, 0.1, 0.9, 0.1, 0.01, False, first)
        for a, b in zip(cp, d):
            np.testing.assert_allclose(b.copy_to_host(), a, rtol=1e-12)


@pytest.mark.parametrize("trans_a,trans_b,accumulate", [(False, False, False), (True, False, True),
                                                        (False, True, False)])
def test_matmul_twin(trans_a, trans_b, accumulate):
    rng = np.random.default_rng(6)
    a = rng.normal(size=(7, 5) if not trans_a else (5, 7))
    b = rng.normal(size=(5, 3) if not trans_b else (3, 5))
    out = rng.normal(size=(7, 3))
    want = (a.T if trans_a else a) @ (b.T if trans_b else b) + (out if accumulate else 0)
    d = on_device(a, b, out)
    linalg.matmul(d[0], d[1], d[2], trans_a, trans_b, accumulate)
    np.testing.assert_allclose(d[2].copy_to_host(), want, rtol=1e-12)


def test_elementwise_twins():
    rng = np.random.default_rng(7)
    w = rng.normal(size=(9, 5))
    w[0, 0] = 0.0
    sign = np.where(rng.random((9, 5)) < 0.5, -1.0, 1.0)
    g = rng.normal(size=(9, 5))
    d = on_device(w, sign, g, np.zeros((9, 5)), np.ones((9, 5)))
    linalg.dale_weights(d[0], d[1], d[3])
    np.testing.assert_array_equal(d[3].copy_to_host(), np.abs(w) * sign)
    linalg.dale_grad(d[0], d[1], d[2], d[4])
    np.testing.assert_allclose(d[4].copy_to_host(), 1 + g * sign * np.sign(w))
    h, bias, acc = on_device(g, np.arange(5.0), np.ones(5))
    linalg.add_bias(h, bias)
    np.testing.assert_allclose(h.copy_to_host(), g + np.arange(5.0))
    linalg.column_sum(h, acc)
    np.testing.assert_allclose(acc.copy_to_host(), 1 + (g + np.arange(5.0)).sum(axis=0))


@settings(max_examples=6)
@given(st.integers(1, 9), st.integers(1, 11), st.integers(0, 4), st.integers(0, 10**6),
       st.sampled_from([np.float32, np.float64]))
def test_spike_cluster_twin(T, N, T_in, seed, dtype):
    rng = np.random.default_rng(seed)
    v = np.round(rng.uniform(-1.0, 2.0, (T, N)), 1).astype(dtype)   # exact threshold hits, ties
    th = np.round(rng.uniform(0.8, 1.2, N), 1).astype(dtype)
    outs = [np.empty(N, dtype), np.empty(N, np.int64), np.empty(N, np.int64), np.empty((4, N), dtype)]
    cpu.spike_cluster(v, th, T_in, *outs)
    d = on_device(v, th, *outs)
    gpu.spike_cluster(d[0], d[1], T_in, *d[2:])
    for a, b in zip(outs, d[2:]):
        np.testing.assert_array_equal(b.copy_to_host(), a)


@pytest.mark.parametrize("dtype", [np.float64, np.uint8, np.int8])
def test_first_spike_index_twin(dtype):
    rng = np.random.default_rng(8)
    spikes = rng.choice(np.array([0, 0, 0, 1, 2, -1]), size=(11, 40)).astype(dtype)
    spikes[3] = 0               # a row without spikes: the zero skip
    spikes[4, 35] = 1           # a spike after the first 32 zeros
    spikes[4, :35] = 0
    if dtype == np.float64:
        spikes[5, 20] = np.nan  # reported through `finite`
    out, finite = np.empty(spikes.shape, np.bool_), np.empty(11, np.bool_)
    cpu.first_spike_index(spikes, out, finite)
    d = on_device(spikes, out, finite)
    gpu.first_spike_index(*d)
    np.testing.assert_array_equal(d[1].copy_to_host(), out)
    np.testing.assert_array_equal(d[2].copy_to_host(), finite)
    assert finite.sum() == 11 - (dtype == np.float64)


@pytest.mark.parametrize("T", [1, 5, 300])
def test_time_mean_twins(T):
    rng = np.random.default_rng(T)
    spikes = rng.integers(0, 256, (T, 19), dtype=np.uint8)
    spikes[:, 0] = 255          # the largest count
    x = rng.normal(size=(T, 19)).astype(np.float32)
    for cpu_kernel, gpu_kernel, data in ((cpu.spike_time_mean, gpu.spike_time_mean, spikes),
                                         (cpu.time_mean, gpu.time_mean, x)):
        out = np.empty(19, np.float32)
        cpu_kernel(data, out)
        d = on_device(data, out)
        gpu_kernel(*d)
        np.testing.assert_array_equal(d[1].copy_to_host(), out)
