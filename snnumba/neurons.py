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

Spikes are ``uint8`` arrays of 0 and 1 (a quarter of float32's memory); losses, the
functional utilities, classifiers and the following ``Dense`` layer accept them as they
are. Gradients are floats in the layer's dtype.

In training mode a forward pass records what the backward pass needs (the input, the
membrane ``v[T, B, N]`` and the spikes). In evaluation mode (``layer.eval()``,
``net.eval()``) it records nothing: only the state after the last step is kept (to
continue from), ``LIF.v`` is None unless ``record_membrane=True``, and ``backward``
raises RuntimeError.
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
        self.state = None  # (v, s) after the last step, each [B, N]; s uint8 (None for the readout)
        self._trace = None  # what backward needs; recorded in training mode only
        self._ran_eval = False  # the last forward pass ran in evaluation mode
        #: callables given each forward pass's output in training mode (e.g. rate monitors)
        self.observers = []

    @property
    def alpha(self):
        return self.dtype.type(self.lif_params.alpha)

    def reset(self):
        self.state = None
        self._trace = None
        self._ran_eval = False

    def _initial_state(self, batch, n, continue_state):
        be = self.backend
        if continue_state and self.state is not None:
            v0, s0 = self.state
            if tuple(v0.shape) != (batch, n):
                raise ValueError(f"cannot continue from a state of shape {tuple(v0.shape)} with an "
                                 f"input of batch {batch} and {n} neurons; call reset() first")
            return v0, s0
        return be.zeros((batch, n), self.dtype), be.zeros((batch, n), np.uint8)

    def _record(self, trace):
        """Keep ``trace`` for the backward pass in training mode; drop it in evaluation mode."""
        self._trace = trace if self.training else None
        self._ran_eval = not self.training

    def _recorded(self):
        """The trace of the last forward pass, or a RuntimeError saying why there is none."""
        if self._trace is None:
            name = type(self).__name__
            if self._ran_eval:
                raise RuntimeError(f"{name}.backward: the last forward pass ran in evaluation mode, which "
                                   "records nothing for a backward pass; call train() before forward")
            raise RuntimeError(f"{name}.backward called before forward")
        return self._trace

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
    record_membrane : bool, keyword-only
        Also record the membrane ``v`` in evaluation mode (for membrane read-outs such as
        ``functional.spike_cluster`` at inference). Training mode always records it. A
        run-time option like ``training``: ``Network.save`` does not store it.
    """

    def __init__(self, tau=5e-3, threshold=1.0, dt=1e-3, surrogate="sigmoid", slope=None,
                 dtype=np.float32, *, beta=None, record_membrane=False):
        super().__init__(tau, dt, dtype)
        slope, arg = _surrogate.slope_argument(slope, beta)
        self.surrogate_code, self.slope = _surrogate.code_and_slope(surrogate, slope, arg)
        self.surrogate = surrogate
        self.threshold = threshold
        self.record_membrane = bool(record_membrane)
        self._membrane = None

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

    def reset(self):
        super().reset()
        self._membrane = None

    def forward(self, h, continue_state=False):
        """Spikes ``s[T, B, N]`` (uint8 0/1) for input current ``h[T, B, N]``.

        Training mode records h, v and s for the backward pass; evaluation mode records
        nothing but the final state (and v with ``record_membrane``).
        """
        h = self._input(h)
        T, B, N = h.shape
        be = self.backend
        threshold = self._threshold_array(B, N)
        v0, s0 = self._initial_state(B, N, continue_state)
        record_v = self.training or self.record_membrane
        v = be.empty((T if record_v else 0, B, N), self.dtype)  # zero steps: not recorded
        s = be.empty((T, B, N), np.uint8)
        v_final = be.empty((B, N), self.dtype)
        s_final = be.empty((B, N), np.uint8)
        be.lif_forward(h, self.alpha, threshold, v0, s0, v, s, v_final, s_final)
        self.state = (v_final, s_final)
        self._membrane = v if record_v else None
        self._record((h, v, s, threshold))
        if self.training:
            for observe in self.observers:
                observe(s)
        return s

    @property
    def v(self):
        """Membrane potential recorded by the last forward pass, ``[T, B, N]``; None after
        a forward pass in evaluation mode (unless ``record_membrane``)."""
        return self._membrane

    def backward(self, grad_s, grad_v=None, need_input_grad=True):
        """dL/dh from dL/ds (and optionally a direct dL/dv on the recorded membrane)."""
        h, v, s, threshold = self._recorded()
        be = self.backend
        grad_s = be.asarray(grad_s, self.dtype)
        if tuple(grad_s.shape) != tuple(h.shape):
            raise ValueError(f"'grad_s' must have shape {tuple(h.shape)}, got {tuple(grad_s.shape)}")
        if grad_v is None:
            grad_v = be.empty((0,) + tuple(h.shape[1:]), self.dtype)  # zero steps: no dL/dv
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
                 beta=None, record_membrane=False):
        slope, arg = _surrogate.slope_argument(slope, beta)  # warns at the caller of IF
        _surrogate.code_and_slope(surrogate, slope, arg)      # errors name the argument given
        super().__init__(np.inf, threshold, dt, surrogate, slope, dtype, record_membrane=record_membrane)

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
        self._record(tuple(h.shape))  # the backward pass needs only the shape
        return v

    def backward(self, grad_v, need_input_grad=True):
        shape = self._recorded()
        grad_v = self.backend.asarray(grad_v, self.dtype)
        if tuple(grad_v.shape) != shape:
            raise ValueError(f"'grad_v' must have shape {shape}, got {tuple(grad_v.shape)}")
        grad_h = self.backend.empty(shape, self.dtype)
        self.backend.readout_backward(self.alpha, grad_v, grad_h)
        return grad_h
