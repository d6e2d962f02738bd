"""``e^x`` for ``x <= 0`` in a form LLVM can vectorise.

``math.exp`` is a libm call per element, which keeps a loop scalar: the sigmoid surrogate's
exponential was about three quarters of the LIF backward pass (T=500, B=128, N=1000:
390 ms, 95 ms with the fast sigmoid). This version is plain arithmetic and a bit cast:

    x = k ln2 + r,  k = round(x / ln2),  |r| <= ln2 / 2
    e^x = 2^k e^r,  e^r by its Taylor polynomial of degree 13 (remainder < 1e-17 relative)

``ln2`` is split in two parts (Cody and Waite) so that ``r`` is exact to double precision,
and ``2^k`` is built from its IEEE-754 bits. In a plain loop over an array LLVM vectorises
it (64M sigmoid derivatives: 334 ms with libm, 119 ms with this); inside the neuron family's
BPTT loop, which LLVM keeps scalar, it is still 1.6x faster than the libm call. It is within
1 ulp of ``math.exp`` on ``[-746, 0]`` (tested), and 0 below, as ``math.exp`` rounds.

Float32 layers need no more than a float32 result: ``exp_nonpositive_float32`` is the same
scheme in float32 with a Taylor polynomial of degree 7 (remainder < 6e-9 relative), within
2 ulp of float32 ``e^x`` (tested). The LIF BPTT with the sigmoid surrogate (T=500,
B=128, N=1000, float32) took 110-118 ms against 129-143 ms with the float64 exponential
(alternating runs; together with its surrogate made a constant there). ``exp_like`` picks
the version by the dtype of a value it is given.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: k * _LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
_INV_LN2 = 1.44269504088896338700e00
#: 1/13!, 1/12!, ..., 1/1!, 1/0! (Horner's order)
_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(13, -1, -1))


def _bit_cast(source, target, llvm_target):
    """An intrinsic giving the ``target`` value whose IEEE-754 bit pattern is that of its
    ``source`` argument (a free bit cast; float and int of one width)."""
    @intrinsic
    def cast(typingctx, value):
        if value != source:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_target)
        return target(source), codegen
    return cast


_float64_from_bits = _bit_cast(types.int64, types.float64, ir.DoubleType())
_bits_of_float64 = _bit_cast(types.float64, types.int64, ir.IntType(64))
_float32_from_bits = _bit_cast(types.int32, types.float32, ir.FloatType())


#: 1.5 * 2^52: adding it to an integer-valued float k (|k| < 2^51) leaves k in the low bits
#: of the sum's mantissa. That gets k into integer bits without a float-to-int conversion:
#: AVX2 has no vector instruction for that, and LLVM did it element by element inside the
#: vectorised loop (a sigmoid over 64M float32 values: 129 -> 119 ms without it).
_SHIFT = 6755399441055744.0


@njit(inline="always", cache=True)
def _pow2(k):
    """2^k for an integer-valued float k in [-1022, 1023]: k + 1023 into the exponent bits."""
    return _float64_from_bits((_bits_of_float64(k + _SHIFT) + 1023) << 52)


@njit(inline="always", cache=True)
def exp_nonpositive(x):
    """``e^x`` for ``x <= 0`` (NaN stays NaN; -inf and anything below -746 give 0)."""
    x = max(x, -746.0)
    k = np.floor(x * _INV_LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 0.0
    for c in _TAYLOR:  # a tuple of constants: unrolled at compile time
        p = p * r + c
    # 2^k as two factors 2^(k/2) 2^(k - k/2): each stays a normal number down to k = -1076,
    # and their product rounds into the subnormals as math.exp does
    half = np.floor(k * 0.5)
    return p * _pow2(half) * _pow2(k - half)


_LN2_HI_32 = np.float32(0.693359375)        # ln 2 to 9 bits: k * _LN2_HI_32 is exact for |k| < 2^15
_LN2_LO_32 = np.float32(-2.12194440e-4)     # ln 2 - _LN2_HI_32
_INV_LN2_32 = np.float32(_INV_LN2)
_TAYLOR_32 = tuple(np.float32(c) for c in _TAYLOR[-8:])   # 1/7!, ..., 1/0!


@njit(inline="always", cache=True)
def _pow2_float32(k):
    """2^k for an integer-valued float32 k in [-126, 127]: k + 127 into the exponent bits
    (float32 to int32 is one vector instruction, unlike float64 to int64)."""
    return _float32_from_bits(np.int32((np.int32(k) + np.int32(127)) << np.int32(23)))


@njit(inline="always", cache=True)
def exp_nonpositive_float32(x):
    """``e^x`` in float32 for a float32 ``x <= 0`` (NaN stays NaN; below -104, 0)."""
    x = max(x, np.float32(-104.0))
    k = np.floor(x * _INV_LN2_32 + np.float32(0.5))
    r = (x - k * _LN2_HI_32) - k * _LN2_LO_32
    p = np.float32(0.0)
    for c in _TAYLOR_32:  # unrolled at compile time
        p = p * r + c
    half = np.floor(k * np.float32(0.5))   # two factors, as exp_nonpositive: normal down to k = -150
    return p * _pow2_float32(half) * _pow2_float32(k - half)


def exp_like(x, like):
    """``e^x`` for ``x <= 0`` in the precision of ``like``'s type (``scalar.exp_like``):
    ``exp_nonpositive_float32`` for a float32 ``like``, else ``exp_nonpositive``."""
    return math.exp(x)


@overload(exp_like, inline="always")
def _exp_like(x, like):
    if like == types.float32:
        return lambda x, like: exp_nonpositive_float32(np.float32(x))
    return lambda x, like: exp_nonpositive(x)
