"""Surrogate spike derivatives.

The forward pass of a spiking neuron uses the Heaviside step ``H(v - threshold)``; the
backward pass replaces ``H'`` by the derivative of a smooth *primitive* (below). The
derivative itself is ``snnumba.kernels.scalar.surrogate_grad``, shared by the CPU and
CUDA kernels, picked by an integer code.

=============  =======================================  ==========================
name           primitive (a smooth step)                 derivative
=============  =======================================  ==========================
sigmoid        1 / (1 + exp(-beta x))                    beta s (1 - s)
fast_sigmoid   x / (1 + beta |x|)   (SuperSpike)         1 / (1 + beta |x|)^2
arctan         arctan(pi beta x / 2) / pi + 1/2          (beta/2) / (1 + (pi beta x/2)^2)
triangle       ramp with a quadratic knee on |x|<1/beta  beta max(0, 1 - beta |x|)
=============  =======================================  ==========================
"""
import numpy as np

from ._validation import check_choice, check_positive
from .kernels.scalar import SURROGATE_DEFAULT_BETA, SURROGATES, surrogate_grad as _scalar_grad


def resolve(name, beta=None):
    """(kernel code, beta) for a surrogate name; ``beta=None`` takes the default."""
    check_choice("surrogate", name, SURROGATES)
    beta = SURROGATE_DEFAULT_BETA[name] if beta is None else check_positive("beta", beta)
    return SURROGATES.index(name), float(beta)


def primitive(name, x, beta=None):
    """The smooth step whose derivative is the surrogate (NumPy, element-wise)."""
    _, beta = resolve(name, beta)
    x = np.asarray(x, dtype=np.float64)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * beta * x))
    if name == "fast_sigmoid":
        return x / (1.0 + beta * np.abs(x))
    if name == "arctan":
        return np.arctan(0.5 * np.pi * beta * x) / np.pi + 0.5
    y = np.clip(beta * x, -1.0, 1.0)
    return 0.5 + y - 0.5 * y * np.abs(y)


def derivative(name, x, beta=None):
    """The surrogate derivative at ``x`` (NumPy, element-wise), as the kernels compute it."""
    code, beta = resolve(name, beta)
    return np.vectorize(lambda xi: _scalar_grad(code, float(xi), beta), otypes=[np.float64])(x)
