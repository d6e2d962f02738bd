"""Argument checks shared by the wrappers: each error names the argument at fault."""
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_dtype(name, dtype):
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise TypeError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"'{name}' must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"'{name}' must be float32 or float64, got {dt}")
    return dt


def check_positive(name, value, allow_inf=False):
    """A real number > 0 (finite unless ``allow_inf``), returned as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"'{name}' must be a real number, got {type(value).__name__}")
    value = float(value)
    if not (value > 0) or (np.isinf(value) and not allow_inf):
        raise ValueError(f"'{name}' of {value!r} must be positive and finite" if not allow_inf
                         else f"'{name}' of {value!r} must be positive")
    return value


def check_nonnegative(name, value):
    """A finite real number >= 0, returned as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"'{name}' must be a real number, got {type(value).__name__}")
    value = float(value)
    if not (0 <= value < np.inf):
        raise ValueError(f"'{name}' of {value!r} must be finite and non-negative")
    return value


def check_int(name, value, minimum=None):
    """An integer (not bool) >= minimum, returned as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"'{name}' must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"'{name}' of {value} must be >= {minimum}")
    return value


def check_choice(name, value, choices):
    """``value`` (a string) if it is one of ``choices``, else ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, choices))}")
    return value


def check_array(name, x, ndim=None, dtype=None, finite=True):
    """Convert ``x`` to a NumPy array of ``dtype`` (when given) and check it.

    Accepts real or boolean arrays; raises TypeError for other kinds (complex, strings,
    objects), ValueError for a wrong number of dimensions or, with ``finite``, NaN/inf.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"'{name}' must be an array of real numbers: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"'{name}' must hold real numbers or booleans, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"'{name}' must have {ndim} dimensions, got shape {arr.shape}")
    if dtype is not None:
        # np.ascontiguousarray would turn a scalar into shape (1,)
        arr = np.asarray(arr, dtype=dtype)
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
    if finite and arr.dtype.kind == "f" and not all_finite(arr):
        raise ValueError(f"'{name}' contains NaN or infinite values")
    return arr


def all_finite(arr):
    """True when the float array ``arr`` holds no NaN or inf."""
    # NaN and inf survive a sum, so a finite sum proves the array finite; the exact scan
    # runs only to rule out a sum that merely overflowed
    return bool(np.isfinite(arr.sum()) or np.isfinite(arr).all())
