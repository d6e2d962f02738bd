"""Spike encoders: NumPy arrays in, time-major spike arrays out.

The three usual codes (snnTorch's ``spikegen.rate``, ``latency`` and ``delta``), with
their formulas stated here and the time axis first, ready for ``Network.forward``:

* ``rate_encode``: every step, each input spikes with probability ``clip(gain * x + offset,
  0, 1)`` (Bernoulli, a discrete Poisson process).
* ``latency_encode``: each input spikes once, earlier the larger it is (time to first spike).
* ``delta_encode``: a time series spikes where it changes by at least ``threshold``.

Spikes are ``uint8`` by default (0/1; ``bool``, ``int8``, ``float32`` or ``float64`` on
request); the layers accept any of them.
"""
import numbers

import numpy as np

from ._validation import check_array, check_choice, check_int, check_positive

SPIKE_DTYPES = (np.dtype(bool), np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.float32),
                np.dtype(np.float64))


def _check_spike_dtype(dtype, signed=False):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    allowed = [d for d in SPIKE_DTYPES if not signed or d.kind in "if"]
    if dt not in allowed:
        raise TypeError(f"'dtype' must be one of {', '.join(d.name for d in allowed)}, got {dtype!r}"
                        + (" (off-spikes are -1)" if signed else ""))
    return dt


