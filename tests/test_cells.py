"""Error cells against a transcription of ngclearn's arithmetic, and their derivatives."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from snnumba.cells import BernoulliErrorCell, GaussianErrorCell
from snnumba.tasks.bars import make_bars, train_bars
from tests.reference import naive_bernoulli_cell, naive_gaussian_cell

dtypes = st.sampled_from([np.float32, np.float64])


@st.composite
def cell_case(draw):
    dtype = draw(dtypes)
    batch = draw(st.integers(1, 4))
    shape = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * 3)))
    n = draw(st.integers(1, 6))
    full = (batch,) + ((n,) if shape is None else shape)
    logits = draw(st.booleans())
    p = draw(hnp.arrays(dtype, full, elements=st.floats(-6, 6, width=32) if logits else st.floats(0, 1, width=32)))
    target = draw(hnp.arrays(dtype, full, elements=st.floats(0, 1, width=32)))
    modulator = draw(hnp.arrays(dtype, full, elements=st.floats(-2, 2, width=32)))
    mask = draw(hnp.arrays(dtype, full, elements=st.sampled_from([0.0, 1.0])))
    return dtype, batch, n, shape, logits, p, target, modulator, mask


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@given(cell_case())
def test_bernoulli_cell_equals_seed(case):
    dtype, batch, n, shape, logits, p, target, modulator, mask = case
    cell = BernoulliErrorCell("c", n, batch_size=batch, input_logits=logits, shape=shape, dtype=dtype)
    cell.p, cell.target, cell.modulator, cell.mask = p, target, modulator, mask
    L = cell.advance_state(1.0)
    want = naive_bernoulli_cell(*(a.astype(np.float64) for a in (p, target, modulator, mask)), logits)
    assert L == pytest.approx(want[0], rel=1e-5 if dtype == np.float32 else 1e-10, abs=1e-6)
    np.testing.assert_allclose(cell.dp, want[1], **tolerance(dtype))
    np.testing.assert_allclose(cell.dtarget, want[2], **tolerance(dtype))
    np.testing.assert_array_equal(cell.mask, 1.0)


@given(cell_case(), st.floats(0.1, 5.0))
def test_gaussian_cell_equals_seed(case, sigma):
    dtype, batch, n, shape, _, mu, target, modulator, mask = case
    cell = GaussianErrorCell("g", n, batch_size=batch, sigma=sigma, shape=shape, dtype=dtype)
    cell.mu, cell.target, cell.modulator, cell.mask = mu, target, modulator, mask
    L = cell.advance_state()
    want = naive_gaussian_cell(*(a.astype(np.float64) for a in (mu, target, modulator, mask)), sigma)
    assert L == pytest.approx(want[0], rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(cell.dmu, want[1], **tolerance(dtype))
    np.testing.assert_allclose(cell.dtarget, want[2], **tolerance(dtype))
    np.testing.assert_array_equal(cell.mask, 1.0)


def numeric_gradient(cell, name, eps=1e-6):
    base = getattr(cell, name).copy()
    grad = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        values = []
        for step in (eps, -eps):
            shifted = base.copy()
            shifted[i] += step
            setattr(cell, name, shifted)
            values.append(cell.advance_state())
        grad[i] = (values[0] - values[1]) / (2 * eps)
    setattr(cell, name, base)
    return grad


def test_bernoulli_derivatives_against_finite_differences():
    rng = np.random.default_rng(0)
    # logits: dp is dL/dp (away from the clip at 1e-4); dtarget is dL/dtarget
    cell = BernoulliErrorCell("c", 5, batch_size=3, input_logits=True, dtype=np.float64)
    cell.p, cell.target = rng.normal(size=(3, 5)), rng.random((3, 5))
    cell.advance_state()
    dp, dtarget = cell.dp.copy(), cell.dtarget.copy()
    np.testing.assert_allclose(dp, numeric_gradient(cell, "p"), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dtarget, numeric_gradient(cell, "target"), rtol=1e-6, atol=1e-8)
    # probabilities: the seed multiplies dL/dp by sigmoid'(p), so dp is NOT dL/dp there
    cell = BernoulliErrorCell("c", 5, batch_size=3, input_logits=False, dtype=np.float64)
    p = rng.uniform(0.05, 0.95, (3, 5))
    cell.p, cell.target = p, rng.random((3, 5))
    cell.advance_state()
    dp = cell.dp.copy()
    dL_dp = numeric_gradient(cell, "p")
    s = 1 / (1 + np.exp(-p))
    np.testing.assert_allclose(dp, dL_dp * s * (1 - s), rtol=1e-6, atol=1e-8)
    assert not np.allclose(dp, dL_dp)
    np.testing.assert_allclose(cell.dtarget, numeric_gradient(cell, "target"), rtol=1e-6, atol=1e-8)


def test_gaussian_derivatives_against_finite_differences():
    rng = np.random.default_rng(1)
    cell = GaussianErrorCell("g", 4, batch_size=2, sigma=0.7, dtype=np.float64)
    cell.mu, cell.target = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    cell.advance_state()
    dmu, dtarget = cell.dmu.copy(), cell.dtarget.copy()
    np.testing.assert_allclose(dmu, numeric_gradient(cell, "mu"), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dtarget, numeric_gradient(cell, "target"), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("cls,inputs", [(BernoulliErrorCell, ("p", "target", "modulator", "mask")),
                                        (GaussianErrorCell, ("mu", "target", "modulator", "mask"))])
def test_reset_and_batched_reset(cls, inputs):
    cell = cls("c", 3, batch_size=2)
    for name, value in zip(inputs, (0.3, 0.8, 2.0, 0.0)):
        setattr(cell, name, np.full((2, 3), value))
    cell.advance_state()
    assert cell.L != 0
    np.testing.assert_array_equal(cell.mask, 1.0)
    cell.reset()
    rest = {"modulator": 1.0, "mask": 1.0}
    for name in inputs + cell.OUTPUTS[1:]:
        np.testing.assert_array_equal(getattr(cell, name), np.full((2, 3), rest.get(name, 0.0)))
    assert cell.L == 0.0
    cell.batched_reset(5)
    assert cell.batch_size == 5 and all(getattr(cell, n).shape == (5, 3) for n in inputs + cell.OUTPUTS[1:])
    four_d = cls("d", 3, batch_size=2, shape=(4, 5, 2))
    four_d.batched_reset(3)
    assert four_d.target.shape == (3, 4, 5, 2)


def test_compartment_errors_and_help():
    cell = BernoulliErrorCell("c", 3, batch_size=2)
    with pytest.raises(ValueError, match="compartment 'p'.*shape \\(2, 3\\)"):
        cell.p = np.zeros((2, 4))
    with pytest.raises(TypeError, match="'target'"):
        cell.target = np.array([["a", "b", "c"]] * 2)
    with pytest.raises(ValueError, match="'p' contains NaN"):
        cell.p = np.full((2, 3), np.nan)
    with pytest.raises(ValueError, match="'shape'"):
        BernoulliErrorCell("c", 3, shape=(2, 2))
    with pytest.raises(ValueError, match="'sigma'"):
        GaussianErrorCell("g", 3, sigma=0.0)
    info = BernoulliErrorCell.help()
    assert set(info["compartments"]["inputs"]) == {"p", "target", "modulator", "mask"}
    assert set(info["compartments"]["outputs"]) == {"L", "dp", "dtarget"}
    assert "input_logits" in info["hyperparameters"]
    assert "sigma" in GaussianErrorCell.help()["hyperparameters"]


@pytest.mark.cuda
@pytest.mark.parametrize("logits", [False, True])
def test_cells_cuda_twin(logits, monkeypatch):
    cuda = pytest.importorskip("numba.cuda")
    if not cuda.is_available():
        pytest.skip("no CUDA device or simulator")
    from snnumba.kernels import cuda as gpu
    monkeypatch.setattr(gpu.config, "THREADS_PER_BLOCK", 8)
    rng = np.random.default_rng(2)
    arrays = {"p": rng.normal(size=(3, 7)) if logits else rng.random((3, 7)), "target": rng.random((3, 7)),
              "modulator": rng.normal(size=(3, 7)), "mask": (rng.random((3, 7)) < 0.5).astype(float)}
    cells = [BernoulliErrorCell("c", 7, 3, input_logits=logits, dtype=np.float64, device=d) for d in ("cpu", "cuda")]
    for cell in cells:
        for name, value in arrays.items():
            setattr(cell, name, value)
        cell.advance_state()
    cpu_cell, gpu_cell = cells
    assert gpu_cell.L == pytest.approx(cpu_cell.L, rel=1e-12)
    for name in ("dp", "dtarget", "mask"):
        np.testing.assert_allclose(gpu_cell.backend.to_host(getattr(gpu_cell, name)), getattr(cpu_cell, name), rtol=1e-12)
    g = [GaussianErrorCell("g", 7, 3, sigma=0.5, dtype=np.float64, device=d) for d in ("cpu", "cuda")]
    for cell in g:
        cell.mu, cell.target, cell.mask = arrays["p"], arrays["target"], arrays["mask"]
        cell.advance_state()
    assert g[1].L == pytest.approx(g[0].L, rel=1e-12)
    np.testing.assert_allclose(g[1].backend.to_host(g[1].dmu), g[0].dmu, rtol=1e-12)


def test_bars_data():
    x = make_bars(50, size=6, rng=0)
    assert x.shape == (50, 36) and set(np.unique(x)) <= {0.0, 1.0}
    images = x.reshape(50, 6, 6)
    # every image is a union of full rows and full columns
    for img in images:
        rows, cols = img.all(axis=1), img.all(axis=0)
        np.testing.assert_array_equal(img, rows[:, None] | cols[None, :])


def test_predictive_coding_log_likelihood_improves():
    result = train_bars(n_samples=300, size=6, n_latent=12, epochs=6, batch_size=50, rng=1)
    ll = result["log_likelihood"]
    assert ll[-1] > ll[0] + 10, ll          # nats per image: a clear margin
    assert ll[-1] > ll[len(ll) // 2]
    assert result["reconstruction_error"] < 0.05
