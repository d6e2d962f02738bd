"""The "bars" problem and a predictive-coding model that learns to generate it.

Each image is a ``size x size`` binary grid in which every one of the ``2 size``
horizontal and vertical bars is drawn independently with probability ``p_bar``
(Foldiak 1990). The generative model has non-negative latent rates ``z``, predicts the
pixels as Bernoulli logits ``z @ W + b``, and scores the data with a
``BernoulliErrorCell`` (logit inputs). Inference relaxes ``z`` for a few steps along the
cell's error ``dp`` sent back through ``W``, with an L1 prior pulling rates to zero;
learning applies the Hebbian rule of ``HebbianProjection`` with the same error.
"""
import numpy as np

from .._validation import check_int, check_positive
from ..cells import BernoulliErrorCell
from ..predictive import HebbianProjection


def make_bars(n_samples, size=8, p_bar=None, rng=None):
    """Binary images ``[n_samples, size * size]`` of random horizontal and vertical bars."""
    n_samples = check_int("n_samples", n_samples, 1)
    size = check_int("size", size, 2)
    p_bar = 1.0 / size if p_bar is None else check_positive("p_bar", p_bar)
    rng = np.random.default_rng(rng)
    rows = rng.random((n_samples, size)) < p_bar
    cols = rng.random((n_samples, size)) < p_bar
    images = rows[:, :, None] | cols[:, None, :]
    return images.reshape(n_samples, size * size).astype(np.float64)


class BarsModel:
    """Latent rates -> Bernoulli pixels, inferred and learned from one error cell."""

    def __init__(self, n_pixels, n_latent, batch_size, rng=None, sparsity=0.05, rate=0.1,
                 inference_steps=30):
        self.projection = HebbianProjection(n_latent, n_pixels, rng=rng, init_scale=0.1)
        self.cell = BernoulliErrorCell("pixels", n_pixels, batch_size=batch_size,
                                       input_logits=True, dtype=np.float64)
        self.sparsity, self.rate, self.inference_steps = sparsity, rate, inference_steps

    def infer(self, x):
        """Relax the latent rates for ``x``; returns (z, L per sample)."""
        if self.cell.batch_size != x.shape[0]:
            self.cell.batched_reset(x.shape[0])
        z = np.zeros((x.shape[0], self.projection.n_latent))
        self.cell.target = x
        for _ in range(self.inference_steps):
            self.cell.p = self.projection.predict(z)
            self.cell.advance_state()
            z = np.maximum(0.0, z + self.rate * (self.projection.feedback(self.cell.dp) - self.sparsity))
        self.cell.p = self.projection.predict(z)
        return z, self.cell.advance_state() / x.shape[0]

    def learn(self, x, lr):
        """Infer, then one Hebbian step from the cell's error; returns L per sample."""
        z, ll = self.infer(x)
        self.projection.update(z, self.cell.dp, lr)
        return ll

    def reconstruction_error(self, x):
        """Fraction of pixels whose thresholded prediction differs from the data."""
        z, _ = self.infer(x)
        return float(np.mean((self.projection.predict(z) > 0) != (x > 0.5)))


def train_bars(n_samples=1000, size=8, n_latent=20, epochs=30, batch_size=100, lr=0.5, rng=0,
               progress=False):
    """Train a ``BarsModel``; returns dict(log_likelihood per epoch (mean per image, on a
    held-out set), reconstruction_error, model)."""
    from tqdm.auto import tqdm
    rng = np.random.default_rng(rng)
    data, held_out = make_bars(n_samples, size, rng=rng), make_bars(200, size, rng=rng)
    model = BarsModel(size * size, n_latent, batch_size, rng=rng)
    history = [model.infer(held_out)[1]]
    for _ in tqdm(range(epochs), desc="bars", unit="epoch", disable=not progress):
        order = rng.permutation(n_samples)
        for start in range(0, n_samples - batch_size + 1, batch_size):
            model.learn(data[order[start:start + batch_size]], lr)
        history.append(model.infer(held_out)[1])
    return {"log_likelihood": history, "reconstruction_error": model.reconstruction_error(held_out),
            "model": model}