def _check_finite(name, value):
    """A finite real number, returned as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"'{name}' must be a real number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ValueError(f"'{name}' must be finite, got {value!r}")
    return float(value)


def _generator(rng):
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise TypeError(f"'rng' must be a numpy.random.Generator, a non-negative integer seed or None, "
                        f"got {rng!r}") from None


def rate_encode(x, num_steps=None, gain=1.0, offset=0.0, rng=None, dtype=np.uint8):
    """Bernoulli (rate) spikes: ``s[t, ...] = u[t, ...] < clip(gain * x + offset, 0, 1)``.

    Parameters
    ----------
    x : array_like of real
        Intensities, typically in [0, 1]; values outside are clipped after the gain
        and offset.
    num_steps : int, optional
        Number of steps ``T``: the output is ``[T, *x.shape]``, every step drawn from the
        same probabilities. ``None`` means ``x`` is already time-major (one probability
        per step), and the output has ``x.shape``.
    gain, offset : float
        Scale and shift of ``x`` before clipping.
    rng : numpy.random.Generator or int, optional
        Source of the uniform draws ``u = rng.random(out.shape)``: the same seed gives the
        same spikes.
    dtype : bool, uint8, int8, float32 or float64

    Returns
    -------
    numpy.ndarray
        Spikes (0/1) of shape ``[num_steps, *x.shape]`` (or ``x.shape``).
    """
    x = check_array("x", x, dtype=np.float64)
    dt = _check_spike_dtype(dtype)
    p = np.clip(_check_finite("gain", gain) * x + _check_finite("offset", offset), 0.0, 1.0)
    shape = x.shape if num_steps is None else (check_int("num_steps", num_steps, 1),) + x.shape
    # u in [0, 1): p = 0 never spikes, p = 1 always does
    return (_generator(rng).random(shape) < p).astype(dt)


def latency_encode(x, num_steps, threshold=0.01, mode="linear", tau=None, dtype=np.uint8):
    """Time-to-first-spike code: each input spikes once, at a step that falls as it grows.

    With ``tau`` in steps, the spike time of an input ``x >= threshold`` is

    * ``mode="linear"``: ``t = tau * (1 - x)``
    * ``mode="log"``: ``t = tau * ln(x / (x - threshold))`` (``x > threshold``), the time an
      RC membrane driven by a constant ``x`` takes to charge from 0 to ``threshold``.

    The spike lands on step ``rint(t)`` (nearest, ties to even), with ``t < 0`` (inputs
    above 1 in linear mode) on step 0. Inputs below ``threshold`` (and, in log mode, at
    it), and spikes that would land on or after step ``num_steps``, give no spike.

    Parameters
    ----------
    x : array_like of real
        Intensities, typically in [0, 1].
    num_steps : int
        Number of steps ``T``; the output is ``[T, *x.shape]``.
    threshold : float in (0, 1)
        Inputs below it never spike.
    mode : {'linear', 'log'}
    tau : float, optional
        Time constant in steps, default ``num_steps - 1``: in linear mode ``x = 1`` fires
        at step 0 and ``x = threshold`` near the last step (snnTorch's ``linear=True,
        normalize=True``).
    dtype : bool, uint8, int8, float32 or float64

    Returns
    -------
    numpy.ndarray
        Spikes (0/1), at most one per input, of shape ``[num_steps, *x.shape]``.
    """
    x = check_array("x", x, dtype=np.float64)
    num_steps = check_int("num_steps", num_steps, 1)
    threshold = check_positive("threshold", threshold)
    if threshold >= 1:
        raise ValueError(f"'threshold' of {threshold!r} must be in (0, 1)")
    check_choice("mode", mode, ("linear", "log"))
    tau = float(num_steps - 1) if tau is None else check_positive("tau", tau)
    dt = _check_spike_dtype(dtype)
    fires = x > threshold if mode == "log" else x >= threshold
    safe = np.where(fires, x, 1.0)  # no log of 0 or division by 0 for the inputs that never fire
    with np.errstate(over="ignore"):  # a huge tau only pushes spikes past the window
        t = tau * (1.0 - safe) if mode == "linear" else tau * np.log(safe / (safe - threshold))
    step = np.rint(np.maximum(t, 0.0))
    fires &= step < num_steps
    out = np.zeros((num_steps,) + x.shape, dt)
    idx = np.nonzero(fires)
    out[(step[idx].astype(np.int64),) + idx] = 1
    return out


def delta_encode(x, threshold=0.1, off_spikes=None, padding="zero", dtype=None):
    """Change (delta) code of a time series: spike where ``x[t] - x[t-1] >= threshold``.

    Parameters
    ----------
    x : array_like of real, ``[T, ...]``
        Time-major input.
    threshold : float > 0
        Smallest change that spikes.
    off_spikes : {None, 'signed', 'channels'}
        Decreases by at least ``threshold``: ignored (None); spike -1 in the same array
        ('signed', needs a signed ``dtype``); or spike 1 in a second block of channels
        ('channels': the output's last axis is ``[on..., off...]``, twice as long, so a
        ``[T, B, N]`` input becomes a ``[T, B, 2N]`` network input).
    padding : {'zero', 'repeat'}
        What ``x[-1]`` is for the first step: zeros (so ``x[0] >= threshold`` spikes, as
        in snnTorch's default) or ``x[0]`` itself (no spike at step 0).
    dtype : bool, uint8, int8, float32 or float64, optional
        Default uint8, or int8 with ``off_spikes='signed'``.

    Returns
    -------
    numpy.ndarray
        Spikes of ``x.shape`` (last axis doubled with ``off_spikes='channels'``).
    """
    x = check_array("x", x, dtype=np.float64)
    if x.ndim < 1:
        raise ValueError("'x' must have a time axis first, got a scalar")
    threshold = check_positive("threshold", threshold)
    if off_spikes is not None:
        check_choice("off_spikes", off_spikes, ("signed", "channels"))
    check_choice("padding", padding, ("zero", "repeat"))
    signed = off_spikes == "signed"
    dt = _check_spike_dtype((np.int8 if signed else np.uint8) if dtype is None else dtype, signed)
    if off_spikes == "channels" and x.ndim < 2:
        raise ValueError(f"'x' needs a channel axis after time for off_spikes='channels', got shape {x.shape}")
    before = np.concatenate([np.zeros_like(x[:1]) if padding == "zero" else x[:1], x[:-1]])
    change = x - before
    on = change >= threshold
    off = change <= -threshold
    if off_spikes is None:
        return on.astype(dt)
    if signed:
        return on.astype(dt) - off.astype(dt)
    return np.concatenate([on, off], axis=-1).astype(dt)
