"""``Network``: an ordered stack of layers with one forward, one backward, and saving."""
import json

import numpy as np

from ._io import atomic_savez, load_npz, read_json
from ._threads import compute_threads
from ._validation import check_array, check_float_dtype
from .backend import get_backend
from .layers import Dense, Layer
from .neurons import IF, LIF, LeakyReadout, RecurrentLIF

#: Format version written into saved files; ``load`` refuses files from the future.
FORMAT_VERSION = 1
LAYER_TYPES = {cls.__name__: cls for cls in (Dense, LIF, IF, RecurrentLIF, LeakyReadout)}


class Network:
    """An ordered stack of layers (``Dense``, ``LIF``, ``IF``, ``LeakyReadout``, ...).

    Parameters
    ----------
    layers : sequence of Layer
        Adjacent sizes must agree: a ``Dense`` layer's ``n_in`` equals the ``n_out`` of the
        nearest ``Dense`` before it (neuron layers keep the size they are given).
    device : {'cpu', 'cuda'}
        Where parameters, activations and gradients live. On 'cuda' they stay on the
        GPU for the whole forward and backward pass.
    dtype : float32 or float64

    Examples
    --------
    >>> import numpy as np, snnumba as snn
    >>> net = snn.Network([snn.Dense(200, 30, rng=0), snn.LIF(tau=5e-3),
    ...                    snn.Dense(30, 12, rng=1), snn.LeakyReadout(tau=5e-3)])
    >>> v = net.forward(np.zeros((100, 8, 200), np.float32))
    >>> v.shape
    (100, 8, 12)
    """

    def __init__(self, layers, device="cpu", dtype=np.float32):
        layers = list(layers)
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise TypeError("'layers' must be a non-empty sequence of snnumba layers")
        _check_sizes(layers)
        self.layers = layers
        self.dtype = check_float_dtype("dtype", dtype)
        self.backend = get_backend(device)
        for layer in layers:
            layer.to(self.backend, self.dtype)

    @property
    def device(self):
        return self.backend.name

    # --- running ---------------------------------------------------------------------
    def forward(self, x, reset=True):
        """Run ``x[T, B, N_in]`` through every layer and return the last layer's output.

        With ``reset=True`` (default) each neuron layer starts from rest; with
        ``reset=False`` it continues from the state the previous call left.
        """
        if reset:
            self.reset()
        out = x
        with compute_threads():
            for layer in self.layers:
                out = layer.forward(out, continue_state=not reset)
        return out

    __call__ = forward

    def backward(self, grad_out, grad_v=None):
        """Backpropagate dL/d(output) through time and layers; adds into each layer's grads.

        ``grad_v`` is an optional dL/dv on the recorded membrane of a spiking last layer
        (for losses on the membrane, such as ``losses.stca_loss``).

        Host arrays with NaN, inf or complex values are rejected (they would reach the
        weights at the next optimizer step); arrays already on the GPU are taken as given.
        """
        grad = self._check_grad("grad_out", grad_out)
        last = len(self.layers) - 1
        # only spiking layers take grad_v
        membrane = {} if grad_v is None else {"grad_v": self._check_grad("grad_v", grad_v)}
        with compute_threads():
            for i in range(last, -1, -1):
                grad = self.layers[i].backward(grad, need_input_grad=i > 0, **(membrane if i == last else {}))

    def _check_grad(self, name, grad):
        return grad if self.backend.is_device_array(grad) else check_array(name, grad)

    def reset(self):
        """Return every layer to rest (clears state and recorded traces)."""
        for layer in self.layers:
            layer.reset()

    def train(self, mode=True):
        for layer in self.layers:
            layer.train(mode)
        return self

    def eval(self):
        return self.train(False)

    # --- parameters ------------------------------------------------------------------
    def named_parameters(self):
        """List of ``(name, param, grad)``, names like ``'0.weight'``."""
        return [(f"{i}.{name}", p, layer.grads[name])
                for i, layer in enumerate(self.layers) for name, p in layer.params.items()]

    def parameters(self):
        return [p for _, p, _ in self.named_parameters()]

    def gradients(self):
        return [g for _, _, g in self.named_parameters()]

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()

    def state_dict(self):
        """Host copies of every parameter and buffer, keyed ``'<layer>.<name>'``."""
        be = self.backend
        return {f"{i}.{name}": be.to_host(a).copy()
                for i, layer in enumerate(self.layers)
                for store in (layer.params, layer.buffers) for name, a in store.items()}

    def load_state_dict(self, state):
        """Copy arrays from ``state_dict()`` output back in.

        Every entry is checked before any is copied (present, real, finite, of the right
        shape; errors name the key), so a bad state leaves the network unchanged.
        """
        checked = []
        for i, layer in enumerate(self.layers):
            for store in (layer.params, layer.buffers):
                for name, a in store.items():
                    key = f"{i}.{name}"
                    if key not in state:
                        raise KeyError(f"state has no entry {key!r}")
                    value = check_array(key, state[key])
                    if value.shape != tuple(a.shape):
                        raise ValueError(f"{key!r}: shape {value.shape} does not match {tuple(a.shape)}")
                    checked.append((a, value))
        for a, value in checked:
            self.backend.copy_into(a, value.astype(self.dtype))

    # --- NIR (snnumba.nir; needs the 'nir' package) ---------------------------------
    def to_nir(self, dt=None, input_size=None):
        """This network as a ``nir.NIRGraph``: ``snnumba.nir.to_nir(self, dt, input_size)``."""
        from .nir import to_nir
        return to_nir(self, dt, input_size)

    @classmethod
    def from_nir(cls, graph, dt, **options):
        """A network running a NIR graph or file: ``snnumba.nir.from_nir(graph, dt, **options)``."""
        from .nir import from_nir
        return from_nir(graph, dt, **options)

    # --- saving ----------------------------------------------------------------------
    def to_arrays(self):
        """Architecture (a JSON string under 'meta') and parameters, as savez arrays."""
        spec = [{"type": type(layer).__name__, "config": layer.config()} for layer in self.layers]
        meta = json.dumps({"format_version": FORMAT_VERSION, "dtype": self.dtype.name, "layers": spec})
        return dict(kind=np.array("network"), meta=np.array(meta),
                    **{f"param:{k}": v for k, v in self.state_dict().items()})

    def save(self, path):
        """Write the architecture and parameters to ``path`` (``.npz``).

        The file is first written to ``<path>.tmp-<8 hex digits>`` beside the target and
        then renamed into place, so an existing file is never left half-written; only a
        process killed mid-save leaves such a temporary behind (safe to delete). The file
        gets the permissions ``np.savez`` would give it.
        """
        atomic_savez(path, **self.to_arrays())

    @classmethod
    def load(cls, path, device="cpu"):
        """Rebuild a network saved by ``save`` (or the network in a ``Trainer`` checkpoint).

        A file that is not such an ``.npz`` (corrupted, truncated, another kind, bad
        metadata, NaN/inf parameters) raises ValueError naming ``path``.
        """
        return cls.from_arrays(load_npz(path, ("network", "checkpoint")), device, str(path))

    @classmethod
    def from_arrays(cls, data, device="cpu", source="the arrays"):
        """Rebuild a network from ``to_arrays`` output (or an open ``.npz``); errors in
        the data raise ValueError naming ``source``."""
        get_backend(device)  # a bad device is the caller's error, not the data's
        if "meta" not in data:
            raise ValueError(f"{source} is not an snnumba network file (no 'meta' entry)")
        meta = read_json(data, "meta", source)
        version = meta.get("format_version", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ValueError(f"{source} has format version {version!r}; this snnumba reads up to {FORMAT_VERSION}")
        if not isinstance(meta.get("dtype"), str):
            raise ValueError(f"{source}: metadata has no 'dtype' string")
        spec = meta.get("layers")
        if not isinstance(spec, list) or not all(isinstance(e, dict) and isinstance(e.get("config"), dict)
                                                 for e in spec):
            raise ValueError(f"{source}: metadata has no valid 'layers' list of {{'type', 'config'}} entries")
        layers = []
        for i, entry in enumerate(spec):
            if entry.get("type") not in LAYER_TYPES:
                raise ValueError(f"{source}: unknown layer type {entry.get('type')!r}")
            try:
                layers.append(LAYER_TYPES[entry["type"]](**entry["config"]))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{source}: layer {i} ({entry['type']}): {exc}") from None
        state = {k[len("param:"):]: data[k] for k in data if k.startswith("param:")}
        try:
            net = cls(layers, device=device, dtype=meta["dtype"])
            net.load_state_dict(state)
        except KeyError as exc:  # load_state_dict's missing parameter
            raise ValueError(f"{source}: {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: {exc}") from None
        return net


def _check_sizes(layers):
    """Each layer with an input size must get it from the nearest sized layer before it."""
    size, source = None, None
    for i, layer in enumerate(layers):
        if layer.n_in is not None and size is not None and layer.n_in != size:
            raise ValueError(f"layer {i} ({type(layer).__name__}) takes {layer.n_in} inputs but layer "
                             f"{source} ({type(layers[source]).__name__}) gives {size} outputs")
        if layer.n_out is not None:
            size, source = layer.n_out, i
