"""Rate-coded pieces for predictive-coding models built around ``snnumba.cells``."""
import numpy as np

from ._validation import check_array, check_float_dtype, check_int, check_positive


class HebbianProjection:
    """Generative projection ``prediction = z @ W + b`` learned by a local Hebbian rule.

    The error cell that compares the prediction with the data emits an error signal
    ``e`` (e.g. ``BernoulliErrorCell.dp``). Inference sends it back to the latent units as
    ``e @ W.T``; learning multiplies presynaptic activity by postsynaptic error,
    ``dW = z.T @ e / B`` and ``db = mean(e)`` (gradient ascent on the cell's L when ``e``
    is its derivative).

    Parameters
    ----------
    n_latent, n_out : int
    rng : numpy.random.Generator or int
    init_scale : float
        Initial weights are normal with this standard deviation.
    """

    def __init__(self, n_latent, n_out, rng=None, init_scale=0.1, dtype=np.float64):
        self.n_latent = check_int("n_latent", n_latent, 1)
        self.n_out = check_int("n_out", n_out, 1)
        self.dtype = check_float_dtype("dtype", dtype)
        rng = np.random.default_rng(rng)
        self.weight = (check_positive("init_scale", init_scale)
                       * rng.standard_normal((self.n_latent, self.n_out))).astype(self.dtype)
        self.bias = np.zeros(self.n_out, self.dtype)

    def predict(self, z):
        return z @ self.weight + self.bias

    def feedback(self, error):
        """The error's message to the latent units, ``error @ W.T``."""
        return error @ self.weight.T

    def update(self, z, error, lr):
        """Hebbian step: ``W += lr z.T e / B``, ``b += lr mean(e)``."""
        z = check_array("z", z, ndim=2)
        error = check_array("error", error, ndim=2)
        if z.shape[0] != error.shape[0]:
            raise ValueError(f"'z' has {z.shape[0]} samples but 'error' has {error.shape[0]}")
        self.weight += lr * (z.T @ error) / z.shape[0]
        self.bias += lr * error.mean(axis=0)
