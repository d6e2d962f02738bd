"""Every CUDA launcher equals its CPU twin (under NUMBA_ENABLE_CUDASIM=1 without a GPU)."""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

cuda = pytest.importorskip("numba.cuda")
if not cuda.is_available():  # pragma: no cover
    pytest.skip("no CUDA device and the simulator is off", allow_module_level=True)

from snnumba.kernels import cpu, cuda as gpu  # noqa: E402
from snnumba.kernels.cuda import linalg  # noqa: E402
from snnumba.kernels.neuron_step import RESETS, TIMINGS  # noqa: E402
from snnumba.tasks.sound_localization import StimulusConfig, phase_tables  # noqa: E402
from tests.kernels.test_neuron import COMBOS, combo_id  # noqa: E402

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


small_shapes = st.tuples(st.integers(1, 9), st.integers(1, 4), st.integers(1, 11))


def neuron_arrays(h, combo, rng, record=True):
    """Every argument of neuron_forward for the combination (reset, timing, synapse,
    adaptation, recurrent) on host arrays; the outputs filled by ``nan_like``."""
    T, B, N = h.shape
    reset, timing, syn, adapt, rec = combo
    dt = h.dtype
    const = [rng.uniform(0.5, 0.95, N).astype(dt) if present else np.empty(0, dt)
             for present in (True, syn, adapt, adapt)]
    weight = rng.uniform(-0.6, 0.6, (N, N)).astype(dt) if rec else np.empty((0, 0), dt)
    th = rng.uniform(0.5, 1.2, (B, N)).astype(dt)
    start = [rng.normal(0, 0.5, (B, N)).astype(dt) if k in "via" else (rng.random((B, N)) < 0.4).astype(np.uint8)
             for k in "vsiaz"]
    steps = [np.empty((T if present else 0, B, N), dt) for present in (record, True, record and syn,
                                                                        record and adapt, rec and record)]
    steps[1] = np.empty((T, B, N), np.uint8)
    final = [np.empty((B, N), np.uint8 if k in "sz" else dt) for k in "vsiaz"]
    return [h, weight] + const + [th, RESETS.index(reset), TIMINGS.index(timing)] + start + steps + final


def run_neuron_twins(args):
    """neuron_forward on the CPU and on the device; returns (cpu outputs, device outputs),
    leaving out the final i, a, z of a layer without synapse, adaptation, recurrence
    (unspecified there)."""
    host = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    cpu.neuron_forward(*host)
    dev = [cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
           for a in args[:14]] + on_device(*nan_like(*args[14:]))
    gpu.neuron_forward(*dev)
    present = [True] * 7 + [args[3].size > 0, args[4].size > 0, args[1].size > 0]
    return ([a for a, p in zip(host[14:], present) if p],
            [d.copy_to_host() for d, p in zip(dev[14:], present) if p])


def neuron_backward_args(fwd, combo, rng, code, grad_v):
    """neuron_backward's arguments from a forward call's arguments ``fwd`` (after it ran)."""
    h, weight, alpha, alpha_syn, rho, strength, th, reset, timing, v0, s0 = fwd[:11]
    v, s, i, a, x = fwd[14:19]
    B, N = h.shape[1:]
    gs = rng.normal(size=h.shape).astype(h.dtype)
    rows = [np.empty((B, N) if present else (0, 0), h.dtype) for present in (True, combo[2], True)]
    return [x if combo[4] else h, weight, v, s, i, a, alpha, alpha_syn, rho, strength, th, reset, timing, v0, s0,
            code, 3.0, gs, grad_v, np.empty(h.shape, h.dtype)] + rows


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_neuron_forward_backward_twins(combo):
    """Every option combination (tiny sizes: the simulator is slow). Forward: float64 equal
    to the CPU's; spikes equal; backward allclose (the recurrent backward's sums run in
    another order on the device)."""
    rng = np.random.default_rng(sum(map(ord, combo_id(combo))))
    shape = (5, 2, 11)                   # 22 threads in blocks of 8: a ragged third block
    h = rng.normal(0.4, 1.0, shape)
    fwd = neuron_arrays(h, combo, rng)
    want, got = run_neuron_twins(fwd)
    for a, b in zip(want, got):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    host = [a.copy() if isinstance(a, np.ndarray) else a for a in fwd]
    cpu.neuron_forward(*host)
    for grad_v in (rng.normal(size=shape), np.empty((0,) + shape[1:])):
        args = neuron_backward_args(host, combo, rng, int(rng.integers(4)), grad_v)
        cpu_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        cpu.neuron_backward(*cpu_args)
        dev = [cuda.to_device(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in args[:19]]
        dev += on_device(*nan_like(*args[19:]))
        gpu.neuron_backward(*dev)
        for a, d in zip(cpu_args[19:], dev[19:]):
            np.testing.assert_allclose(d.copy_to_host(), a, rtol=1e-9, atol=1e-10)
    # evaluation mode: nothing recorded, the same spikes and final state
    fwd_eval = neuron_arrays(h, combo, np.random.default_rng(0), record=False)
    want, got = run_neuron_twins(fwd_eval)
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("combo", [("zero", "delayed", False, False, None),
                                   ("subtract", "same_step", True, True, "self")], ids=combo_id)
def test_neuron_forward_twin_float32(combo):
    """float32: the device runs the same operations in the same dtype, so the spikes and the
    membrane equal the CPU's (the recurrent sum too: the same order)."""
    rng = np.random.default_rng(5)
    h = rng.normal(0.4, 1.0, (12, 3, 10)).astype(np.float32)
    want, got = run_neuron_twins(neuron_arrays(h, combo, rng))
    for a, b in zip(want, got):
        np.testing.assert_array_equal(b, a)
    assert want[1].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_neuron_twin_membrane_exactly_at_threshold(dtype):
    """H(0) = 0 on the GPU too: v == threshold gives no spike, the next float above does."""
    h = np.zeros((4, 2, 1), dtype)
    h[0, 0, 0] = 1.0
    h[0, 1, 0] = np.nextafter(dtype(1.0), dtype(2.0))
    fwd = neuron_arrays(h, ("zero", "delayed", False, False, None), np.random.default_rng(0))
    fwd[2][:] = 0.5
    fwd[6][:] = 1.0
    for k in range(9, 14):
        fwd[k][:] = 0
    _, got = run_neuron_twins(fwd)
    np.testing.assert_array_equal(got[1][:, 0, 0], [0, 0, 0, 0])
    np.testing.assert_array_equal(got[1][:, 1, 0], [0, 0, 1, 0])


def test_neuron_twins_at_the_default_block_size(monkeypatch):
    """129 threads in blocks of the real default (128): the second block holds one thread;
    a recurrent row of 129 neurons: threads loop over more neurons than the block holds."""
    monkeypatch.setattr(gpu.config, "THREADS_PER_BLOCK", 128)
    rng = np.random.default_rng(9)
    for combo, shape in ((("zero", "delayed", False, False, None), (2, 3, 43)),
                         (("subtract", "same_step", True, False, "self"), (2, 1, 129))):
        want, got = run_neuron_twins(neuron_arrays(rng.normal(0.4, 1.0, shape), combo, rng))
        for a, b in zip(want, got):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


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
