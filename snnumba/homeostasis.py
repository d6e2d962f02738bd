"""Homeostatic plasticity toward a target firing rate (after inferno's LinearHomeostasis).

For a registered pair (``Dense`` connection, ``LIF`` neuron layer) and the neuron's rate
``r`` (a ``SpikeRateMonitor``), with ``k = (r* - r) / r*`` per sample and output neuron::

    weight:  dW[:, j] = +lambda k_j      (every input weight of output neuron j)
    bias:    db[j]    = +lambda / L sum k_j     (L = 1 output per bias term for Dense)
    delay:   dd[:, j] = -lambda k_j

Each update is split into its positive and negative parts, and each part is reduced over
the batch (mean by default), in that order; the parameter then moves by
``positive - negative``, so the net change is the documented formula. (inferno hands its
updater the negative part as values <= 0 and the updater subtracts them, so there every
parameter only grows; here a neuron above target sees its weights or bias fall.)
"""
import numpy as np

from ._validation import check_array, check_choice, check_positive

PARAMS = ("weight", "bias", "delay")
#: Names accepted for ``batch_reduction``; each is called as ``f(array, axis)``.
REDUCTIONS = {"mean": np.mean, "sum": np.sum, "max": np.max, "min": np.min, "median": np.median}


class SpikeRateMonitor:
    """Cumulative average of a spiking layer's output since the last ``reset``.

    The rate is in spikes per time step (the fraction of observed steps with a spike;
    divide by ``dt`` for Hz), per sample and neuron: what inferno's
    ``CAReducer(dt, duration=0, inclusive=True)`` computes. It observes the layer only in
    training mode.
    """

    def __init__(self, layer):
        self.layer = layer
        self.reset()
        layer.observers.append(self._observe)

    def reset(self):
        self._sum = None
        self._steps = 0

    def _observe(self, spikes):
        s = self.layer.backend.to_host(spikes)
        if self._sum is not None and self._sum.shape != s.shape[1:]:
            raise ValueError(f"the batch changed from {self._sum.shape} to {s.shape[1:]} since the "
                             "monitor's last reset; call reset() between batches")
        total = s.sum(axis=0, dtype=np.float64)
        self._sum = total if self._sum is None else self._sum + total
        self._steps += s.shape[0]

    def peek(self):
        """The rate ``[B, N]`` so far."""
        if self._sum is None:
            raise RuntimeError("the monitor has observed nothing since its last reset (is the layer in training mode?)")
        return self._sum / self._steps


class ParameterUpdater:
    """Accumulates positive and negative update parts and applies them with a bound.

    Parameters
    ----------
    bound : {None, 'hard', 'soft'}
        None: ``p + pos - neg``; 'hard': clipped to ``[lower, upper]``; 'soft':
        multiplicative, ``p + pos (upper - p)^mu - neg (p - lower)^mu``.
    lower, upper : float
        The bounds ('hard' and 'soft').
    mu : float
        Exponent of the soft bound.
    """

    def __init__(self, bound=None, lower=None, upper=None, mu=1.0):
        if bound is not None:
            check_choice("bound", bound, ("hard", "soft"))
            if lower is None or upper is None or not lower < upper:
                raise ValueError(f"bound {bound!r} needs lower < upper, got lower={lower}, upper={upper}")
        self.bound, self.lower, self.upper = bound, lower, upper
        self.mu = check_positive("mu", mu)
        self.clear()

    def clear(self):
        self.positive = 0.0
        self.negative = 0.0

    def accumulate(self, positive, negative):
        """Add update parts, both given as magnitudes >= 0."""
        self.positive = self.positive + positive
        self.negative = self.negative + negative

    def apply(self, param):
        """The bounded new value of ``param`` (host array); clears the accumulated parts."""
        pos, neg = self.positive, self.negative
        if self.bound == "soft":
            new = (param + pos * np.clip(self.upper - param, 0, None) ** self.mu
                   - neg * np.clip(param - self.lower, 0, None) ** self.mu)
        else:
            new = param + pos - neg
            if self.bound == "hard":
                new = np.clip(new, self.lower, self.upper)
        self.clear()
        return new.astype(param.dtype)


def _check_target(target, name="target"):
    """A scalar or per-neuron array of positive rates (the rule divides by it)."""
    t = check_array(name, target, dtype=np.float64)
    if np.any(t < 0):
        raise ValueError(f"'{name}' must be non-negative, got a minimum of {t.min()}")
    if np.any(t == 0):
        raise ValueError(f"'{name}' must not be 0: the update divides by the target rate")
    return float(t) if t.ndim == 0 else t


def _check_target_fits(target, n, unit, batch=None):
    """ValueError naming 'target' unless it is a scalar, ``[N]`` or ``[B or 1, N]`` (N
    or 1 for the ``n`` neurons; ``batch``, when known, for B)."""
    shape = np.shape(target)
    fits = len(shape) <= 2 and (not shape or shape[-1] in (1, n))
    if len(shape) == 2 and batch is not None:
        fits = fits and shape[0] in (1, batch)
    if not fits:
        batch_size = "B" if batch is None else batch
        raise ValueError(f"'target' of shape {shape} does not fit unit {unit!r}: expected a scalar, "
                         f"[{n}] or [1 or {batch_size}, {n}]")


