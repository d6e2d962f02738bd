"""SpikingFlow's functional utilities (``softbp.functional``) on NumPy arrays.

Names, argument names and order, array layouts and return values follow SpikingFlow,
so switching is a change of import. Loops are compiled kernels (``kernels.*.cluster``).
"""
import numbers

import numpy as np

from ._threads import compute_threads
from ._validation import FLOAT_DTYPES, check_array, check_choice, check_int, check_positive
from .backend import get_backend
from .kernels.cpu import mark_steps

KERNELS = ("linear", "polynomial", "sigmoid", "gaussian")
SIMILARITY_LOSSES = ("mse", "l1", "bce")


def reset_net(net):
    """Reset the state of every layer that has state (a Network, a layer, or a list of them)."""
    layers = getattr(net, "layers", None)
    for item in (layers if layers is not None else (net if isinstance(net, (list, tuple)) else [net])):
        if hasattr(item, "layers") or isinstance(item, (list, tuple)):
            reset_net(item)
        elif callable(getattr(item, "reset", None)):
            item.reset()


def spike_cluster(v, v_threshold, T_in, device="cpu"):
    """Spike clusters of Gu et al. (STCA, IJCAI 2019), per neuron.

    Parameters
    ----------
    v : array [T, N]
        Membrane potential of N neurons over T steps.
    v_threshold : float or array [N]
        A spike is ``v >= v_threshold``.
    T_in : int >= 0
        Spikes at most ``T_in`` steps apart belong to one cluster.

    Returns
    -------
    N_o : array [N] (v's dtype; float32 for other than float32/float64 ``v``)
        Number of clusters of each neuron.
    k_positive : bool array [T, N]
        Per neuron, at most one True: the step with the highest ``v`` among the steps more
        than ``T_in`` away from every spike (where firing would open a new cluster). ``v``
        there is set to the minimum of the *whole* array ``v`` before the argmax, as in the
        seed; a neuron firing so densely that no such step exists gets none, and a neuron
        whose ``v`` never rises above that minimum gets step 0.
    k_negative : bool array [T, N]
        Per neuron, at most one True: the last spike of its smallest cluster (the first
        such on ties); none for a neuron without spikes.

    Notes
    -----
    ``T_in = 0`` behaves as the seed's arithmetic makes it: its initial "last spike at
    -2 T_in" then sits at step 0, so a spike at step 0 is not counted as a cluster.
    The seed fails for ``T = 1`` (it reads ``v[1]``); here ``T = 1`` is defined by the same
    algorithm (``N_o`` is 1 where the neuron fires and ``k_negative`` marks that spike).
    """
    be = get_backend(device)
    v = check_array("v", v, ndim=2, finite=False)  # NaN/inf: the kernel's probe, below
    if v.dtype not in FLOAT_DTYPES:
        v = v.astype(np.float32)
    T, N = v.shape
    if T == 0 or N == 0:
        raise ValueError(f"'v' must have at least one step and one neuron, got shape {v.shape}")
    threshold = check_array("v_threshold", v_threshold, dtype=v.dtype)  # compared in v's dtype
    if threshold.ndim > 1 or (threshold.ndim == 1 and threshold.shape != (N,)):
        raise ValueError(f"'v_threshold' must be a float or an array of shape ({N},), got {threshold.shape}")
    T_in = check_int("T_in", T_in, 0)
    n_o, k_pos, k_neg = be.empty(N, v.dtype), be.empty(N, np.int64), be.empty(N, np.int64)
    extremes = be.empty((4, N), v.dtype)
    with compute_threads():
        # a copy: broadcast_to's read-only view of a user's [N] thresholds is another Numba type
        # than the writable copy of a scalar's, and compiled the kernel a second time
        thresholds = be.asarray(np.array(np.broadcast_to(threshold, (N,))))
        be.spike_cluster(be.asarray(v), thresholds, T_in, n_o, k_pos, k_neg, extremes)
    best, top, bottom, probe = be.to_host(extremes)
    if not np.isfinite(probe).all():
        raise ValueError("'v' contains NaN or infinite values")
    # the seed's argmax over v with the masked steps set to v_min: the best candidate where
    # one rises above v_min, else step 0 if v itself never does, else no step
    v_min = bottom.min()
    k_pos = np.where(best > v_min, be.to_host(k_pos), np.where(top == v_min, 0, -1))
    positive, negative = np.zeros((T, N), np.bool_), np.zeros((T, N), np.bool_)
    mark_steps(k_pos, positive)
    mark_steps(be.to_host(k_neg), negative)
    return be.to_host(n_o), positive, negative


