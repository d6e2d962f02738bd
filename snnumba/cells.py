"""Rate-coded error cells for predictive-coding models (after ngclearn's error cells).

An error cell compares a prediction with a target and emits a local loss ``L`` and the
derivatives that drive inference and learning. Its *compartments* are plain arrays of
shape ``(batch_size, n_units)`` (or ``(batch_size, h, w, c)`` with ``shape=(h, w, c)``),
read and written as attributes; assigning an array of another shape raises ValueError.
``advance_state()`` runs one fused compiled kernel that computes ``L`` and the
derivatives, applies ``modulator * mask`` and resets ``mask`` to ones (a mask applies to
one step only).
"""
import numpy as np

from ._validation import check_array, check_float_dtype, check_int, check_positive
from .backend import get_backend


class _ErrorCell:
    """Compartment storage, shape checks, resets and the help text shared by the cells."""

    #: input compartment -> rest value; output compartments rest at 0
    INPUTS = {}
    OUTPUTS = ()
    DESCRIPTION = {}

    def __init__(self, name, n_units, batch_size, shape, dtype, device):
        object.__setattr__(self, "_arrays", {})
        self.name = str(name)
        self.n_units = check_int("n_units", n_units, 1)
        if shape is None:
            shape = (self.n_units,)
        else:
            shape = tuple(check_int("shape", s, 1) for s in shape)
            if len(shape) != 3:
                raise ValueError(f"'shape' must be (height, width, channels), got {shape}")
        self.shape = shape
        self.dtype = check_float_dtype("dtype", dtype)
        self.backend = get_backend(device)
        self.L = 0.0
        self.batched_reset(batch_size)

    @property
    def array_shape(self):
        """Shape of every array compartment: (batch_size, *shape)."""
        return (self.batch_size,) + self.shape

    def __getattr__(self, name):
        arrays = object.__getattribute__(self, "_arrays")
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name in self.INPUTS or name in self.OUTPUTS[1:]:
            self._arrays[name] = self._compartment(name, value)
        else:
            object.__setattr__(self, name, value)

    def _compartment(self, name, value):
        if self.backend.is_device_array(value):
            shape = tuple(value.shape)
        else:
            # a copy: the step resets the mask in place and must not touch the caller's array
            value = np.array(check_array(name, value), dtype=self.dtype)
            if value.ndim == 0:
                value = np.full(self.array_shape, value, self.dtype)
            shape = value.shape
        if shape != self.array_shape:
            raise ValueError(f"compartment '{name}' of {self.name!r} must have shape "
                             f"{self.array_shape}, got {shape}")
        return self.backend.asarray(value, self.dtype)

    def reset(self):
        """Return every compartment to its rest value (same batch size)."""
        self.batched_reset(self.batch_size)

    def batched_reset(self, batch_size):
        """Rest values with a new batch size: inputs at their rest values, outputs 0, L 0."""
        object.__setattr__(self, "batch_size", check_int("batch_size", batch_size, 1))
        for name, rest in self.INPUTS.items():
            self._arrays[name] = self.backend.asarray(np.full(self.array_shape, rest, self.dtype))
        for name in self.OUTPUTS[1:]:
            self._arrays[name] = self.backend.zeros(self.array_shape, self.dtype)
        self.L = 0.0

    def _flat(self, *names):
        return [self._arrays[n].reshape(self._arrays[n].size) for n in names]

    @classmethod
    def help(cls):
        """A description of the cell, its compartments and hyperparameters (a dict)."""
        return {cls.__name__: {"cell_type": cls.DESCRIPTION["cell_type"]},
                "compartments": {"inputs": dict(cls.DESCRIPTION["inputs"]),
                                 "outputs": dict(cls.DESCRIPTION["outputs"])},
                "dynamics": cls.DESCRIPTION["dynamics"],
                "hyperparameters": dict(cls.DESCRIPTION["hyperparameters"])}

    def __repr__(self):
        return (f"{type(self).__name__}(name={self.name!r}, n_units={self.n_units}, "
                f"batch_size={self.batch_size}, shape={self.shape}, L={self.L:.6g})")


_SHARED_HYPERPARAMETERS = {
    "n_units": "number of units in the population",
    "batch_size": "number of samples processed at once (leading array axis)",
    "shape": "optional (height, width, channels) of a 4-D population; arrays are then (batch, h, w, c)",
}


