"""Layers: the ``Layer`` protocol and the ``Dense`` synaptic projection.

A layer maps a time-major array ``[T, B, N_in]`` to ``[T, B, N_out]`` and back:
``forward(x)`` records what its backward pass needs, ``backward(grad_out)`` adds the
parameter gradients into ``grads`` and returns the gradient with respect to ``x``.
Parameters, gradients and state are plain arrays (NumPy on the CPU, ``numba.cuda``
device arrays on the GPU) that a user can read and write.
"""
import numpy as np

from ._validation import (all_finite, check_array, check_choice, check_float_dtype, check_int,
                          check_nonnegative, check_positive)
from .backend import get_backend

#: Input dtypes read as spikes (0/1 events) rather than currents.
SPIKE_DTYPES = (np.dtype(np.bool_), np.dtype(np.uint8))

#: A bool/uint8 input whose fraction of non-zero entries is below this takes the
#: event-driven projection (the weight rows of the inputs that fired), otherwise the dense
#: product (on the uint8 itself to few outputs, else BLAS on one float copy). Measured with
#: benchmarks/bench_projection.py on the 2-core machine (forward + weight gradient), since
#: narrow rows are added by whole vectors (``kernels/cpu/_simd.py``): events are faster up
#: to 30 % for 64000 rows of 1000 -> 1000 (9.7x at 2 %, 1.35x at 20 %, 0.92x at 30 %, against
#: BLAS on row chunks), and against the uint8 kernels up to 30 % for 6400 rows of 200 -> 30
#: (1.13x at 20 %, 1.02x at 30 %), 10-20 % for 25600 rows of 256 -> 20 (1.26x at 10 %, 0.83x
#: at 20 %) and 10-20 % for 64000 rows of 1000 -> 10 (1.09x at 10 %, 0.65x at 20 %). One
#: threshold for all sizes, about the narrowest layers' break-even.
EVENT_DENSITY_THRESHOLD = 0.15
#: Products of fewer multiply-adds (rows x inputs x outputs) take the dense path at any
#: density: listing the events costs three kernel launches and a copy of the counts to the
#: host, more than such a product takes. Measured forward + backward on the 2-core machine
#: (dense / events, > 1: events faster): 6400 rows of 30 -> 12 (2.3M) 0.95 at 3 %, 0.68 at
#: 10 %; 64 -> 32 (13M) 1.59 and 1.09; 128 -> 64 (52M) 2.0 and 1.5.
EVENT_MIN_MACS = 1 << 22


class Layer:
    """Base class: parameters, gradients, device placement, train/eval mode, state.

    Subclasses set ``params`` (trainable arrays), ``buffers`` (saved, not trained) and
    implement ``forward``, ``backward`` and ``config`` (the keyword arguments that rebuild
    the layer, for ``Network.save``).

    ``n_in`` and ``n_out`` are the input and output sizes, or None for a layer that takes
    any size and keeps it (the neuron layers); ``Network`` checks adjacent sizes with them.
    """

    n_in = None
    n_out = None

    def __init__(self, dtype=np.float32):
        self.dtype = check_float_dtype("dtype", dtype)
        self.backend = get_backend("cpu")
        self.training = True
        self.params = {}
        self.buffers = {}
        self.grads = {}

    # --- placement -------------------------------------------------------------------
    def to(self, device, dtype=None):
        """Move parameters and buffers to ``device`` (and ``dtype``); returns self."""
        new = get_backend(device)
        self.dtype = check_float_dtype("dtype", dtype if dtype is not None else self.dtype)
        for store in (self.params, self.buffers):
            for name, value in store.items():
                store[name] = new.asarray(self.backend.to_host(value), self.dtype)
        self.backend = new
        self.grads = {name: new.zeros(p.shape, self.dtype) for name, p in self.params.items()}
        self.reset()
        return self

    # --- training plumbing -----------------------------------------------------------
    def zero_grad(self):
        for g in self.grads.values():
            self.backend.fill(g, 0)

    def train(self, mode=True):
        """Set training mode (``mode=False`` is evaluation mode); returns self."""
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def reset(self):
        """Forget the state and the recorded traces of the last forward pass."""

    def config(self):
        raise NotImplementedError

    def _check_input(self, x, n_features, name="x", spikes=False, finite=True):
        """Validate a [T, B, n_features] input and bring it to this layer's device/dtype.

        With ``spikes=True`` a bool or uint8 input stays uint8 (bool is viewed as uint8,
        not copied); anything else becomes this layer's float dtype. ``finite=False``
        leaves NaN/inf to the caller.
        """
        if self.backend.is_device_array(x):
            if len(x.shape) != 3 or x.shape[2] != n_features:
                raise ValueError(f"'{name}' must have shape [T, B, {n_features}], got {tuple(x.shape)}")
        else:
            x = check_array(name, x, ndim=3, finite=finite)
            if x.shape[2] != n_features:
                raise ValueError(f"'{name}' must have shape [T, B, {n_features}], got {x.shape}")
            if x.shape[0] == 0 or x.shape[1] == 0:
                raise ValueError(f"'{name}' must have at least one time step and one sample, got {x.shape}")
        if spikes and x.dtype in SPIKE_DTYPES:
            return self.backend.asarray(x.view(np.uint8))
        return self.backend.asarray(x, self.dtype)