def first_spike_index(spikes, device="cpu"):
    """Bool array of ``spikes``' shape ``[..., T]``, True where each row spikes first.

    It is the seed's ``cumsum(cumsum(spikes, -1), -1) == 1`` (for 0/1 spikes: exactly the
    first spike of each row; rows without spikes are all False), with the sums in float64.
    Bool and integer spikes are read as they are, without a float copy.
    """
    be = get_backend(device)
    spikes = check_array("spikes", spikes, finite=False)  # NaN/inf: the kernel reports them
    if spikes.ndim == 0 or spikes.shape[-1] == 0:
        raise ValueError(f"'spikes' must have a last (time) axis of length >= 1, got shape {spikes.shape}")
    rows = np.ascontiguousarray(spikes.reshape(-1, spikes.shape[-1]))
    if rows.dtype == np.bool_:
        rows = rows.view(np.uint8)  # read as it is stored: no float copy
    elif rows.dtype.kind == "f" and rows.dtype not in FLOAT_DTYPES:
        rows = rows.astype(np.float32)
    out, finite = be.empty(rows.shape, np.bool_), be.empty(rows.shape[0], np.bool_)
    with compute_threads():
        be.first_spike_index(be.asarray(rows), out, finite)
    if not be.to_host(finite).all():
        raise ValueError("'spikes' contains NaN or infinite values")
    return be.to_host(out).reshape(spikes.shape)


def redundant_one_hot(labels, num_classes, n):
    """Redundant one-hot codes ``[batch, num_classes * n]``: class k sets columns
    ``k n .. k n + n - 1`` to 1 (float32)."""
    labels = check_array("labels", labels, ndim=1)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"'labels' must be integers, got dtype {labels.dtype}")
    num_classes = check_int("num_classes", num_classes, 1)
    n = check_int("n", n, 1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"'labels' must lie in [0, {num_classes})")
    codes = np.zeros((labels.shape[0], num_classes * n), np.float32)
    codes[np.arange(labels.shape[0])[:, None], labels[:, None] * n + np.arange(n)] = 1.0
    return codes


def _kernel_args(kernel, args):
    check_choice("kernel", kernel, KERNELS)
    if kernel == "linear":
        return None
    if not args or not isinstance(args[0], numbers.Real) or isinstance(args[0], bool):
        raise TypeError(f"kernel {kernel!r} needs a number as its first extra argument "
                        f"({'d' if kernel == 'polynomial' else 'alpha' if kernel == 'sigmoid' else 'sigma'})")
    return check_positive("sigma", args[0]) if kernel == "gaussian" else float(args[0])


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def kernel_dot_product(x, y, kernel="linear", *args):
    """Kernel inner products ``ret[i, j] = k(x[i], y[j])`` for x ``[N, M]``, y ``[K, M]``.

    ``linear``: x_i . y_j; ``polynomial``: (x_i . y_j)^d, d = args[0]; ``sigmoid``:
    sigmoid(alpha x_i . y_j), alpha = args[0]; ``gaussian``:
    exp(-|x_i - y_j|^2 / (2 sigma^2)), sigma = args[0].
    """
    x = check_array("x", x, ndim=2)
    y = check_array("y", y, ndim=2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"'x' and 'y' must have as many columns, got {x.shape} and {y.shape}")
    param = _kernel_args(kernel, args)
    return _apply_kernel(x @ y.T, (x * x).sum(axis=1), (y * y).sum(axis=1), kernel, param)


def _apply_kernel(xy, x_sq, y_sq, kernel, param):
    """The kernel from the inner products ``xy`` and the squared row norms."""
    if kernel == "linear":
        return xy
    if kernel == "polynomial":
        return xy ** param
    if kernel == "sigmoid":
        return _sigmoid(param * xy)
    sq = x_sq[:, None] + y_sq[None, :] - 2 * xy
    return np.exp(-sq / (2 * param * param))


def _similarity_loss(sim_p, sim, loss_type):
    """Loss and dloss/dsim_p; bce clamps its logarithms at -100 as PyTorch does."""
    n = sim.size
    diff = sim_p - sim
    if loss_type == "mse":
        return float(np.mean(diff ** 2)), 2.0 * diff / n
    if loss_type == "l1":
        return float(np.mean(np.abs(diff))), np.sign(diff) / n
    p = np.clip(sim_p, 0.0, 1.0)  # float rounding can put a cosine just above 1
    with np.errstate(divide="ignore"):
        log_p, log_1mp = np.log(p), np.log1p(-p)
    clamp_p, clamp_1mp = log_p < -100, log_1mp < -100
    loss = -np.mean(sim * np.maximum(log_p, -100) + (1 - sim) * np.maximum(log_1mp, -100))
    with np.errstate(divide="ignore", invalid="ignore"):
        grad = np.where(clamp_p, 0.0, -sim / p) + np.where(clamp_1mp, 0.0, (1 - sim) / (1 - p))
    return float(loss), np.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0) / n


