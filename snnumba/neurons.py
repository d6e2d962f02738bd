"""Spiking neuron layers: LIF, IF and the leaky (non-spiking) readout.

LIF, with the sound-localization seed's timing (the spike at t+1 reads the membrane
at t), time-major ``[T, B, N]``, ``alpha = exp(-dt / tau)``::

    v[t+1] = (alpha * v[t] + h[t]) * (1 - s[t])
    s[t+1] = H(v[t] - threshold)

with ``H(x) = 1 if x > 0 else 0``: a membrane exactly at the threshold does not fire.

IF is LIF with ``alpha = 1`` (``tau = inf``). The leaky readout integrates without
spiking: ``v[t+1] = alpha * v[t] + h[t]``. Every forward pass starts from rest
(``v = s = 0``) unless it is asked to continue from the state the previous one left.
Backprop-through-time replaces ``H'`` by a surrogate (``snnumba.surrogate``); the
gradient flows through the membrane, the spike and the reset term ``(1 - s)``.
"""
import warnings
from dataclasses import dataclass

import numpy as np

from . import surrogate as _surrogate
from ._validation import check_array, check_positive
from .layers import Layer


@dataclass(frozen=True)
class LIFParams:
    """Membrane constants.

    tau : float
        Membrane time constant in seconds (``inf`` for a perfect integrator).
    dt : float
        Simulation step in seconds.
    """

    tau: float = 5e-3
    dt: float = 1e-3

    def __post_init__(self):
        object.__setattr__(self, "tau", check_positive("tau", self.tau, allow_inf=True))
        object.__setattr__(self, "dt", check_positive("dt", self.dt))

    @property
    def alpha(self):
        """Decay per step, ``exp(-dt / tau)``."""
        return float(np.exp(-self.dt / self.tau))


class _Membrane(Layer):
    """Shared plumbing of the neuron layers: constants, state and recorded traces."""

    def __init__(self, tau, dt, dtype):
        super().__init__(dtype)
        self.lif_params = LIFParams(tau, dt)
        self.state = None  # (v, s) after the last step, each [B, N]
        self._trace = None
        #: callables given each forward pass's output in training mode (e.g. rate monitors)
        self.observers = []

    @property
    def alpha(self):
        return self.dtype.type(self.lif_params.alpha)

    def reset(self):
        self.state = None
        self._trace = None

    def _initial_state(self, batch, n, continue_state):
        be = self.backend
        if continue_state and self.state is not None:
            v0, s0 = self.state
            if tuple(v0.shape) != (batch, n):
                raise ValueError(f"cannot continue from a state of shape {tuple(v0.shape)} with an "
                                 f"input of batch {batch} and {n} neurons; call reset() first")
            return v0, s0
        return be.zeros((batch, n), self.dtype), be.zeros((batch, n), self.dtype)

    def _input(self, h):
        if self.backend.is_device_array(h):
            return self.backend.asarray(h, self.dtype)
        h = check_array("h", h, ndim=3)
        if 0 in h.shape:
            raise ValueError(f"'h' must have at least one step, sample and neuron, got {h.shape}")
        return self.backend.asarray(h, self.dtype)


