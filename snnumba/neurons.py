"""Spiking neuron layers: LIF, IF, RecurrentLIF and the leaky (non-spiking) readout.

The spiking layers are one neuron family with options (``kernels/neuron_step.py``
transcribes these equations; the CPU and CUDA kernels run it). One step t, per batch row
and neuron, time-major ``[T, B, N]``::

    x = h[t] + r[t]            r[t] = sum_j z[t-1, j] V[j, n]    (RecurrentLIF only)
    synapse (tau_syn given):   i = alpha_syn * i + x ;  d = i     otherwise d = x
    theta = threshold + adapt_strength * a                      (a = 0 without adaptation)
    R(u, r, theta) = u - u*r ("zero") | u - r*theta ("subtract") | u ("none")

    "delayed" (default):   z[t] = s ; f = H(v - theta) ; u = alpha*v + d ; v = R(u, s, theta) ; s = f
    "same_step":           u = alpha*v + d ; f = H(u - theta) ; z[t] = f ; v = R(u, f, theta) ; s = f
    "same_step_late_reset": u = alpha*v + d ; m = R(u, s, theta) ; f = H(m - theta) ; z[t] = f ;
                           v = m ; s = f
    adaptation (tau_adapt given):  a = rho * a + f

with ``H(x) = 1 if x > 0 else 0`` (a membrane exactly at the threshold does not fire) and
the decays ``alpha = exp(-dt / tau)`` (``decay="exact"``) or ``1 - dt / tau``
(``decay="euler"``), likewise ``alpha_syn`` from ``tau_syn`` and ``rho`` from
``tau_adapt``. The layer outputs ``z [T, B, N]``.

The default (reset to zero, delayed, no synapse, no adaptation) is the sound-localization
seed's LIF: the spike at t+1 reads the membrane at t, ``v[t+1] = (alpha v[t] + h[t]) (1 -
s[t])``. Which peer each option equals:

- ``spike_timing="same_step"`` with ``reset="zero"`` or ``"subtract"``: Norse's ``LIF`` /
  ``LIFRecurrent`` (with ``decay="euler"``; Norse scales the input by ``dt / tau_mem``),
  SpikingJelly's ``LIFNode`` (``v_reset=None``: subtract) and the NIR reference's CubaLIF.
- ``spike_timing="same_step_late_reset"``: snnTorch's ``Leaky`` / ``Synaptic`` / ``RLeaky`` /
  ``RSynaptic`` with their default ``reset_delay=True`` (``beta = alpha``; snnTorch's
  ``alpha`` is ``alpha_syn``; its "zero" reset of ``Leaky`` keeps this step's input, which
  this family does not).
- ``tau_adapt`` with ``adapt_strength``: the adaptive threshold of Bellec et al. 2018 (ALIF).

IF is LIF with ``alpha = 1`` (``tau = inf``). The leaky readout integrates without
spiking: ``v[t+1] = alpha * v[t] + h[t]``. Every forward pass starts from rest (all state
0) unless it is asked to continue from the state the previous one left (``layer.state``,
a dict of ``v, s, i, a, z`` arrays ``[B, N]``, None where absent).

Backprop-through-time replaces ``H'`` by a surrogate (``snnumba.surrogate``); the gradient
flows through the membrane, the spikes, the resets, the synaptic current, the adaptation
and the recurrence. With ``learn_tau`` / ``learn_threshold`` the time constants and
thresholds are per-neuron parameters; their gradients are analytic (dL/dalpha chained
through dalpha/dtau of the chosen decay).

Spikes are ``uint8`` arrays of 0 and 1 (a quarter of float32's memory); losses, the
functional utilities, classifiers and the following ``Dense`` layer accept them as they
are. Gradients are floats in the layer's dtype.

In training mode a forward pass records what the backward pass needs (the input, the
membrane ``v[T, B, N]``, the spikes, and the synaptic current and adaptation when present).
In evaluation mode (``layer.eval()``, ``net.eval()``) it records nothing: only the state
after the last step is kept (to continue from), ``LIF.v`` is None unless
``record_membrane=True``, and ``backward`` raises RuntimeError.
"""
import warnings
from dataclasses import dataclass