def _check_reduction(value):
    """``batch_reduction``: a callable, or one of the names in ``REDUCTIONS``."""
    if isinstance(value, str):
        return REDUCTIONS[check_choice("batch_reduction", value, tuple(REDUCTIONS))]
    if not callable(value):
        raise TypeError(f"'batch_reduction' must be a callable or one of {', '.join(map(repr, REDUCTIONS))}, "
                        f"got {type(value).__name__}")
    return value


class LinearHomeostasis:
    """Linear homeostatic regulation of weights, biases or delays (module docstring).

    Parameters
    ----------
    plasticity : float
        Learning rate ``lambda``.
    target : float, array or None
        Default target rate ``r*`` in spikes per step (see ``SpikeRateMonitor``); when None
        it must be given at registration or on each ``step``.
    param : {'weight', 'bias', 'delay'} (case-insensitive)
    batch_reduction : callable ``(array, axis) -> array`` or str, optional
        Reduces each update part over the batch; ``numpy.mean`` by default. The names
        'mean', 'sum', 'max', 'min' and 'median' stand for the NumPy functions.
    """

    def __init__(self, plasticity, target, param, batch_reduction=None):
        self.plasticity = float(plasticity)
        self.target = None if target is None else _check_target(target)
        self.param = check_choice("param", str(param).lower(), PARAMS)
        self.batch_reduction = np.mean if batch_reduction is None else _check_reduction(batch_reduction)
        self.training = True
        self.units = {}

    def train(self, mode=True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def register(self, name, connection, neuron, *, plasticity=None, target=None, param=None,
                 batch_reduction=None, bound=None, lower=None, upper=None, mu=1.0):
        """Regulate ``connection`` (a ``Dense``) from the spike rate of ``neuron`` (a ``LIF``).

        Keyword arguments override the defaults for this pair only. ``target`` (here or
        the constructor's) must be a scalar, ``[N]`` or ``[B or 1, N]`` for the
        connection's N = ``n_out`` neurons (ValueError otherwise). ``bound``, ``lower``, ``upper``, ``mu``
        configure the parameter's ``ParameterUpdater``; delays are always kept within
        ``[0, max_delay]``.
        """
        if name in self.units:
            raise ValueError(f"a unit named {name!r} is already registered")
        param = check_choice("param", str(param if param is not None else self.param).lower(), PARAMS)
        if param == "bias" and not connection.has_bias:
            raise ValueError("param 'bias' needs a connection with a bias (Dense(..., bias=True))")
        if param == "delay" and "delay" not in connection.buffers:
            raise ValueError("param 'delay' needs a connection with delays (Dense(..., delay=...))")
        target = self.target if target is None else _check_target(target)
        _check_target_fits(target, connection.n_out, name)  # the batch size is known only at step()
        self.units[name] = {
            "connection": connection, "neuron": neuron, "param": param,
            "plasticity": float(plasticity if plasticity is not None else self.plasticity),
            "target": target,
            "batch_reduction": self.batch_reduction if batch_reduction is None else _check_reduction(batch_reduction),
            "updater": ParameterUpdater(bound, lower, upper, mu),
            "monitor": SpikeRateMonitor(neuron),
        }
        return self.units[name]

    def reset_monitors(self):
        for unit in self.units.values():
            unit["monitor"].reset()

    def step(self, target=None, names=None, reset_monitors=True):
        """Update every registered parameter (or those in ``names``) from the rates observed
        since the monitors' last reset, then (by default) reset the monitors.

        ``target`` overrides every unit's target for this call only.
        """
        call_target = None if target is None else _check_target(target)
        for name, unit in self.units.items():
            if (names is not None and name not in names) or not self.training or not unit["neuron"].training:
                continue
            rate_target = call_target if call_target is not None else unit["target"]
            if rate_target is None:
                raise RuntimeError(f"no target rate for unit {name!r}: give one to the constructor, "
                                   "register() or step()")
            rate = unit["monitor"].peek()
            _check_target_fits(rate_target, rate.shape[1], name, batch=rate.shape[0])
            k = (rate_target - rate) / rate_target            # [B, N]
            k = k * (-unit["plasticity"] if unit["param"] == "delay" else unit["plasticity"])
            reduce = unit["batch_reduction"]
            unit["updater"].accumulate(reduce(np.maximum(k, 0.0), 0), reduce(np.maximum(-k, 0.0), 0))
            self._apply(unit)
        if reset_monitors:
            self.reset_monitors()

    @staticmethod
    def _apply(unit):
        layer, param = unit["connection"], unit["param"]
        store = layer.buffers if param == "delay" else layer.params
        be = layer.backend
        new = unit["updater"].apply(be.to_host(store[param]))   # per-output updates broadcast over inputs
        if param == "delay":
            new = np.clip(new, 0.0, layer.max_delay)
        be.copy_into(store[param], new)
