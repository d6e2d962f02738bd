"""``MaxRateClassifier``: label spikes by the class each neuron fires for most (after inferno)."""
import numbers

import numpy as np

from ._io import atomic_savez, load_npz
from ._threads import compute_threads
from ._validation import check_array, check_int, check_nonnegative
from .backend import get_backend


class MaxRateClassifier:
    """Classify spikes by per-class firing rates.

    The classifier keeps ``rates[*shape, K]``: for each neuron, its firing rate per class.
    An update first decays the stored rates by ``exp(-decay * b_k)`` (``b_k``: samples of
    class k in the batch) and then adds the batch's per-class mean rates. Each neuron is
    assigned the class of its largest *proportion* (rates L1-normalised over classes); a
    sample's logit for class k is the summed rate of the neurons assigned to k, weighted by
    their proportion for k when ``proportional``, divided by the number of such neurons.

    Parameters
    ----------
    shape : int or sequence of int
        Shape of the neuron group, excluding batch and time.
    num_classes : int
    decay : float, keyword-only
        The decay rate ``lambda`` (0 keeps a running sum of per-batch means).
    device : {'cpu', 'cuda'}, keyword-only
        Where the update and inference kernels run (state stays in host memory).

    Notes
    -----
    Divisions by zero (classes absent from a batch, classes with no assigned neuron) are
    cleaned as ``nan_to_num(nan=0, posinf=0)`` does: 0/0 and x/0 (x > 0) give 0, x/0 with
    x < 0 gives the most negative float32.
    """

    def __init__(self, shape, num_classes, *, decay=0.0, device="cpu"):
        if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
            shape = (check_int("shape", shape, 1),)
        elif isinstance(shape, (tuple, list)):
            shape = tuple(check_int("shape", s, 1) for s in shape)
        else:
            raise TypeError(f"'shape' ({type(shape).__name__}) cannot be interpreted as an integer "
                            "or a sequence thereof")
        num_classes = check_int("num_classes", num_classes, 1)
        self.decay = check_nonnegative("decay", decay)
        self.backend = get_backend(device)
        self._most_negative = np.finfo(np.float32).min
        self.rates = np.zeros(shape + (num_classes,), np.float32)

    # --- state ---------------------------------------------------------------------------
    @property
    def rates(self):
        """Per-neuron, per-class firing rates ``[*shape, K]``; assigning recomputes the rest
        (NaN or inf is rejected: it would turn every logit into NaN)."""
        return self._rates

    @rates.setter
    def rates(self, value):
        value = check_array("rates", value, dtype=np.float32)
        if hasattr(self, "_rates") and value.shape != self._rates.shape:
            raise ValueError(f"'rates' must have shape {self._rates.shape}, got {value.shape}")
        self._rates = value.copy()
        norm = np.maximum(np.abs(self._rates).sum(axis=-1, keepdims=True), 1e-12)
        self._proportions = (self._rates / norm).astype(np.float32)
        self._assignments = np.argmax(self._proportions, axis=-1)
        self._occurrences = np.bincount(self._assignments.ravel(), minlength=self.nclass)

    @property
    def proportions(self):
        """Rates L1-normalised over the classes, ``[*shape, K]``."""
        return self._proportions

    @property
    def assignments(self):
        """Class assigned to each neuron, ``[*shape]``."""
        return self._assignments

    @property
    def occurrences(self):
        """Number of neurons assigned to each class, ``[K]``."""
        return self._occurrences

    @property
    def ndim(self):
        return self._rates.ndim - 1

    @property
    def nclass(self):
        return self._rates.shape[-1]

    @property
    def shape(self):
        return self._rates.shape[:-1]

    def state_dict(self):
        """Only ``rates`` is state; the rest is derived from it."""
        return {"rates": self._rates.copy()}

    def load_state_dict(self, state):
        self.rates = state["rates"]

    def save(self, path):
        """Write ``rates`` and ``decay`` to ``path`` (``.npz``, atomically; see ``Network.save``)."""
        atomic_savez(path, kind=np.array("classifier"), rates=self._rates, decay=np.array(self.decay))

    @classmethod
    def load(cls, path, device="cpu"):
        """Rebuild a classifier saved by ``save``; a file that is not one (corrupted, another
        kind, NaN/inf rates) raises ValueError naming ``path``."""
        get_backend(device)  # a bad device is the caller's error, not the file's
        data = load_npz(path, ("classifier",))
        try:
            rates, decay = data["rates"], data["decay"]
            if rates.ndim < 2 or decay.ndim != 0:
                raise ValueError(f"'rates' [*shape, K] and a scalar 'decay' expected, got shapes "
                                 f"{rates.shape} and {decay.shape}")
            clf = cls(tuple(rates.shape[:-1]), rates.shape[-1], decay=decay.item(), device=device)
            clf.rates = rates
        except KeyError as exc:
            raise ValueError(f"{path!s} has no {exc.args[0]!r} entry") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path!s}: {exc}") from None
        return clf

    # --- computation ---------------------------------------------------------------------
    def _batch(self, inputs, finite=True):
        inputs = check_array("inputs", inputs, finite=finite)
        if inputs.shape[1:] != self.shape or inputs.shape[0] == 0:
            raise ValueError(f"'inputs' must have shape [B >= 1, {', '.join(map(str, self.shape))}], "
                             f"got {inputs.shape}")
        return np.ascontiguousarray(inputs.reshape(inputs.shape[0], -1), dtype=np.float32)

    def regress(self, inputs, proportional=True):
        """Class logits ``[B, K]`` for batch rates ``inputs[B, *shape]``."""
        return self._regress(self._batch(inputs), proportional)

    def classify(self, inputs, proportional=True):
        """Predicted labels ``[B]``."""
        return np.argmax(self.regress(inputs, proportional), axis=1)

    def update(self, inputs, labels):
        """Fold batch rates ``inputs[B, *shape]`` with ground-truth ``labels[B]`` into ``rates``."""
        self._update(self._batch(inputs), labels)

    # the underscore versions take inputs already checked and flattened by _batch
    def _regress(self, x, proportional):
        be = self.backend
        assigned = self._assignments.ravel()
        weights = (np.take_along_axis(self._proportions.reshape(-1, self.nclass), assigned[:, None], 1)[:, 0]
                   if proportional else np.ones(assigned.size, np.float32))
        out = be.empty((x.shape[0], self.nclass), np.float32)
        with compute_threads():
            be.max_rate_regress(be.asarray(x), be.asarray(assigned), be.asarray(weights),
                                be.asarray(self._occurrences.astype(np.float64)), self._most_negative, out)
        return be.to_host(out)

    def _update(self, x, labels):
        labels = check_array("labels", labels, ndim=1)
        if labels.dtype.kind not in "iu":
            raise TypeError(f"'labels' must be integers, got dtype {labels.dtype}")
        if labels.shape[0] != x.shape[0] or (labels.size and (labels.min() < 0 or labels.max() >= self.nclass)):
            raise ValueError(f"'labels' must hold {x.shape[0]} classes in [0, {self.nclass})")
        be = self.backend
        counts = np.bincount(labels, minlength=self.nclass).astype(np.float64)
        rates = be.asarray(self._rates.reshape(-1, self.nclass))
        with compute_threads():
            be.max_rate_update(be.asarray(x), be.asarray(labels.astype(np.int64)), be.asarray(counts),
                               self.decay, self._most_negative, rates)
        self.rates = be.to_host(rates).reshape(self._rates.shape)

    def forward(self, inputs, labels, logits=False, proportional=True):
        """Inference, then (with labels) an update.

        ``inputs`` are rates ``[B, *shape]`` or spikes ``[T, B, *shape]`` (averaged over
        time; bool or uint8 spikes are read as stored, without a float copy). Returns predicted labels (``logits=False``), ``(labels, logits)``
        (``logits=True``) or None (``logits=None``: no inference).
        """
        x = check_array("inputs", inputs, finite=False)
        spikes = x.ndim == self.ndim + 2 and x.dtype in (np.bool_, np.uint8)
        if x.ndim == self.ndim + 2:
            x = self._time_mean(x)
        # checked and flattened once for inference and update; a NaN or inf would survive
        # the time mean, so the mean is checked (1/T of the data), except that of spikes
        x = self._batch(x, finite=not spikes)
        if logits is None:
            result = None
        else:
            scores = self._regress(x, proportional)
            result = (np.argmax(scores, axis=1), scores) if logits else np.argmax(scores, axis=1)
        if labels is not None:
            self._update(x, labels)
        return result

    __call__ = forward

    def _time_mean(self, x):
        """Mean over the first (time) axis of ``x [T, B, *shape]``, as float32 ``[B, *shape]``.

        Bool and uint8 spikes are read as they are stored (exact integer counts divided by
        T, never a float copy); other dtypes are averaged as float32 in float64 sums.
        """
        if x.shape[0] == 0:
            raise ValueError(f"'inputs' of shape {x.shape} has no time steps to average")
        be = self.backend
        rows = x.reshape(x.shape[0], -1)
        if rows.dtype == np.bool_:
            rows = rows.view(np.uint8)
        if rows.dtype == np.uint8:
            rows, kernel = np.ascontiguousarray(rows), be.spike_time_mean
        else:
            rows, kernel = np.ascontiguousarray(rows, dtype=np.float32), be.time_mean
        mean = be.empty(rows.shape[1], np.float32)
        with compute_threads():
            kernel(be.asarray(rows), mean)
        return be.to_host(mean).reshape(x.shape[1:])