import numpy as np

from . import surrogate as _surrogate
from ._validation import check_array, check_choice, check_int, check_nonnegative, check_positive
from .kernels.neuron_step import RESETS, TIMINGS
from .layers import Layer, projection_events, spike_events


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
        """``h`` on this layer's device, in its dtype. Its finiteness is not scanned here
        (a pass over 10^8 values took as long as the kernel): ``_check_final`` finds it."""
        if self.backend.is_device_array(h):
            return self.backend.asarray(h, self.dtype)
        h = check_array("h", h, ndim=3, finite=False)
        if 0 in h.shape:
            raise ValueError(f"'h' must have at least one step, sample and neuron, got {h.shape}")
        return self.backend.asarray(h, self.dtype)

    def _check_final(self, *final):
        """Raise for a NaN or inf in the input, found in the final state ``[B, N]`` arrays:
        a non-finite input makes the membrane (and the synaptic current) non-finite, and
        from a non-finite value ``alpha * v + h`` and every reset stay non-finite
        (``alpha >= 0``; ``0 * inf`` is NaN). A finite input so large that the membrane
        overflowed is refused too."""
        if not all(np.isfinite(self.backend.to_host(f)).all() for f in final):
            raise ValueError("'h' contains NaN or infinite values (or values so large that the membrane "
                             "overflowed)")


def _decay(name, tau, dt, decay):
    """The per-step decay of time constant ``tau`` (seconds; a float or an array):
    ``exp(-dt / tau)`` or, for ``decay="euler"``, ``1 - dt / tau`` (then tau >= dt)."""
    tau = np.asarray(tau, np.float64)
    if decay == "exact":
        return np.exp(-dt / tau)
    if np.any(tau < dt):
        raise ValueError(f"'{name}' must be >= dt ({dt}) with decay='euler' (else 1 - dt/{name} < 0), "
                         f"got a minimum of {tau.min()}")
    return 1.0 - dt / tau


def _decay_derivative(tau, dt, decay):
    """d(decay)/d(tau): ``exp(-dt/tau) dt / tau^2`` or ``dt / tau^2``."""
    tau = np.asarray(tau, np.float64)
    return (np.exp(-dt / tau) if decay == "exact" else 1.0) * dt / (tau * tau)