def spike_similar_loss(spikes, labels, kernel_type="linear", loss_type="mse", *args, return_grad=False):
    """Similarity loss between spike trains and labels (SpikingFlow's).

    Parameters
    ----------
    spikes : array [N, M, T]
        Output spikes of N samples (M neurons, T steps); flattened per sample.
    labels : array [N, C]
        Multi-hot labels; samples sharing a label are similar.
    kernel_type : {'linear', 'polynomial', 'sigmoid', 'gaussian'}
        ``linear`` is normalised to a cosine: ``k / (|x_i| |x_j| + 1e-8)``.
    loss_type : {'mse', 'l1', 'bce'}
        Compares the spike similarity matrix with ``min(labels @ labels.T, 1)``.
    *args
        The kernel's parameter (see ``kernel_dot_product``).
    return_grad : bool
        Also return ``dloss/dspikes`` (shape of ``spikes``), derived analytically.

    Returns
    -------
    loss (float), or (loss, grad) with ``return_grad=True``.

    Notes
    -----
    The polynomial kernel ``(x_i . x_j)^d`` with ``d < 1`` has an infinite derivative
    where ``x_i . x_j = 0`` (for instance for a silent sample). The gradient takes that
    derivative as 0 there, so a silent sample gets a zero gradient through the kernel
    instead of NaN.
    """
    check_choice("loss_type", loss_type, SIMILARITY_LOSSES)
    spikes = check_array("spikes", spikes)
    if spikes.ndim < 2:
        raise ValueError(f"'spikes' must have shape [N, ...], got {spikes.shape}")
    labels = check_array("labels", labels, ndim=2)
    if labels.shape[0] != spikes.shape[0]:
        raise ValueError(f"'labels' has {labels.shape[0]} rows for {spikes.shape[0]} samples")
    dtype = spikes.dtype if spikes.dtype.kind == "f" else np.float64
    s = spikes.reshape(spikes.shape[0], -1).astype(np.float64)
    param = _kernel_args(kernel_type, args)
    a = s @ s.T
    sq_norms = (s * s).sum(axis=1)
    if kernel_type == "linear":
        norms = np.sqrt(sq_norms)
        denom = np.outer(norms, norms) + 1e-8
        sim_p = a / denom
    else:
        sim_p = _apply_kernel(a, sq_norms, sq_norms, kernel_type, param)
    lab = labels.astype(np.float64)
    sim = np.minimum(lab @ lab.T, 1.0)
    loss, g = _similarity_loss(sim_p, sim, loss_type)
    if not return_grad:
        return loss
    # dL/ds from dL/dsim_p: every kernel is a function of A = s s^T (and of the norms)
    if kernel_type == "gaussian":
        q = g * (-sim_p / (2 * param * param))
        q = q + q.T
        grad = 2 * (q.sum(axis=1)[:, None] * s - q @ s)
    else:
        if kernel_type == "linear":
            h = g / denom
            p = g * a / denom ** 2
            c = (p + p.T) @ norms
            safe = np.where(norms > 0, norms, 1.0)
            extra = -(c / safe)[:, None] * s
        else:
            extra = 0.0
            h = g * (_polynomial_derivative(a, param) if kernel_type == "polynomial"
                     else param * sim_p * (1 - sim_p))
        grad = (h + h.T) @ s + extra
    return loss, grad.reshape(spikes.shape).astype(dtype)


def _polynomial_derivative(a, d):
    """``d a^(d-1)``, defined as 0 where ``a = 0`` and ``d < 1`` (infinite there)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = d * a ** (d - 1)
    if d < 1:
        out[a == 0] = 0.0
    return out


def set_threshold_margin(output_layer, label_one_hot, eval_threshold=1.0, threshold0=0.9, threshold1=1.1):
    """Threshold margins for a classifier's output LIF layer.

    In training mode each output neuron gets ``threshold1`` for samples of its class and
    ``threshold0`` otherwise (per-sample thresholds ``[batch, C]``); in evaluation mode all
    get ``eval_threshold``.
    """
    if output_layer.training:
        label_one_hot = check_array("label_one_hot", label_one_hot, ndim=2)
        output_layer.threshold = np.where(label_one_hot == 1, float(threshold1), float(threshold0))
    else:
        output_layer.threshold = float(eval_threshold)