class LIF(_Membrane):
    """Leaky integrate-and-fire layer (equations in the module docstring).

    Parameters
    ----------
    tau : float
        Membrane time constant in seconds (default 5 ms, the seed's).
    threshold : float or array
        Firing threshold: a scalar, one per neuron ``[N]`` or one per sample and neuron
        ``[B, N]``. It may be reassigned at any time (``layer.threshold = ...``).
    dt : float
        Time step in seconds (default 1 ms).
    surrogate : {'sigmoid', 'fast_sigmoid', 'arctan', 'triangle'}
        Derivative used for ``H'`` in the backward pass.
    slope : float, optional
        Surrogate steepness (default per surrogate; the seed's sigmoid uses 5). snnTorch
        calls it ``slope`` (sigmoid, fast_sigmoid) or ``alpha`` (atan); see
        ``snnumba.surrogate``.
    dtype : float32 or float64
    beta : float, optional
        Deprecated alias of ``slope`` (DeprecationWarning; giving both is a TypeError).
        In snnTorch ``beta`` is the membrane decay, here ``alpha = exp(-dt / tau)``.
    """

    def __init__(self, tau=5e-3, threshold=1.0, dt=1e-3, surrogate="sigmoid", slope=None,
                 dtype=np.float32, *, beta=None):
        super().__init__(tau, dt, dtype)
        slope, arg = _surrogate.slope_argument(slope, beta)
        self.surrogate_code, self.slope = _surrogate.code_and_slope(surrogate, slope, arg)
        self.surrogate = surrogate
        self.threshold = threshold

    @property
    def beta(self):
        """Deprecated alias of ``slope``."""
        warnings.warn("'LIF.beta' is deprecated: use 'LIF.slope'", DeprecationWarning, stacklevel=2)
        return self.slope

    @property
    def threshold(self):
        return self._threshold

    @threshold.setter
    def threshold(self, value):
        value = check_array("threshold", value, dtype=np.float64)
        if value.ndim > 2:
            raise ValueError(f"'threshold' must be a scalar, [N] or [B, N], got shape {value.shape}")
        self._threshold = value if value.ndim else float(value)
        self._threshold_on_device = None

    def _threshold_array(self, batch, n):
        """The threshold broadcast to [B, N] on this layer's device (cached)."""
        cached = self._threshold_on_device
        if cached is not None and tuple(cached.shape) == (batch, n):
            return cached
        try:
            full = np.broadcast_to(self._threshold, (batch, n))
        except ValueError:
            raise ValueError(f"'threshold' of shape {np.shape(self._threshold)} does not fit "
                             f"batch {batch} and {n} neurons") from None
        self._threshold_on_device = self.backend.asarray(full, self.dtype)
        return self._threshold_on_device

    def to(self, device, dtype=None):
        self._threshold_on_device = None
        return super().to(device, dtype)

    def config(self):
        threshold = self._threshold if np.ndim(self._threshold) == 0 else np.asarray(self._threshold).tolist()
        return dict(tau=self.lif_params.tau, threshold=threshold, dt=self.lif_params.dt,
                    surrogate=self.surrogate, slope=self.slope)

    def forward(self, h, continue_state=False):
        """Spikes ``s[T, B, N]`` for input current ``h[T, B, N]``; records v and s."""
        h = self._input(h)
        T, B, N = h.shape
        be = self.backend
        threshold = self._threshold_array(B, N)
        v0, s0 = self._initial_state(B, N, continue_state)
        v = be.empty((T, B, N), self.dtype)
        s = be.empty((T, B, N), self.dtype)
        v_final = be.empty((B, N), self.dtype)
        s_final = be.empty((B, N), self.dtype)
        be.lif_forward(h, self.alpha, threshold, v0, s0, v, s, v_final, s_final)
        self.state = (v_final, s_final)
        self._trace = (h, v, s, threshold)
        if self.training:
            for observe in self.observers:
                observe(s)
        return s

    @property
    def v(self):
        """Membrane potential recorded by the last forward pass, ``[T, B, N]``."""
        return None if self._trace is None else self._trace[1]

    def backward(self, grad_s, grad_v=None, need_input_grad=True):
        """dL/dh from dL/ds (and optionally a direct dL/dv on the recorded membrane)."""
        if self._trace is None:
            raise RuntimeError("LIF.backward called before forward")
        h, v, s, threshold = self._trace
        be = self.backend
        grad_s = be.asarray(grad_s, self.dtype)
        if tuple(grad_s.shape) != tuple(h.shape):
            raise ValueError(f"'grad_s' must have shape {tuple(h.shape)}, got {tuple(grad_s.shape)}")
        if grad_v is None:
            grad_v = be.zeros(h.shape, self.dtype)
        else:
            grad_v = be.asarray(grad_v, self.dtype)
            if tuple(grad_v.shape) != tuple(h.shape):
                raise ValueError(f"'grad_v' must have shape {tuple(h.shape)}, got {tuple(grad_v.shape)}")
        grad_h = be.empty(h.shape, self.dtype)
        be.lif_backward(h, v, s, self.alpha, threshold, self.surrogate_code, self.slope,
                        grad_s, grad_v, grad_h)
        return grad_h


class IF(LIF):
    """Integrate-and-fire layer: LIF without leak (``alpha = 1``)."""

    def __init__(self, threshold=1.0, dt=1e-3, surrogate="sigmoid", slope=None, dtype=np.float32, *,
                 beta=None):
        slope, arg = _surrogate.slope_argument(slope, beta)  # warns at the caller of IF
        _surrogate.code_and_slope(surrogate, slope, arg)      # errors name the argument given
        super().__init__(np.inf, threshold, dt, surrogate, slope, dtype)

    def config(self):
        cfg = super().config()
        del cfg["tau"]
        return cfg


class LeakyReadout(_Membrane):
    """Non-spiking leaky integrator, the seed's output layer: ``v[t+1] = alpha v[t] + h[t]``.

    Parameters
    ----------
    tau : float
        Membrane time constant in seconds (default 5 ms).
    dt : float
        Time step in seconds (default 1 ms).
    dtype : float32 or float64
    """

    def __init__(self, tau=5e-3, dt=1e-3, dtype=np.float32):
        super().__init__(tau, dt, dtype)

    def config(self):
        return dict(tau=self.lif_params.tau, dt=self.lif_params.dt)

    def forward(self, h, continue_state=False):
        """Membrane ``v[T, B, N]`` for input current ``h[T, B, N]``."""
        h = self._input(h)
        T, B, N = h.shape
        be = self.backend
        v0, _ = self._initial_state(B, N, continue_state)
        v = be.empty((T, B, N), self.dtype)
        v_final = be.empty((B, N), self.dtype)
        be.readout_forward(h, self.alpha, v0, v, v_final)
        self.state = (v_final, None)
        self._trace = h.shape
        return v

    def backward(self, grad_v, need_input_grad=True):
        if self._trace is None:
            raise RuntimeError("LeakyReadout.backward called before forward")
        grad_v = self.backend.asarray(grad_v, self.dtype)
        if tuple(grad_v.shape) != tuple(self._trace):
            raise ValueError(f"'grad_v' must have shape {tuple(self._trace)}, got {tuple(grad_v.shape)}")
        grad_h = self.backend.empty(self._trace, self.dtype)
        self.backend.readout_backward(self.alpha, grad_v, grad_h)
        return grad_h