class LIF(_Membrane):
    """Leaky integrate-and-fire layer, one member of the neuron family (equations in the
    module docstring).

    Parameters
    ----------
    tau : float or array [n]
        Membrane time constant in seconds (default 5 ms, the seed's).
    threshold : float or array
        Firing threshold: a scalar, one per neuron ``[N]`` or one per sample and neuron
        ``[B, N]``. It may be reassigned at any time (``layer.threshold = ...``), except
        with ``learn_threshold`` (then it is ``params["threshold"]``).
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
    reset : {'zero', 'subtract', 'none'}, keyword-only
        What a spike does to the membrane (module docstring, ``R``).
    spike_timing : {'delayed', 'same_step', 'same_step_late_reset'}, keyword-only
        When a spike reads the membrane: the seed's one step later (default), the same step
        (Norse, NIR, SpikingJelly) or the same step with the reset one step later (snnTorch).
    tau_syn : float or array [n], optional, keyword-only
        Synaptic time constant in seconds: a current-based synapse (None: the input drives
        the membrane directly).
    tau_adapt : float or array [n], optional, keyword-only
        Time constant in seconds of the threshold adaptation (None: no adaptation).
    adapt_strength : float or array [n], keyword-only
        ``beta_a``: the threshold is ``threshold + beta_a * a``.
    decay : {'exact', 'euler'}, keyword-only
        ``alpha = exp(-dt / tau)`` or ``1 - dt / tau`` (NIR, Norse and snnTorch write
        their neurons in the forward-Euler form).
    n : int, optional, keyword-only
        Number of neurons; required for ``learn_*`` and for ``[n]``-shaped constants.
    learn_tau : bool, keyword-only
        Train ``params["tau"] [n]`` (and ``params["tau_syn"] [n]`` with a synapse), in
        seconds. A time constant that an optimizer step made <= 0 raises ValueError at the
        next forward pass.
    learn_threshold : bool, keyword-only
        Train ``params["threshold"] [n]``.
    record_membrane : bool, keyword-only
        Also record the membrane ``v`` in evaluation mode (for membrane read-outs such as
        ``functional.spike_cluster`` at inference). Training mode always records it. A
        run-time option like ``training``: ``Network.save`` does not store it.
    """

    _recurrent = False

    def __init__(self, tau=5e-3, threshold=1.0, dt=1e-3, surrogate="sigmoid", slope=None,
                 dtype=np.float32, *, beta=None, reset="zero", spike_timing="delayed", tau_syn=None,
                 tau_adapt=None, adapt_strength=0.0, decay="exact", n=None, learn_tau=False,
                 learn_threshold=False, record_membrane=False):
        self.n = None if n is None else check_int("n", n, 1)
        super().__init__(tau if np.ndim(tau) == 0 else 1.0, dt, dtype)
        slope, arg = _surrogate.slope_argument(slope, beta)
        self.surrogate_code, self.slope = _surrogate.code_and_slope(surrogate, slope, arg)
        self.surrogate = surrogate
        self.reset_mode = check_choice("reset", reset, RESETS)
        self.spike_timing = check_choice("spike_timing", spike_timing, TIMINGS)
        self.decay = check_choice("decay", decay, ("exact", "euler"))
        self.learn_tau = bool(learn_tau)
        self.learn_threshold = bool(learn_threshold)
        if (self.learn_tau or self.learn_threshold) and self.n is None:
            raise ValueError("'n' (the number of neurons) is required with learn_tau or learn_threshold")
        if self.n is not None:
            self.n_in = self.n_out = self.n
        self.tau = self._constant("tau", tau, positive=True)
        self.tau_syn = None if tau_syn is None else self._constant("tau_syn", tau_syn, positive=True)
        self.tau_adapt = None if tau_adapt is None else self._constant("tau_adapt", tau_adapt, positive=True)
        self.adapt_strength = self._constant("adapt_strength", adapt_strength, positive=False)
        for name, value in (("tau", self.tau), ("tau_syn", self.tau_syn), ("tau_adapt", self.tau_adapt)):
            if value is not None:
                _decay(name, value, self.lif_params.dt, self.decay)   # euler: tau >= dt
        if self.learn_tau:
            self.params["tau"] = np.broadcast_to(self.tau, self.n).astype(self.dtype)
            if self.tau_syn is not None:
                self.params["tau_syn"] = np.broadcast_to(self.tau_syn, self.n).astype(self.dtype)
        if self.learn_threshold:
            th = check_array("threshold", threshold, dtype=np.float64)
            if th.ndim > 1 or th.size not in (1, self.n):
                raise ValueError(f"'threshold' must be a scalar or [n={self.n}] with learn_threshold, "
                                 f"got shape {th.shape}")
            self.params["threshold"] = np.broadcast_to(th, self.n).astype(self.dtype)
        else:
            self.threshold = threshold
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.record_membrane = bool(record_membrane)
        self._membrane = None
        self._constants_cache = None

    def _constant(self, name, value, positive):
        """A float, or a float64 array [n] (which needs ``n``), checked."""
        if np.ndim(value) == 0:
            if positive:
                return check_positive(name, value, allow_inf=True)
            return float(check_array(name, value, dtype=np.float64))
        arr = check_array(name, value, dtype=np.float64)
        if self.n is None:
            raise ValueError(f"'{name}' given per neuron (shape {arr.shape}) needs 'n'")
        if arr.shape != (self.n,):
            raise ValueError(f"'{name}' must be a scalar or have shape ({self.n},), got {arr.shape}")
        if positive and not np.all(arr > 0):
            raise ValueError(f"'{name}' must be positive, got a minimum of {arr.min()}")
        return arr

    @property
    def beta(self):
        """Deprecated alias of ``slope``."""
        warnings.warn("'LIF.beta' is deprecated: use 'LIF.slope'", DeprecationWarning, stacklevel=2)
        return self.slope

    @property
    def alpha(self):
        """The membrane decay: a scalar in the layer's dtype, or [n] float64 when tau is per
        neuron or trained."""
        tau = self.backend.to_host(self.params["tau"]) if self.learn_tau else self.tau
        alpha = _decay("tau", tau, self.lif_params.dt, self.decay)
        return self.dtype.type(alpha) if np.ndim(alpha) == 0 else alpha

    @property
    def threshold(self):
        if self.learn_threshold:
            return self.backend.to_host(self.params["threshold"]).astype(np.float64)
        return self._threshold

    @threshold.setter
    def threshold(self, value):
        if self.learn_threshold:
            raise AttributeError("with learn_threshold the threshold is params['threshold']")
        value = check_array("threshold", value, dtype=np.float64)
        if value.ndim > 2:
            raise ValueError(f"'threshold' must be a scalar, [N] or [B, N], got shape {value.shape}")
        self._threshold = value if value.ndim else float(value)
        self._threshold_on_device = None

    def _threshold_array(self, batch, n):
        """The threshold broadcast to [B, N] on this layer's device (cached unless trained)."""
        cached = None if self.learn_threshold else self._threshold_on_device
        if cached is not None and tuple(cached.shape) == (batch, n):
            return cached
        try:
            full = np.broadcast_to(self.threshold, (batch, n))
        except ValueError:
            raise ValueError(f"'threshold' of shape {np.shape(self.threshold)} does not fit "
                             f"batch {batch} and {n} neurons") from None
        self._threshold_on_device = self.backend.asarray(np.array(full, self.dtype))   # writable, as in _constants
        return self._threshold_on_device

    def _constants(self, n):
        """(alpha, alpha_syn, rho, adapt_strength) as [n] arrays on the device (alpha [1] when
        one for all), a zero-length array where the synapse or the adaptation is absent
        (cached unless tau is trained)."""
        cached = self._constants_cache
        if cached is not None and cached[0] == n and not self.learn_tau:
            return cached[1]
        dt = self.lif_params.dt
        if self.learn_tau:
            for name in ("tau", "tau_syn"):
                if name in self.params:
                    tau = self.backend.to_host(self.params[name])
                    if not np.all(tau > 0):
                        raise ValueError(f"'{name}' must stay positive, but an optimizer step made its minimum "
                                         f"{tau.min()}; lower the learning rate or clip it")
        tau = self.backend.to_host(self.params["tau"]) if self.learn_tau else self.tau
        alpha = _decay("tau", tau, dt, self.decay)
        if np.ndim(alpha) == 0:
            alpha = self.dtype.type(alpha)   # the scalar path's rounding (bit-identical to the seed's)
        empty = np.zeros(0)
        if self.tau_syn is None:
            alpha_syn = empty
        else:
            tau_syn = self.backend.to_host(self.params["tau_syn"]) if self.learn_tau else self.tau_syn
            alpha_syn = _decay("tau_syn", tau_syn, dt, self.decay)
        rho = empty if self.tau_adapt is None else _decay("tau_adapt", self.tau_adapt, dt, self.decay)
        strength = empty if self.tau_adapt is None else self.adapt_strength
        # a scalar alpha stays one value ([1]): the kernels then run the seed's loop. Copies,
        # all writable: Numba compiles a read-only array (a broadcast view) as another type, so
        # each mix of options present and absent compiled the kernels anew (about 20 s each)
        consts = tuple(self.backend.asarray(np.array(np.broadcast_to(c, (n,) if np.size(c) else (0,)), self.dtype))
                       for c in (alpha_syn, rho, strength))
        consts = (self.backend.asarray(np.reshape(alpha, np.size(alpha)), self.dtype),) + consts
        if np.size(alpha) not in (1, n):
            raise ValueError(f"'tau' has {np.size(alpha)} values for {n} neurons")
        self._constants_cache = (n, consts)
        return consts

    def to(self, device, dtype=None):
        self._threshold_on_device = None
        self._constants_cache = None
        return super().to(device, dtype)

    def config(self):
        def plain(x):
            return x if x is None or np.ndim(x) == 0 else np.asarray(x).tolist()
        return dict(tau=plain(self.tau), threshold=plain(self.threshold), dt=self.lif_params.dt,
                    surrogate=self.surrogate, slope=self.slope, reset=self.reset_mode,
                    spike_timing=self.spike_timing, tau_syn=plain(self.tau_syn), tau_adapt=plain(self.tau_adapt),
                    adapt_strength=plain(self.adapt_strength), decay=self.decay, n=self.n,
                    learn_tau=self.learn_tau, learn_threshold=self.learn_threshold)

    def reset(self):
        super().reset()
        self._membrane = None

    def _initial_state(self, batch, n, continue_state):
        """v, s, i, a, z [B, N] to start from: the last state (continue_state) or rest."""
        be = self.backend
        if continue_state and self.state is not None:
            if tuple(self.state["v"].shape) != (batch, n):
                raise ValueError(f"cannot continue from a state of shape {tuple(self.state['v'].shape)} with an "
                                 f"input of batch {batch} and {n} neurons; call reset() first")
            return [self.state[k] if self.state[k] is not None else
                    be.zeros((batch, n), np.uint8 if k in "sz" else self.dtype) for k in "vsiaz"]
        return [be.zeros((batch, n), np.uint8 if k in "sz" else self.dtype) for k in "vsiaz"]

    def _recurrent_weight(self):
        """V [n, n], or a [0, 0] array for a layer without recurrence."""
        return self.backend.zeros((0, 0), self.dtype)

    def forward(self, h, continue_state=False):
        """Spikes ``z[T, B, N]`` (uint8 0/1) for input current ``h[T, B, N]``.

        Training mode records what the backward pass needs; evaluation mode records
        nothing but the final state (and v with ``record_membrane``).
        """
        h = self._input(h)
        T, B, N = h.shape
        if self.n is not None and N != self.n:
            raise ValueError(f"'h' has {N} neurons but the layer was built with n={self.n}")
        be = self.backend
        alpha, alpha_syn, rho, strength = self._constants(N)
        threshold = self._threshold_array(B, N)
        start = self._initial_state(B, N, continue_state)
        record_v = self.training or self.record_membrane
        syn, adapt = alpha_syn.shape[0] != 0, rho.shape[0] != 0

        def steps(present, dtype=self.dtype):   # zero steps: not recorded
            return be.empty((T if present else 0, B, N), dtype)
        v, s = steps(record_v), steps(True, np.uint8)
        i, a = steps(record_v and syn), steps(record_v and adapt)
        # a recurrent layer's total input h + r: its values enter the BPTT only through the
        # reset to zero (``neuron_step_grad``); otherwise h stands in for it (shape, dtype)
        keep_x = self._recurrent and self.reset_mode == "zero"
        x = steps(self.training and keep_x)
        final = [be.empty((B, N), np.uint8 if k in "sz" else self.dtype) for k in "vsiaz"]
        weight = self._recurrent_weight()
        be.neuron_forward(h, weight, alpha, alpha_syn, rho, strength, threshold, RESETS.index(self.reset_mode),
                          TIMINGS.index(self.spike_timing), *start, v, s, i, a, x, *final)
        self._check_final(final[0], *final[2:3] if syn else ())
        present = dict(v=True, s=True, i=syn, a=adapt, z=self._recurrent)
        self.state = {k: f if present[k] else None for k, f in zip("vsiaz", final)}
        self._membrane = v if record_v else None
        self._record((x if keep_x else h, v, s, i, a, threshold, start))
        if self.training:
            for observe in self.observers:
                observe(s)
        return s

    @property
    def v(self):
        """Membrane recorded by the last forward pass, ``[T, B, N]``: the one tested against
        the threshold (v before the step for "delayed", u for "same_step", m for
        "same_step_late_reset"); None after a forward pass in evaluation mode (unless
        ``record_membrane``)."""
        return self._membrane

    def backward(self, grad_s, grad_v=None, need_input_grad=True):
        """dL/dh from dL/ds (and optionally a direct dL/dv on the recorded membrane); adds
        the gradients of the trained constants (and recurrent weights) into ``grads``."""
        x, v, s, i, a, threshold, start = self._recorded()
        be = self.backend
        grad_s = be.asarray(grad_s, self.dtype)
        if tuple(grad_s.shape) != tuple(x.shape):
            raise ValueError(f"'grad_s' must have shape {tuple(x.shape)}, got {tuple(grad_s.shape)}")
        if grad_v is None:
            grad_v = be.empty((0,) + tuple(x.shape[1:]), self.dtype)  # zero steps: no dL/dv
        else:
            grad_v = be.asarray(grad_v, self.dtype)
            if tuple(grad_v.shape) != tuple(x.shape):
                raise ValueError(f"'grad_v' must have shape {tuple(x.shape)}, got {tuple(grad_v.shape)}")
        T, B, N = x.shape
        alpha, alpha_syn, rho, strength = self._constants(N)
        grad_h = be.empty(x.shape, self.dtype)
        per_row = [be.empty((B, N) if wanted else (0, 0), self.dtype) for wanted in
                   (self.learn_tau, self.learn_tau and self.tau_syn is not None, self.learn_threshold)]
        in_bptt = self._weight_grad_in_bptt(s, start[4])
        be.neuron_backward(x, self._recurrent_weight(), v, s, i, a, alpha, alpha_syn, rho, strength, threshold,
                           RESETS.index(self.reset_mode), TIMINGS.index(self.spike_timing), start[0], start[1],
                           self.surrogate_code, self.slope, grad_s, grad_v, grad_h, *per_row, **in_bptt)
        self._constant_grads(*per_row)
        self._weight_grads(s, start[4], grad_h, in_bptt.get("grad_weight"))
        return grad_h

    def _constant_grads(self, grad_alpha, grad_alpha_syn, grad_threshold):
        """Sum the per-(batch, neuron) gradients over the batch into ``grads``, chained
        through d(decay)/d(tau) for the time constants."""
        be = self.backend
        dt = self.lif_params.dt
        for name, g in (("tau", grad_alpha), ("tau_syn", grad_alpha_syn)):
            if g.shape[0] != 0:
                tau = be.to_host(self.params[name]).astype(np.float64)
                total = be.to_host(g).sum(axis=0, dtype=np.float64) * _decay_derivative(tau, dt, self.decay)
                be.add_inplace(self.grads[name], be.asarray(total, self.dtype))
        if grad_threshold.shape[0] != 0:
            be.column_sum(grad_threshold, self.grads["threshold"])

    def _weight_grad_in_bptt(self, s, z0):
        """Keyword arguments of ``neuron_backward`` that ask it to sum the recurrent weight's
        gradient (RecurrentLIF)."""
        return {}

    def _weight_grads(self, s, z0, grad_h, summed):
        """The recurrent weight's gradient (RecurrentLIF)."""


