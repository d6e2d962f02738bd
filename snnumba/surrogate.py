"""Surrogate spike derivatives.

The forward pass of a spiking neuron uses the Heaviside step ``H(v - threshold)``; the
backward pass replaces ``H'`` by the derivative of a smooth *primitive* (below), whose
steepness is ``slope``. The derivative itself is ``snnumba.kernels.scalar.surrogate_grad``,
shared by the CPU and CUDA kernels, picked by an integer code.

=============  =======================================  ==========================
name           primitive (a smooth step)                 derivative
=============  =======================================  ==========================
sigmoid        1 / (1 + exp(-k x))                       k s (1 - s)
fast_sigmoid   x / (1 + k |x|)   (SuperSpike)            1 / (1 + k |x|)^2
arctan         arctan(pi k x / 2) / pi + 1/2             (k/2) / (1 + (pi k x/2)^2)
triangle       ramp with a quadratic knee on |x|<1/k     k max(0, 1 - k |x|)
=============  =======================================  ==========================

``k`` is ``slope``. snnTorch's ``surrogate.sigmoid(slope)``, ``fast_sigmoid(slope)`` and
``atan(alpha)`` are these sigmoid, fast_sigmoid and arctan with ``slope`` = their
argument; Norse's SuperSpike (``method="super"``) is fast_sigmoid with ``slope=1``.
``beta`` is a deprecated alias of ``slope`` (in snnTorch ``beta`` is the membrane decay).
"""
import warnings

import numpy as np

from ._validation import check_choice, check_positive
from .kernels.scalar import SURROGATE_DEFAULT_SLOPE, SURROGATES, surrogate_grad as _scalar_grad


def slope_argument(slope, beta, stacklevel=3):
    """``(value, name)`` of the steepness a caller gave as ``slope`` or as the deprecated
    ``beta`` (``(None, 'slope')`` when neither); giving both is a TypeError.
    ``stacklevel`` points the DeprecationWarning at the user's call."""
    if beta is None:
        return slope, "slope"
    if slope is not None:
        raise TypeError("give 'slope' or its deprecated alias 'beta', not both")
    warnings.warn("'beta' is deprecated: the surrogate's steepness is now called 'slope' "
                  "(in snnTorch 'beta' is the membrane decay)", DeprecationWarning, stacklevel=stacklevel)
    return beta, "beta"


def resolve(name, slope=None, *, beta=None):
    """(kernel code, slope) for a surrogate name; ``slope=None`` takes the default."""
    return code_and_slope(name, *slope_argument(slope, beta))


def code_and_slope(name, slope, arg="slope"):
    """``resolve`` once the alias is settled; ``arg`` names the argument in errors."""
    check_choice("surrogate", name, SURROGATES)
    slope = SURROGATE_DEFAULT_SLOPE[name] if slope is None else check_positive(arg, slope)
    return SURROGATES.index(name), float(slope)


def primitive(name, x, slope=None, *, beta=None):
    """The smooth step whose derivative is the surrogate (NumPy, element-wise)."""
    _, k = code_and_slope(name, *slope_argument(slope, beta))
    x = np.asarray(x, dtype=np.float64)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * k * x))
    if name == "fast_sigmoid":
        return x / (1.0 + k * np.abs(x))
    if name == "arctan":
        return np.arctan(0.5 * np.pi * k * x) / np.pi + 0.5
    y = np.clip(k * x, -1.0, 1.0)
    return 0.5 + y - 0.5 * y * np.abs(y)


def derivative(name, x, slope=None, *, beta=None):
    """The surrogate derivative at ``x`` (NumPy, element-wise), as the kernels compute it."""
    code, k = code_and_slope(name, *slope_argument(slope, beta))
    return np.vectorize(lambda xi: _scalar_grad(code, float(xi), k), otypes=[np.float64])(x)