class BernoulliErrorCell(_ErrorCell):
    """Error cell of a factorised Bernoulli likelihood ``target ~ Bernoulli(p)``.

    Parameters
    ----------
    name : str
    n_units : int
    batch_size : int
    input_logits : bool
        Treat ``p`` as logits (``q = sigmoid(p)``) instead of probabilities.
    shape : (h, w, c), optional
        Use 4-D compartments ``(batch_size, h, w, c)``.
    dtype : float32 or float64
    device : {'cpu', 'cuda'}

    Compartments
    ------------
    inputs ``p`` (rest 0), ``target`` (0), ``modulator`` (1), ``mask`` (1);
    outputs ``L`` (a float), ``dp``, ``dtarget``.

    Notes
    -----
    With ``q = clip(sigmoid(p) or p, 1e-4, 1 - 1e-4)`` and ``x = target``::

        L       = sum(x log q + (1 - x) log(1 - q))
        dp      = (x - q) * modulator * mask                                    (logits)
                = (x / q - (1 - x) / (1 - q)) * sigmoid'(p) * modulator * mask   (probabilities)
        dtarget = (log q - log(1 - q)) * modulator * mask

    With probability inputs, ngclearn multiplies by ``sigmoid'(p)`` evaluated at the
    probability itself, so ``dp`` is then *not* ``dL/dp`` (which has no such factor); the
    cell keeps that behaviour. With logits, ``dp`` is ``dL/dp`` wherever q is not clipped.
    """

    INPUTS = {"p": 0.0, "target": 0.0, "modulator": 1.0, "mask": 1.0}
    OUTPUTS = ("L", "dp", "dtarget")
    DESCRIPTION = {
        "cell_type": "BernoulliErrorCell: Bernoulli log-likelihood of a binary target under a "
                     "predicted probability (or logit), with its derivatives, at each step",
        "inputs": {"p": "predicted probability of a 1 (or its logit with input_logits=True)",
                   "target": "observed binary value(s)",
                   "modulator": "multiplicative modulation of the derivatives",
                   "mask": "binary gate on the derivatives, reset to ones after each step"},
        "outputs": {"L": "log-likelihood summed over every unit and sample (nats)",
                    "dp": "error signal for the prediction p (see the class notes)",
                    "dtarget": "derivative of L with respect to the target"},
        "dynamics": "target ~ Bernoulli(q), q = clip(p or sigmoid(p), 1e-4, 1 - 1e-4)",
        "hyperparameters": dict(_SHARED_HYPERPARAMETERS,
                                input_logits="whether p holds logits rather than probabilities"),
    }

    def __init__(self, name, n_units, batch_size=1, input_logits=False, shape=None,
                 dtype=np.float32, device="cpu"):
        object.__setattr__(self, "input_logits", bool(input_logits))
        super().__init__(name, n_units, batch_size, shape, dtype, device)

    def advance_state(self, dt=None):
        """One step: compute L, dp, dtarget and reset the mask (``dt`` is unused)."""
        p, target, modulator, mask, dp, dtarget = self._flat("p", "target", "modulator", "mask", "dp", "dtarget")
        self.L = self.backend.bernoulli_error_cell(p, target, modulator, mask, self.input_logits, dp, dtarget)
        return self.L


class GaussianErrorCell(_ErrorCell):
    """Error cell of a Gaussian likelihood ``target ~ N(mu, sigma)`` with fixed variance.

    Parameters
    ----------
    name, n_units, batch_size, shape, dtype, device
        As for ``BernoulliErrorCell``.
    sigma : float
        The (fixed) variance.

    Compartments
    ------------
    inputs ``mu`` (rest 0), ``target`` (0), ``modulator`` (1), ``mask`` (1);
    outputs ``L`` (a float), ``dmu``, ``dtarget``.

    Notes
    -----
    ``L = -sum((target - mu)^2) / (2 sigma)`` (the log-likelihood up to its constant),
    ``dmu = (target - mu) / sigma * modulator * mask = dL/dmu`` (before the gate) and
    ``dtarget = -dmu``.
    """

    INPUTS = {"mu": 0.0, "target": 0.0, "modulator": 1.0, "mask": 1.0}
    OUTPUTS = ("L", "dmu", "dtarget")
    DESCRIPTION = {
        "cell_type": "GaussianErrorCell: Gaussian log-likelihood (fixed variance) of a target "
                     "under a predicted mean, with its derivatives, at each step",
        "inputs": {"mu": "predicted mean", "target": "observed value(s)",
                   "modulator": "multiplicative modulation of the derivatives",
                   "mask": "binary gate on the derivatives, reset to ones after each step"},
        "outputs": {"L": "log-likelihood up to a constant, summed over units and samples",
                    "dmu": "derivative of L with respect to mu", "dtarget": "derivative of L with respect to target"},
        "dynamics": "target ~ N(mu, sigma), L = -||target - mu||^2 / (2 sigma)",
        "hyperparameters": dict(_SHARED_HYPERPARAMETERS, sigma="fixed variance (not learned)"),
    }

    def __init__(self, name, n_units, batch_size=1, sigma=1.0, shape=None, dtype=np.float32, device="cpu"):
        object.__setattr__(self, "sigma", check_positive("sigma", sigma))
        super().__init__(name, n_units, batch_size, shape, dtype, device)

    def advance_state(self, dt=None):
        """One step: compute L, dmu, dtarget and reset the mask (``dt`` is unused)."""
        mu, target, modulator, mask, dmu, dtarget = self._flat("mu", "target", "modulator", "mask", "dmu", "dtarget")
        self.L = self.backend.gaussian_error_cell(mu, target, modulator, mask, self.sigma, dmu, dtarget)
        return self.L