class IF(LIF):
    """Integrate-and-fire layer: LIF without leak (``alpha = 1``), with the same options
    (except ``learn_tau``: there is no time constant)."""

    def __init__(self, threshold=1.0, dt=1e-3, surrogate="sigmoid", slope=None, dtype=np.float32, *,
                 beta=None, learn_tau=False, **options):
        slope, arg = _surrogate.slope_argument(slope, beta)  # warns at the caller of IF
        _surrogate.code_and_slope(surrogate, slope, arg)      # errors name the argument given
        if learn_tau:
            raise ValueError("'learn_tau' is not an option of IF (tau = inf); use LIF")
        if "tau" in options:
            raise TypeError("IF has no 'tau' (it is inf); use LIF")
        super().__init__(np.inf, threshold, dt, surrogate, slope, dtype, **options)

    def config(self):
        cfg = super().config()
        del cfg["tau"], cfg["learn_tau"]
        return cfg


class RecurrentLIF(LIF):
    """LIF layer with all-to-all recurrent weights: ``x[t] = h[t] + z[t-1] @ V``.

    Parameters
    ----------
    n : int
        Number of neurons; ``params["recurrent_weight"]`` is ``[n, n]``, laid out ``[pre,
        post]`` like Dense's ``[in, out]``.
    self_connections : bool, keyword-only
        Without them the diagonal of V stays 0 (its gradient is zeroed: not trained).
    init_bound : float, optional, keyword-only
        V starts uniform in ``[-init_bound, init_bound]`` (default ``1/sqrt(n)``).
    rng : numpy.random.Generator or int, optional, keyword-only
        Source of the initial weights.
    **options
        Every LIF option (``tau``, ``threshold``, ``reset``, ``tau_syn``, ...).

    The recurrent input is event-driven (the rows of V of the neurons that spiked at t-1),
    and the whole time loop is one kernel, forward and backward. On the CPU the backward
    kernel also sums V's gradient at the spike densities where that is faster than a
    product afterwards (``kernels/cpu/neuron.py: FUSED_WEIGHT_GRAD_DENSITIES``).
    """

    _recurrent = True

    def __init__(self, n, *, self_connections=True, init_bound=None, rng=None, **options):
        super().__init__(n=check_int("n", n, 1), **options)
        self.self_connections = bool(self_connections)
        bound = 1.0 / np.sqrt(self.n) if init_bound is None else check_nonnegative("init_bound", init_bound)
        self.init_bound = float(bound)
        weight = np.random.default_rng(rng).uniform(-bound, bound, (self.n, self.n))
        if not self.self_connections:
            np.fill_diagonal(weight, 0.0)
        self.params["recurrent_weight"] = weight.astype(self.dtype)
        self.grads["recurrent_weight"] = np.zeros((self.n, self.n), self.dtype)

    def config(self):
        cfg = super().config()
        cfg.update(self_connections=self.self_connections, init_bound=self.init_bound)
        return cfg

    def _recurrent_weight(self):
        return self.params["recurrent_weight"]

    def _weight_grad_in_bptt(self, s, z0):
        # the BPTT kernel sums dV where the backend says that is faster (the spikes' density)
        if not self.backend.fuses_recurrent_weight_grad(s, self.dtype):
            return {}
        return {"z0": z0, "grad_weight": self.backend.zeros((self.n, self.n), self.dtype)}

    def _weight_grads(self, s, z0, grad_h, summed):
        """Add dV = sum_t z[t-1]^T dL/dx[t] (z[-1] = z0) into ``grads``: ``summed`` by the
        BPTT kernel, or else a product on the spikes shifted by one step here."""
        be = self.backend
        g = self._shifted_spikes_product(s, z0, grad_h) if summed is None else summed
        if not self.self_connections:
            host = be.to_host(g).copy()
            np.fill_diagonal(host, 0.0)
            be.copy_into(g, host)
        be.add_inplace(self.grads["recurrent_weight"], g)

    def _shifted_spikes_product(self, s, z0, grad_h):
        """dV as a weight gradient on the shifted spikes: event-driven where Dense's would be
        (``projection_events``), else dense."""
        be = self.backend
        T, B, N = s.shape
        g = be.zeros((N, N), self.dtype)  # added in one go, as Dense's weight gradient
        if T > 1:
            prev = s[:T - 1].reshape((T - 1) * B, N)
            later = grad_h[1:].reshape((T - 1) * B, N)
            events = projection_events(be, prev, N)
            if events is None:
                be.matmul(be.asarray(prev, self.dtype), later, g, trans_a=True)
            else:
                be.spike_weight_grad(*events, later, g)
        be.spike_weight_grad(*spike_events(be, z0), grad_h[0], g)
        return g


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
        self._check_final(v_final)
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
