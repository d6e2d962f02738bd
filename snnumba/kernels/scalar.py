"""Scalar formulas shared by the CPU kernels and their CUDA twins.

Each function is plain Python on scalars. ``kernels/cpu`` compiles it with
``njit(inline="always")`` and ``kernels/cuda`` with ``cuda.jit(device=True)``, so one
definition serves both twins (and the CUDA simulator runs it as Python).
"""
import math
import types

import numpy as np

#: Surrogate names, in the order of the integer codes the kernels take.
SURROGATES = ("sigmoid", "fast_sigmoid", "arctan", "triangle")
#: Default steepness ``slope`` of each surrogate (the seed's sigmoid uses 5; snnTorch calls
#: it ``slope`` for fast_sigmoid and ``alpha`` for atan, Norse ``alpha``).
SURROGATE_DEFAULT_SLOPE = {"sigmoid": 5.0, "fast_sigmoid": 10.0, "arctan": 2.0, "triangle": 1.0}

def exp_like(x, like):
    """``e^x`` for ``x <= 0``, the sigmoid surrogate's exponential, in the precision that
    ``like`` (a value of the layer's dtype) needs. ``math.exp`` in float64 here (for the
    CUDA twin and for plain Python); the CPU kernels bind a version that vectorises, in
    float32 for float32 layers (``kernels/cpu/_exp.py``)."""
    return math.exp(x)


def as_like(value, like):
    """``value`` in the precision that ``like`` (a value of the layer's dtype) needs: a
    float64 here (for the CUDA twin and for plain Python); the CPU kernels bind a version
    that keeps float32 for float32 layers (``kernels/cpu/_compile.py``), so that their BPTT
    runs in the layer's dtype. (A bare literal such as ``1.0`` would be float64, and promote
    every float32 value it meets.)"""
    return float(value)


def bind(fn, **helpers):
    """A copy of ``fn`` whose global names ``helpers`` refer to the given objects (say, a
    target's compiled helper in place of the plain Python one), for a target to compile."""
    return types.FunctionType(fn.__code__, dict(fn.__globals__, **helpers), fn.__name__, fn.__defaults__)


def surrogate_grad(code, x, slope, like=0.0):
    """Derivative standing in for the Heaviside step's at ``x = v - threshold``, in the
    precision of ``like``'s dtype (see ``exp_like`` and ``as_like``).

    code 0, sigmoid:      slope * s * (1 - s),  s = 1 / (1 + exp(-slope x))
    code 1, fast sigmoid: 1 / (1 + slope |x|)^2                (SuperSpike)
    code 2, arctan:       (slope / 2) / (1 + (pi slope x / 2)^2)
    code 3, triangle:     slope * max(0, 1 - slope |x|)
    The sigmoid is written with exp(-slope |x|) <= 1, so it never overflows.
    """
    one = as_like(1.0, like)
    if code == 0:
        e = exp_like(-slope * abs(x), like)
        return slope * e / ((one + e) * (one + e))
    if code == 1:
        d = one + slope * abs(x)
        return one / (d * d)
    if code == 2:
        z = as_like(0.5 * math.pi, like) * slope * x
        return as_like(0.5, like) * slope / (one + z * z)
    return slope * max(as_like(0.0, like), one - slope * abs(x))


def counter_uniform_pair(seed, key):
    """Two uniform numbers in [0, 1) that are a pure function of ``(seed, key)``.

    They are bits 40-63 and 16-39 of output number ``key`` of the SplitMix64 generator
    seeded with ``seed`` (Steele, Lea & Flood 2014). A stimulus can therefore be
    regenerated bit for bit every epoch, on the CPU or the GPU, without storing its
    uniform draws.
    """
    z = np.uint64(seed) + np.uint64(key + 1) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    scale = 1.0 / 16777216.0
    high = np.float64(np.int64(z >> np.uint64(40))) * scale
    low = np.float64(np.int64((z >> np.uint64(16)) & np.uint64(0xFFFFFF))) * scale
    return high, low


def adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bias1, bias2):
    """One Adam step for one element, PyTorch's rule (L2 weight decay added to g).

    ``bias1 = 1 - beta1**step`` and ``bias2 = 1 - beta2**step``. Returns (p, m, v).
    """
    g = g + weight_decay * p
    m = beta1 * m + (1.0 - beta1) * g
    v = beta2 * v + (1.0 - beta2) * g * g
    p = p - lr * (m / bias1) / (math.sqrt(v / bias2) + eps)
    return p, m, v


def sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """One SGD step for one element, PyTorch's rule. Returns (p, buf)."""
    g = g + weight_decay * p
    if momentum != 0.0:
        if first:
            buf = g
        else:
            buf = momentum * buf + (1.0 - dampening) * g
        if nesterov:
            g = g + momentum * buf
        else:
            g = buf
    p = p - lr * g
    return p, buf


def bernoulli_error(p, x, modulator, mask, input_logits):
    """One unit of ngclearn's Bernoulli error cell. Returns (L term, dp, dtarget).

    q = clip(sigmoid(p) if input_logits else p, 1e-4, 1 - 1e-4)
    L = x log q + (1 - x) log(1 - q)
    dp = (x - q)                                        with logits
       = (x / q - (1 - x) / (1 - q)) * sigmoid'(p)      with probabilities (the seed's factor)
    dtarget = log q - log(1 - q); dp and dtarget are scaled by modulator * mask.
    """
    eps = 1e-4
    # logistic sigmoid of p, in a form whose exp never overflows
    e = math.exp(-abs(p))
    s = 1.0 / (1.0 + e) if p >= 0 else e / (1.0 + e)
    q = s if input_logits else p
    q = min(max(q, eps), 1.0 - eps)
    log_q = math.log(q)
    log_1mq = math.log(1.0 - q)
    term = log_q * x + log_1mq * (1.0 - x)
    if input_logits:
        dl_dp = x - q
    else:
        dl_dp = (x / q - (1.0 - x) / (1.0 - q)) * (s * (1.0 - s))
    gate = modulator * mask
    return term, dl_dp * gate, (log_q - log_1mq) * gate


def gaussian_error(mu, x, modulator, mask, sigma):
    """One unit of ngclearn's Gaussian error cell. Returns (L term, dmu, dtarget).

    L = -(x - mu)^2 / (2 sigma);  dmu = (x - mu) / sigma;  dtarget = -dmu;
    dmu and dtarget are scaled by modulator * mask.
    """
    e = x - mu
    d = e / sigma
    gate = modulator * mask
    return -0.5 / sigma * e * e, d * gate, -d * gate


def clean_divide(a, b, most_negative):
    """``a / b`` as ``nan_to_num(a / b, nan=0, posinf=0)`` leaves it: 0 for 0/0 and x/0 with
    x > 0, ``most_negative`` (the dtype's lowest float) for x/0 with x < 0."""
    if b != 0:
        return a / b
    if a < 0:
        return most_negative
    return 0.0
