"""Losses with their analytic gradients.

Each function takes the network output (a host NumPy array, time-major) and targets,
and returns ``(loss, grad)`` with ``grad = dloss/doutput`` of the output's shape, ready
for ``Network.backward``.
"""
import numpy as np

from ._validation import check_array, check_positive


def _check_labels(labels, batch, num_classes):
    labels = check_array("labels", labels, ndim=1)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"'labels' must be integers, got dtype {labels.dtype}")
    if labels.shape[0] != batch:
        raise ValueError(f"'labels' has {labels.shape[0]} entries for a batch of {batch}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"'labels' must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    return labels.astype(np.intp)


def _output(name, output):
    output = check_array(name, output, ndim=3)
    if output.dtype.kind != "f":
        output = output.astype(np.float64)
    return output


def softmax_nll(logits, labels):
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits[B, C])``.

    Returns ``(loss, dloss/dlogits)``; the gradient is ``(softmax - onehot) / B``.
    ``logits`` must be finite, with at least one sample and one class.
    """
    logits = check_array("logits", logits, ndim=2)
    if 0 in logits.shape:
        raise ValueError(f"'logits' must have at least one sample and one class, got shape {logits.shape}")
    return _softmax_nll(logits.astype(np.float64), labels)


def _softmax_nll(logits, labels):
    """``softmax_nll`` of float64 logits [B >= 1, C >= 1] already checked."""
    B, C = logits.shape
    labels = _check_labels(labels, B, C)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(B), labels].mean()
    grad = np.exp(log_p)
    grad[np.arange(B), labels] -= 1.0
    return float(loss), grad / B


def _time_sum_loss(output, labels, scale):
    """softmax_nll of ``scale * sum_t output[t]`` and its gradient broadcast over time."""
    loss, grad_m = _softmax_nll(scale * output.sum(axis=0, dtype=np.float64), labels)
    grad = np.broadcast_to(scale * grad_m, output.shape).astype(output.dtype)
    return loss, grad


def readout_nll(v, labels, scale=0.01):
    """The seed's loss: NLL of log-softmax of ``scale * sum_t v[t]`` (mean over the batch).

    Parameters
    ----------
    v : array [T, B, C]
        Readout membrane potential.
    labels : int array [B]
    scale : float
        The seed multiplies the time sum by 0.01.
    """
    return _time_sum_loss(_output("v", v), labels, check_positive("scale", scale))


def max_over_time_nll(v, labels):
    """NLL of log-softmax of each readout's maximum over time, ``max_t v[t, b, c]`` (mean
    over the batch), the loss of Cramer et al. 2020 and Zenke and Vogels 2021.

    The gradient reaches only the step where each readout peaks: ``dloss/dv[t, b, c]`` is
    ``(softmax - onehot)[b, c] / B`` at ``t = argmax_t v[t, b, c]`` and 0 elsewhere. When
    several steps tie for the maximum, the whole gradient goes to the first of them (one
    subgradient of the max; splitting it among the ties would be another).

    Parameters
    ----------
    v : array [T, B, C]
        Readout membrane potential.
    labels : int array [B]
    """
    v = _output("v", v)
    if 0 in v.shape:
        raise ValueError(f"'v' must have at least one step, sample and class, got shape {v.shape}")
    peak = v.argmax(axis=0)                                         # [B, C], the first of ties
    b, c = np.indices(peak.shape)
    loss, grad_m = _softmax_nll(v[peak, b, c].astype(np.float64), labels)
    grad = np.zeros(v.shape, v.dtype)
    grad[peak, b, c] = grad_m
    return loss, grad


def spike_count_cross_entropy(spikes, labels, scale=1.0):
    """Cross-entropy of softmax over output spike counts ``scale * sum_t s[t]``."""
    return _time_sum_loss(_output("spikes", spikes), labels, check_positive("scale", scale))


def mse(output, target):
    """Mean squared error ``mean((output - target)^2)`` over all elements."""
    output = _output("output", output)
    target = check_array("target", target)
    if target.shape != output.shape:
        raise ValueError(f"'target' shape {target.shape} does not match output {output.shape}")
    diff = output - target.astype(output.dtype)
    return float(np.mean(diff.astype(np.float64) ** 2)), (2.0 / diff.size) * diff


LOSSES = {"readout_nll": readout_nll, "max_over_time_nll": max_over_time_nll,
          "spike_count_cross_entropy": spike_count_cross_entropy, "mse": mse}


def stca_loss(v, v_threshold, T_in, N_d):
    """STCA loss of Gu et al. on output membranes, with its gradient.

    With ``N_o, k_positive, k_negative = spike_cluster(v, v_threshold, T_in)`` and the
    membrane read at those steps (``v_neg = sum_t v k_negative``, ``v_pos = sum_t v k_positive``)::

        loss = sum_n [N_o > N_d] (v_neg - v_threshold) + [N_o < N_d] (v_threshold - v_pos)

    Too many clusters push down the membrane that closed the smallest cluster; too few
    push up the best place for a new one. (SpikingFlow's docstring multiplies ``v`` by the
    time-summed masks, which broadcasts; the membrane *at* the marked step is meant.)

    Parameters
    ----------
    v : array [T, N]
    v_threshold : float or array [N]
    T_in : int
    N_d : int or array [N]
        Desired number of clusters per neuron.

    Returns
    -------
    (loss, grad_v) with ``grad_v = dloss/dv`` of v's shape (the cluster assignment is
    piecewise constant in v).
    """
    from .functional import spike_cluster
    n_o, k_pos, k_neg = spike_cluster(v, v_threshold, T_in)
    v = np.asarray(v, dtype=np.float64)
    threshold = np.broadcast_to(np.asarray(v_threshold, np.float64), (v.shape[1],))
    n_d = np.broadcast_to(check_array("N_d", N_d), n_o.shape)
    too_many, too_few = n_o > n_d, n_o < n_d
    v_neg = (v * k_neg).sum(axis=0)
    v_pos = (v * k_pos).sum(axis=0)
    loss = np.sum(too_many * (v_neg - threshold)) + np.sum(too_few * (threshold - v_pos))
    grad = too_many[None, :] * k_neg.astype(np.float64) - too_few[None, :] * k_pos.astype(np.float64)
    return float(loss), grad