def dale_signs(n_in, n_out, ie_ratio):
    """The seed's fixed Dale's-law sign mask: the first ``int(ie_ratio * n_in)`` input rows
    (the product truncated, as the seed's ``torch.arange(ie_ratio * n_in, dtype=int)``
    does) are inhibitory (-1), the rest excitatory (+1)."""
    sign = np.ones((n_in, n_out))
    sign[: int(ie_ratio * n_in)] = -1.0
    return sign


def spike_events(be, x2d, max_density=None):
    """The spikes of uint8 ``x2d[R, N]`` on backend ``be`` as ``(offsets, indices)``
    (compressed sparse rows, ``kernels/cpu/sparse.py``). None when ``x2d`` holds values
    other than 0 and 1, or when ``max_density`` is given and the fraction of spikes reaches it."""
    counts = be.empty(x2d.shape[0], np.int64)
    be.spike_row_counts(x2d, counts)
    counts = be.to_host(counts)
    n_spikes = int(counts.sum())
    if counts.min() < 0 or (max_density is not None and n_spikes >= max_density * x2d.size):
        return None
    offsets = np.zeros(x2d.shape[0] + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    offsets = be.asarray(offsets)
    indices = be.empty(n_spikes, np.int32)
    be.spike_row_indices(x2d, offsets, indices)
    return offsets, indices


def large_product(x, n_out):
    """Whether projecting ``x`` (any shape, its last axis the inputs) to ``n_out`` outputs
    takes at least EVENT_MIN_MACS multiply-adds: smaller products take the float path."""
    return x.size * n_out >= EVENT_MIN_MACS


def projection_events(be, x2d, n_out):
    """The spikes of uint8 ``x2d[R, n_in]`` as events for a projection to ``n_out``
    outputs (``spike_events``), or None for the dense product: fewer than EVENT_MIN_MACS
    multiply-adds, a density of EVENT_DENSITY_THRESHOLD or more, or values other than 0
    and 1."""
    if not large_product(x2d, n_out):
        return None
    return spike_events(be, x2d, EVENT_DENSITY_THRESHOLD)


class Dense(Layer):
    """All-to-all synaptic projection ``h[t] = x[t] @ W (+ b)``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output sizes; the weight has shape ``[n_in, n_out]``.
    bias : bool
        Add a trainable bias of shape ``[n_out]``.
    dales_law : bool
        Use the effective weight ``|W| * sign`` with a fixed sign mask whose first
        ``int(ie_ratio * n_in)`` rows (truncated, as in the seed) are inhibitory.
    ie_ratio : float in [0, 1]
        Inhibitory fraction of the inputs under Dale's law.
    init_bound : float, optional
        Weights (and bias) start uniform in ``[-init_bound, init_bound]``. The default is
        the seed's ``1/sqrt(n_out)``: the seed calls PyTorch's uniform fan-in init on a
        ``[n_in, n_out]`` tensor, which PyTorch reads as ``[out, in]``.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights.
    delay : float or array [n_in, n_out], optional
        Per-synapse delays in seconds, ``0 <= delay <= max_delay``:
        ``h[t, b, j] = sum_i W[i, j] x[t - delay[i, j] / dt, b, i]`` (zero before t = 0).
        Kept in ``buffers['delay']`` (saved, not changed by the optimizers).
    max_delay : float, optional
        Upper bound of the delays in seconds (default: the largest initial delay).
    dt : float
        Time step in seconds, to convert delays into steps.
    delay_mode : {'round', 'linear'}
        Round delays to whole steps, or interpolate linearly between neighbouring steps.
    dtype : float32 or float64

    Without delays all time steps are projected at once. Spikes given as bool or uint8
    (0/1; LIF layers output uint8) whose fraction of non-zero entries is below
    ``layers.EVENT_DENSITY_THRESHOLD``, in products of at least ``layers.EVENT_MIN_MACS``
    multiply-adds, take the event-driven path: each output row is the
    sum of the weight rows of the inputs that fired, and the weight gradient adds into
    those rows only (``kernels/cpu/sparse.py``); the result equals the dense product to
    float rounding. Float inputs (currents, rates, spikes as 0.0/1.0), denser spikes and
    uint8 holding other values than 0 and 1 take a matrix product (on the CPU: BLAS calls on
    chunks of rows, on every core, ``kernels/cpu/dense.py``). On the CPU, uint8 inputs of
    such products to at most ``kernels.cpu.dense.NARROW_MAX_OUTPUTS`` outputs (a readout)
    are multiplied as they are, without a float copy, by kernels of their own.
    With delays a compiled kernel adds each non-zero input into the steps its delays reach
    (spikes stay uint8 there too).
    """

    def __init__(self, n_in, n_out, bias=False, dales_law=False, ie_ratio=0.5, init_bound=None,
                 rng=None, delay=None, max_delay=None, dt=1e-3, delay_mode="round", dtype=np.float32):
        super().__init__(dtype)
        self.n_in = check_int("n_in", n_in, 1)
        self.n_out = check_int("n_out", n_out, 1)
        self.ie_ratio = check_nonnegative("ie_ratio", ie_ratio)
        if self.ie_ratio > 1:
            raise ValueError(f"'ie_ratio' of {ie_ratio} must be in [0, 1]")
        self.dales_law = bool(dales_law)
        self.has_bias = bool(bias)
        bound = 1.0 / np.sqrt(self.n_out) if init_bound is None else check_nonnegative("init_bound", init_bound)
        self.init_bound = float(bound)
        rng = np.random.default_rng(rng)
        self.params["weight"] = rng.uniform(-bound, bound, (self.n_in, self.n_out)).astype(self.dtype)
        if self.has_bias:
            self.params["bias"] = rng.uniform(-bound, bound, self.n_out).astype(self.dtype)
        if self.dales_law:
            self.buffers["sign"] = dale_signs(self.n_in, self.n_out, self.ie_ratio).astype(self.dtype)
        self.dt = check_positive("dt", dt)
        self.delay_mode = check_choice("delay_mode", delay_mode, ("round", "linear"))
        self.max_delay = None
        if delay is not None:
            d = check_array("delay", delay, dtype=np.float64)
            try:
                d = np.broadcast_to(d, (self.n_in, self.n_out))
            except ValueError:
                raise ValueError(f"'delay' of shape {d.shape} does not fit ({self.n_in}, {self.n_out})") from None
            if d.min() < 0:
                raise ValueError(f"'delay' must lie in [0, max_delay], got a minimum of {d.min()}")
            self.max_delay = check_nonnegative("max_delay", float(d.max()) if max_delay is None else max_delay)
            if d.max() > self.max_delay:
                raise ValueError(f"'delay' must lie in [0, max_delay={self.max_delay}], got "
                                 f"[{d.min()}, {d.max()}]")
            self.buffers["delay"] = d.astype(self.dtype)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.reset()

    def config(self):
        return dict(n_in=self.n_in, n_out=self.n_out, bias=self.has_bias, dales_law=self.dales_law,
                    ie_ratio=self.ie_ratio, init_bound=self.init_bound, dt=self.dt, delay_mode=self.delay_mode,
                    delay=0.0 if self.max_delay is not None else None, max_delay=self.max_delay)

    def reset(self):
        self._shape = None   # (T, B) of the last forward pass
        self._x = None       # its input, unless the event index below replaces it
        self._events = None  # (offsets, indices) of its spikes on the event-driven path
        self._delay_steps = None

    def _split_delays(self):
        """Delays in steps as (whole steps int64, fraction) on this layer's device."""
        d = self.backend.to_host(self.buffers["delay"]).astype(np.float64) / self.dt
        steps = np.rint(d) if self.delay_mode == "round" else np.floor(d)
        frac = d - steps if self.delay_mode == "linear" else np.zeros_like(d)
        return self.backend.asarray(steps.astype(np.int64)), self.backend.asarray(frac, self.dtype)

    def effective_weight(self):
        """The weight the forward pass uses: ``W``, or ``|W| * sign`` under Dale's law."""
        w = self.params["weight"]
        if not self.dales_law:
            return w
        out = self.backend.empty(w.shape, self.dtype)
        self.backend.dale_weights(w, self.buffers["sign"], out)
        return out

    def forward(self, x, continue_state=False):
        # A float input projected without delays is checked for NaN/inf through its product,
        # when that is smaller: every input element reaches every output of its row (NaN * w
        # and inf * 0 are NaN). Delays can carry an input past the last step: checked there.
        check_product = ("delay" not in self.buffers and self.n_out < self.n_in and self.backend.name == "cpu"
                         and getattr(x, "dtype", None) is not None and x.dtype.kind == "f")
        x = self._check_input(x, self.n_in, spikes=True, finite=not check_product)
        T, B, _ = x.shape
        be = self.backend
        self.reset()
        self._shape = (T, B)
        h = be.empty((T, B, self.n_out), self.dtype)
        h2d = h.reshape(T * B, self.n_out)
        if "delay" not in self.buffers and x.dtype == np.uint8:
            self._events = projection_events(be, x.reshape(T * B, self.n_in), self.n_out)
        if self._events is not None:
            # the bias is added in the same pass over h
            bias = self.params["bias"] if self.has_bias else be.zeros(self.n_out, self.dtype)
            be.spike_matmul(*self._events, self.effective_weight(), bias, h2d)
            return h
        if "delay" in self.buffers:
            self._delay_steps = self._split_delays()
            be.delayed_matmul(x, self.effective_weight(), *self._delay_steps, h)
        else:
            # the one float copy of spikes too dense for events, unless the backend multiplies
            # the uint8 itself (small products keep the float copy: the flagship's bits)
            if not (x.dtype == np.uint8 and large_product(x, self.n_out) and be.keeps_spikes(self.n_out)):
                x = be.asarray(x, self.dtype)
            be.matmul(x.reshape(T * B, self.n_in), self.effective_weight(), h2d)
            if check_product and not all_finite(h2d):
                self.reset()  # a refused pass leaves nothing for backward, as a refused input would
                raise ValueError("'x' contains NaN or infinite values (or values so large that the product "
                                 "overflowed)")
        if self.has_bias:
            be.add_bias(h2d, self.params["bias"])
        self._x = x
        return h

    def backward(self, grad_out, need_input_grad=True):
        if self._shape is None:
            raise RuntimeError("Dense.backward called before forward")
        be = self.backend
        T, B = self._shape
        g = be.asarray(grad_out, self.dtype)
        if tuple(g.shape) != (T, B, self.n_out):
            raise ValueError(f"'grad_out' must have shape {(T, B, self.n_out)}, got {tuple(g.shape)}")
        g2d = g.reshape(T * B, self.n_out)
        # the kernels add row by row: they get a zeroed array, and its sum is added in one go,
        # so that a second backward call adds exactly what the first did
        g_w = be.zeros((self.n_in, self.n_out), self.dtype)
        if "delay" in self.buffers:
            be.delayed_weight_grad(self._x, g, *self._delay_steps, g_w)
        elif self._events is not None:
            be.spike_weight_grad(*self._events, g2d, g_w)
        else:
            be.matmul(self._x.reshape(T * B, self.n_in), g2d, g_w, trans_a=True)
        if self.dales_law:
            be.dale_grad(self.params["weight"], self.buffers["sign"], g_w, self.grads["weight"])
        else:
            be.add_inplace(self.grads["weight"], g_w)
        if self.has_bias:
            be.column_sum(g2d, self.grads["bias"])
        if not need_input_grad:
            return None
        grad_x = be.empty((T, B, self.n_in), self.dtype)
        if "delay" in self.buffers:
            be.delayed_input_grad(g, self.effective_weight(), *self._delay_steps, grad_x)
        else:
            be.matmul(g2d, self.effective_weight(), grad_x.reshape(T * B, self.n_in), trans_b=True)
        return grad_x
