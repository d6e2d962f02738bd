"""Exchange networks with the neuromorphic ecosystem through NIR (``pip install 'snnumba[nir]'``).

``to_nir(network)`` returns a ``nir.NIRGraph``; ``from_nir(graph_or_path, dt)`` returns a
``Network``. Files are read and written by ``nir.read`` / ``nir.write`` (``save_nir``).

NIR describes neurons by continuous-time equations (time in seconds, per neuron arrays)::

    LIF      tau dv/dt = (v_leak - v) + r I              spike z = H(v - v_threshold), then v = v_reset
    CubaLIF  tau_syn dI/dt = -I + w_in S ;  tau_mem dv/dt = (v_leak - v) + r I     (spike and reset as LIF)
    IF       dv/dt = r I                                 (spike and reset as LIF)
    LI, CubaLI, I (integrator): the same membranes without spikes
    Affine   y = W x + b,  Linear  y = W x,  with W in PyTorch's [out, in] layout
    Scale    y = s * x,  Delay  y(t) = x(t - delay),  Flatten (of a 1-D per-sample shape)

Discretisation (the one place this module defines it)
-----------------------------------------------------
One step of ``dt`` seconds, for a membrane time constant ``tau`` and ``q = dt / tau``:

- ``decay="euler"`` (default; what snnTorch, Norse and the NIR paper's reference do):
  ``v[t] = (1 - q) v[t-1] + q r I[t] + q v_leak``, i.e. snnumba's ``alpha = 1 - dt/tau``,
  input gain ``g = q r`` and constant input ``c = q v_leak``.
- ``decay="exact"`` (exact solution for an input held constant over the step):
  ``alpha = exp(-q)``, ``g = (1 - alpha) r``, ``c = (1 - alpha) v_leak``.

snnumba's neuron adds its input without a gain (``u = alpha v + x``), so ``g`` and ``c``
are folded into the ``Dense`` layer that feeds the neuron: ``weight = W.T * g`` (NIR's
``[out, in]`` becomes snnumba's ``[in, out]``), ``bias = b * g + c``; a ``Dense`` with the
identity weight is inserted where the graph has none and ``g != 1`` or ``c != 0``. A gain
within 8 units of the parameters' float precision of 1 is taken as exactly 1 (snnTorch
writes ``r = tau/dt`` in float32). A recurrent weight ``V`` is scaled by the same ``g``.
For CubaLIF the synapse decays by ``alpha_syn`` (the same rule with ``tau_syn``) and the two
gains multiply: ``g = g_syn * g_mem`` with ``g_syn = q_syn w_in`` (euler) or
``(1 - alpha_syn) w_in`` (exact). ``v_leak`` must be 0 there (it would pass through the
synapse filter otherwise). IF and I use ``alpha = 1`` and ``g = dt r``.

Spikes: a NIR neuron spikes in the step its membrane crosses ``v_threshold`` and resets at
once, which is snnumba's ``spike_timing="same_step"``; ``v_reset = 0`` is ``reset="zero"``.
A graph cannot say whether the neuron resets by subtraction (the NIR paper's Braille models
use both): ``from_nir(..., reset="subtract")`` says so, and graphs written by snnumba carry
it. ``v_reset != 0`` cannot be expressed (snnumba's membrane starts and resets at 0) and
raises ValueError, as does ``v_leak != 0`` where no bias can hold it.

The synaptic current (CubaLIF, CubaLI): the NIR reference implementation feeds the previous
step's current into the membrane, ``v[t] = alpha v[t-1] + g_mem I[t-1]``; snnumba (like
snnTorch's ``Synaptic``/``RSynaptic``) feeds this step's, ``u = alpha v + i[t]``.
``synapse_timing="previous"`` (default) reproduces the reference exactly by delaying the
feeding ``Dense`` by one step (the current then lags one step behind, as there); that needs
a zero bias and no recurrent edge (a recurrent spike reaches the current one step earlier
there than a delay could give) and raises ValueError otherwise, naming the option
``synapse_timing="current"``, which reads the graph as snnTorch's equations.

Non-spiking read-outs: ``LeakyReadout`` reports the membrane before each step's input, one
step later than a NIR LI. NIR says this exactly as a ``Delay`` of ``dt`` before an ``LI``
(or ``I`` for ``tau = inf``), which is what ``to_nir`` writes and ``from_nir`` reads back as
a ``LeakyReadout``. An LI without that delay is read as a ``LeakyReadout`` too, with a
``NIRApproximationWarning`` (its output is the reference's one step late). CubaLI becomes an
LIF with a synapse, no reset and a threshold it never reaches: its membrane is in
``layer.v`` (``record_membrane=True``), its output spikes are all 0.

snnumba's options against NIR, on export (``to_nir``)
-----------------------------------------------------
- exact: ``Dense`` (Dale's law exports the effective weights; delays that depend only on
  the input or, without bias, only on the output become ``Delay`` nodes), ``LIF``/``IF``
  with ``spike_timing="same_step"``, ``reset="zero"``, ``decay="euler"``; ``decay="exact"``
  exports ``tau' = dt / (1 - alpha)`` so that a forward-Euler reader gets the same ``alpha``;
  ``LeakyReadout`` (as ``Delay`` + ``LI``); ``RecurrentLIF`` (the neuron, a ``Linear`` of
  the recurrent weights and the cycle between them).
- approximate, with a ``NIRApproximationWarning``: the seed's ``spike_timing="delayed"``
  (the spike one step late, the reset two steps late: other simulators spike earlier and
  less often), ``"same_step_late_reset"`` (snnTorch's default: a reader resets at once),
  ``reset="subtract"`` (written as ``v_reset = 0``), a synapse (``tau_syn``: the reference
  lags the current one step behind snnumba's).
- not at all (ValueError): ``reset="none"`` on a spiking layer, adaptation (``tau_adapt``),
  a per-sample ``[B, N]`` threshold, a synapse on IF, delays that depend on both the input
  and the output, fractional delays under ``delay_mode="linear"``.

Every neuron node written by ``to_nir`` carries its layer's snnumba options in
``metadata["snnumba"]`` (JSON). ``from_nir`` uses them when the node's NIR parameters are
the ones ``to_nir`` would write for those options, so snnumba -> NIR -> snnumba gives the
same layers and bit-identical outputs; an edited node is read from its NIR parameters.

Reading graphs written by snnTorch (``snntorch.export_to_nir``): snnTorch writes
``tau = dt / (1 - beta)``, ``r = tau / dt`` and ``w_in = tau_syn / dt`` with ``dt = 1e-4``
fixed in its exporter, so ``from_nir(graph, dt=1e-4)`` gets ``alpha = 1 - dt/tau = beta``
back (``dt`` is a unit convention there, not the data's time step). Its graphs say
``v_reset = 0`` whatever ``reset_mechanism`` was ("subtract" is its default), its neurons
reset one step late (``reset_delay=True``) and its synapse feeds the current step's
current: ``reset="subtract", spike_timing="same_step_late_reset",
synapse_timing="current"`` reproduces an ``RSynaptic``/``Synaptic`` network's equations.
"""
import json
import warnings

import numpy as np

from ._validation import check_array, check_choice, check_int, check_positive
from .layers import Dense
from .network import Network
from .neurons import IF, LIF, LeakyReadout
from . import neurons as _neurons

#: NIR node types from_nir reads.
SUPPORTED_NODES = ("Input", "Output", "Affine", "Linear", "Scale", "Flatten", "Delay",
                   "LIF", "CubaLIF", "IF", "LI", "CubaLI", "I")
SPIKING_NODES = ("LIF", "CubaLIF", "IF")
#: the threshold of CubaLI's stand-in LIF: no float32 membrane exceeds it
NEVER = float(np.finfo(np.float32).max)


class NIRApproximationWarning(UserWarning):
    """A network or graph maps onto the other side only approximately (see ``snnumba.nir``)."""


def _nir():
    try:
        import nir
    except ImportError:
        raise ImportError("snnumba.nir needs the 'nir' package: pip install 'snnumba[nir]'") from None
    return nir


def _has_option(name):
    """Whether this snnumba's LIF takes the keyword ``name`` (the neuron options of issue 9)."""
    import inspect
    return name in inspect.signature(LIF.__init__).parameters


def _recurrent_class():
    cls = getattr(_neurons, "RecurrentLIF", None)
    if cls is None:
        raise ValueError("this snnumba has no RecurrentLIF: recurrent NIR graphs cannot be read")
    return cls


def _warn(message):
    warnings.warn(message, NIRApproximationWarning, stacklevel=3)


def _snap_one(gain, precision):
    """Gains within 8 units of ``precision`` of 1 are exactly 1 (see the module docstring)."""
    gain = np.asarray(gain, np.float64)
    return np.where(np.abs(gain - 1.0) <= 8 * precision, 1.0, gain)


def _uniform(a):
    """A scalar if all entries of ``a`` are equal, else the array (float64)."""
    a = np.asarray(a, np.float64).ravel()
    return float(a[0]) if a.size and np.all(a == a[0]) else a


# ============================================================================================
# export
# ============================================================================================
def _neuron_options(layer):
    """Every option of an LIF-family layer as a dict, with trained per-neuron values."""
    cfg = layer.config()
    opts = dict(reset=cfg.get("reset", "zero"), spike_timing=cfg.get("spike_timing", "delayed"),
                decay=cfg.get("decay", "exact"), tau_syn=cfg.get("tau_syn"), tau_adapt=cfg.get("tau_adapt"),
                tau=cfg.get("tau", np.inf), threshold=cfg.get("threshold", 1.0))
    for name in ("tau", "tau_syn", "threshold"):  # learnt values live in params
        if name in layer.params:
            opts[name] = layer.backend.to_host(layer.params[name]).astype(np.float64)
    return opts


def _decay(tau, dt, decay):
    """alpha per neuron for ``decay`` ('euler' or 'exact'); tau may be inf."""
    q = dt / np.asarray(tau, np.float64)
    return 1.0 - q if decay == "euler" else np.exp(-q)


def _euler_tau(tau, dt, decay):
    """The tau a forward-Euler reader needs to get this layer's alpha: ``dt / (1 - alpha)``."""
    tau = np.asarray(tau, np.float64)
    return tau.copy() if decay == "euler" else dt / (1.0 - _decay(tau, dt, decay))


def _meta(layer):
    return {"snnumba": json.dumps({"type": type(layer).__name__, "config": layer.config()})}


def _export_spiking(layer, n, dt, name):
    """The NIR neuron node (LIF, CubaLIF or IF) of an LIF-family layer of n neurons."""
    nir = _nir()
    o = _neuron_options(layer)
    kind = type(layer).__name__
    if o["tau_adapt"] is not None:
        raise ValueError(f"layer {name} ({kind}): NIR has no adaptive threshold (tau_adapt); it cannot be exported")
    if o["reset"] == "none":
        raise ValueError(f"layer {name} ({kind}): NIR neurons always reset; reset='none' cannot be exported")
    threshold = np.asarray(o["threshold"], np.float64)
    if threshold.ndim == 2:
        raise ValueError(f"layer {name} ({kind}): a per-sample [B, N] threshold cannot be exported")
    threshold = np.broadcast_to(threshold, (n,)).copy()
    if o["spike_timing"] != "same_step":
        _warn(f"layer {name} ({kind}): spike_timing={o['spike_timing']!r} is written as NIR's same-step "
              "spike and reset; other NIR readers will spike differently (snnumba reads it back exactly)")
    if o["reset"] == "subtract":
        _warn(f"layer {name} ({kind}): reset='subtract' is written as v_reset = 0, which other NIR readers "
              "take as a reset to zero (snnumba reads it back exactly)")
    tau = np.broadcast_to(np.asarray(o["tau"], np.float64), (n,))
    zeros = np.zeros(n)
    if np.all(np.isinf(tau)):
        if o["tau_syn"] is not None:
            raise ValueError(f"layer {name} ({kind}): NIR has no integrate-and-fire neuron with a synapse")
        node = nir.IF(r=np.full(n, 1.0 / dt), v_threshold=threshold, v_reset=zeros)
    elif np.any(np.isinf(tau)):
        raise ValueError(f"layer {name} ({kind}): a mix of finite and infinite tau has no NIR node")
    else:
        tau_mem = _euler_tau(tau, dt, o["decay"])
        if o["tau_syn"] is None:
            node = nir.LIF(tau=tau_mem, r=tau_mem / dt, v_leak=zeros, v_threshold=threshold, v_reset=zeros)
        else:
            _warn(f"layer {name} ({kind}): NIR's reference feeds the previous step's synaptic current into "
                  "the membrane, snnumba this step's; readers like the reference lag one step behind "
                  "(snnTorch's importer and snnumba match)")
            tau_syn = _euler_tau(np.broadcast_to(np.asarray(o["tau_syn"], np.float64), (n,)), dt, o["decay"])
            node = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=zeros,
                               v_threshold=threshold, v_reset=zeros, w_in=tau_syn / dt)
    node.metadata = _meta(layer)
    return node


def _export_readout(layer, n, dt):
    """``Delay(dt)`` then ``LI`` (or ``I``): a LeakyReadout reports v before each step's input."""
    nir = _nir()
    tau = layer.lif_params.tau
    if np.isinf(tau):
        node = nir.I(r=np.full(n, 1.0 / dt))
    else:
        tau_mem = np.full(n, float(_euler_tau(tau, dt, "exact")))
        node = nir.LI(tau=tau_mem, r=tau_mem / dt, v_leak=np.zeros(n))
    node.metadata = _meta(layer)
    return nir.Delay(delay=np.full(n, dt)), node


def _export_dense(layer, dt, name):
    """Delay/Affine/Linear nodes of a Dense layer, in order."""
    nir = _nir()
    be = layer.backend
    w = be.to_host(layer.effective_weight()).T.copy()  # [out, in]
    bias = be.to_host(layer.params["bias"]).copy() if layer.has_bias else None
    matrix = nir.Affine(weight=w, bias=bias) if bias is not None else nir.Linear(weight=w)
    if "delay" not in layer.buffers:
        return [matrix]
    steps = be.to_host(layer.buffers["delay"]).astype(np.float64) / layer.dt
    whole = np.rint(steps) if layer.delay_mode == "round" else steps
    if not np.allclose(whole, np.rint(whole), rtol=0, atol=1e-6):
        raise ValueError(f"layer {name} (Dense): fractional delays under delay_mode='linear' cannot be exported")
    delay = np.rint(whole) * dt
    if not delay.any():
        return [matrix]
    if np.all(delay == delay[:, :1]):
        return [nir.Delay(delay=delay[:, 0].copy()), matrix]
    if np.all(delay == delay[:1, :]) and (bias is None or not bias.any()):
        return [matrix, nir.Delay(delay=delay[0].copy())]
    raise ValueError(f"layer {name} (Dense): NIR delays act per channel; delays that depend on both the "
                     "input and the output cannot be exported")


def to_nir(network, dt=None, input_size=None):
    """A ``nir.NIRGraph`` of ``network`` (discretisation and the options' mapping: module docstring).

    Parameters
    ----------
    network : Network
    dt : float, optional
        Time step in seconds the NIR time constants are written for; default: the layers'
        ``dt`` (they must agree).
    input_size : int, optional
        Number of inputs; needed only when the first layer is a neuron layer.

    Returns
    -------
    nir.NIRGraph
        Nodes ``input``, one or more per layer (``dense_<i>``, ``lif_<i>``, ``delay_<i>``,
        ``readout_<i>``, a subgraph ``rlif_<i>`` for a RecurrentLIF) and ``output``, in a chain.

    Raises
    ------
    ValueError
        For what NIR cannot express; ``NIRApproximationWarning`` where it only approximates.
    """
    nir = _nir()
    if not isinstance(network, Network):
        raise TypeError(f"'network' must be an snnumba Network, got {type(network).__name__}")
    # the time steps the layers were built for (a Dense without delays has none that matters)
    dts = {float(layer.lif_params.dt) for layer in network.layers if hasattr(layer, "lif_params")}
    dts |= {float(layer.dt) for layer in network.layers if isinstance(layer, Dense) and "delay" in layer.buffers}
    if dt is None:
        if len(dts) > 1:
            raise ValueError(f"the layers use different dt {sorted(dts)}; give 'dt'")
        dt = dts.pop() if dts else 1e-3
    dt = check_positive("dt", dt)
    for value in dts:
        if not np.isclose(value, dt, rtol=1e-12, atol=0):
            raise ValueError(f"'dt' of {dt} differs from a layer's dt of {value}")
    first = network.layers[0]
    n = first.n_in if first.n_in is not None else getattr(first, "n", None) or input_size
    if n is None:
        raise ValueError("the first layer does not say its input size; give 'input_size'")
    n = check_int("input_size", n, 1)
    nodes, chain = {"input": nir.Input(input_type=np.array([n]))}, ["input"]

    def add(name, node):
        nodes[name] = node
        chain.append(name)

    for i, layer in enumerate(network.layers):
        kind = type(layer).__name__
        if isinstance(layer, Dense):
            parts = _export_dense(layer, dt, i)
            for j, node in enumerate(parts):
                add(f"{'delay' if isinstance(node, nir.Delay) else 'dense'}_{i}{'' if len(parts) == 1 else chr(97 + j)}",
                    node)
            n = layer.n_out
        elif isinstance(layer, LeakyReadout):
            delay, node = _export_readout(layer, n, dt)
            add(f"delay_{i}", delay)
            add(f"readout_{i}", node)
        elif kind == "RecurrentLIF":
            neuron = _export_spiking(layer, n, dt, i)
            v = layer.backend.to_host(layer.params["recurrent_weight"]).T.copy()  # [post, pre]
            add(f"rlif_{i}", nir.NIRGraph(
                nodes={"input": nir.Input(input_type=np.array([n])), "lif": neuron,
                       "w_rec": nir.Linear(weight=v), "output": nir.Output(output_type=np.array([n]))},
                edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]))
        elif isinstance(layer, LIF):  # IF is an LIF
            add(f"lif_{i}", _export_spiking(layer, n, dt, i))
        else:
            raise ValueError(f"layer {i} ({kind}) has no NIR counterpart")
    add("output", nir.Output(output_type=np.array([n])))
    return nir.NIRGraph(nodes=nodes, edges=list(zip(chain[:-1], chain[1:])))


def save_nir(network, path, dt=None, input_size=None):
    """Write ``to_nir(network, dt, input_size)`` to ``path`` with ``nir.write``."""
    _nir().write(path, to_nir(network, dt, input_size))


# ============================================================================================
# import: graph parsing
# ============================================================================================
def _type(node):
    return type(node).__name__


def _flatten_graph(graph, prefix=""):
    """Nodes and edges with every subgraph inlined under ``<name>.``; a subgraph's Input and
    Output nodes stay as pass-through nodes (listed in the third value)."""
    nir = _nir()
    nodes, edges, passes = {}, [], set()
    subgraphs = {name: node for name, node in graph.nodes.items() if isinstance(node, nir.NIRGraph)}
    for name, node in graph.nodes.items():
        if name in subgraphs:
            inner, inner_edges, inner_passes = _flatten_graph(node, f"{prefix}{name}.")
            nodes.update(inner)
            edges += inner_edges
            passes |= inner_passes
            passes |= {f"{prefix}{name}.{k}" for k, v in node.nodes.items() if isinstance(v, (nir.Input, nir.Output))}
        else:
            nodes[prefix + name] = node

    def endpoint(name, want):
        if name in subgraphs:  # an edge to or from the subgraph itself: its Input or Output
            ends = [k for k, v in subgraphs[name].nodes.items() if isinstance(v, want)]
            if len(ends) != 1:
                raise ValueError(f"subgraph {prefix + name!r} must have exactly one {want.__name__} node, "
                                 f"has {len(ends)}")
            return f"{prefix}{name}.{ends[0]}"
        return prefix + name

    for edge in graph.edges:
        if len(edge) != 2:
            raise ValueError(f"edge {edge!r} of the graph is not a (source, target) pair")
        edges.append((endpoint(edge[0], nir.Output), endpoint(edge[1], nir.Input)))
    return nodes, edges, passes


def _check_params(name, node):
    """Every array parameter of ``node`` real and finite (ValueError naming node and field)."""
    for field, value in vars(node).items():
        if field in ("input_type", "output_type", "metadata") or not isinstance(value, (np.ndarray, float, int)):
            continue
        try:
            check_array(field, value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"node {name!r} ({_type(node)}): {exc}") from None


def _parse(graph):
    """The graph as a chain ``[(name, node, recurrent Affine/Linear or None), ...]`` from its
    Input to its Output; ValueError for anything else."""
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"'graph' must be a nir.NIRGraph or a path, got {type(graph).__name__}")
    nodes, edges, passes = _flatten_graph(graph)
    for name, node in nodes.items():
        if _type(node) not in SUPPORTED_NODES:
            raise ValueError(f"node {name!r} has type {_type(node)}, which snnumba cannot run "
                             f"(supported: {', '.join(SUPPORTED_NODES)})")
        _check_params(name, node)
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ValueError(f"edge ({a!r}, {b!r}) names node {end!r}, which is not in the graph")
    if len(set(edges)) != len(edges):
        raise ValueError("the graph repeats an edge")
    # splice out the subgraphs' Input/Output pass-through nodes
    for p in passes:
        ins = [a for a, b in edges if b == p]
        outs = [b for a, b in edges if a == p]
        edges = [e for e in edges if p not in e] + [(a, b) for a in ins for b in outs]
        del nodes[p]
    succ = {k: [b for a, b in edges if a == k] for k in nodes}
    pred = {k: [a for a, b in edges if b == k] for k in nodes}
    # a recurrent weight: an Affine/Linear whose only input and only output is one spiking node
    recurrent = {}
    for k, node in nodes.items():
        if _type(node) in ("Affine", "Linear") and len(pred[k]) == 1 and pred[k] == succ[k] \
                and _type(nodes[pred[k][0]]) in SPIKING_NODES:
            target = pred[k][0]
            if target in recurrent:
                raise ValueError(f"node {target!r} has two recurrent weights ({recurrent[target]!r}, {k!r})")
            recurrent[target] = k
    for target, k in recurrent.items():
        succ[target].remove(k)
        pred[target].remove(k)
        del succ[k], pred[k]
    inputs = [k for k in succ if _type(nodes[k]) == "Input"]
    outputs = [k for k in succ if _type(nodes[k]) == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"snnumba reads graphs with one Input and one Output node, this one has "
                         f"{len(inputs)} Input and {len(outputs)} Output")
    for k in succ:
        if _type(nodes[k]) != "Input" and len(pred[k]) != 1:
            why = "no incoming edge (a missing edge?)" if not pred[k] else f"{len(pred[k])} incoming edges"
            raise ValueError(f"node {k!r} ({_type(nodes[k])}) has {why}; snnumba reads chains of "
                             "nodes (and recurrent loops through an Affine/Linear)")
        if _type(nodes[k]) != "Output" and len(succ[k]) != 1:
            why = "no outgoing edge (a missing edge?)" if not succ[k] else f"{len(succ[k])} outgoing edges"
            raise ValueError(f"node {k!r} ({_type(nodes[k])}) has {why}; snnumba reads chains of "
                             "nodes (and recurrent loops through an Affine/Linear)")
    chain, k = [], inputs[0]
    while True:
        chain.append((k, nodes[k], nodes[recurrent[k]] if k in recurrent else None))
        if k == outputs[0]:
            break
        k = succ[k][0]
        if len(chain) > len(nodes):
            raise ValueError("the graph has a cycle that is not a recurrent weight")
    missing = sorted(set(succ) - {name for name, _, _ in chain})
    if missing:
        raise ValueError(f"node(s) {missing} are not on the path from the Input to the Output")
    return chain


# ============================================================================================
# import: building layers
# ============================================================================================
class _Segment:
    """The linear nodes between two neuron layers, composed: ``x -> W x + b`` with delays
    before (per input) and after (per output) the matrices; ``W is None``: the identity."""

    def __init__(self, n):
        self.n_in = self.n = n
        self.w = self.b = None
        self.delay_in = self.delay_out = None

    def matrix(self, name, node):
        w = np.asarray(node.weight, np.float64)
        if w.ndim != 2:
            raise ValueError(f"node {name!r} ({_type(node)}): weight must be 2-D [out, in], got shape {w.shape}")
        if w.shape[1] != self.n:
            raise ValueError(f"node {name!r} ({_type(node)}): shape mismatch: its weight takes {w.shape[1]} "
                             f"inputs but receives {self.n}")
        if self.delay_out is not None:  # delays between matrices: move them in front if per-input
            raise ValueError(f"node {name!r} ({_type(node)}) follows a Delay that follows another "
                             "matrix; snnumba cannot hold delays between two matrices")
        self.w = w.T if self.w is None else self.w @ w.T
        if self.b is not None:
            self.b = self.b @ w.T
        if _type(node) == "Affine":
            bias = np.asarray(node.bias, np.float64).ravel()
            if bias.shape != (w.shape[0],):
                raise ValueError(f"node {name!r} (Affine): bias of shape {bias.shape} does not fit "
                                 f"{w.shape[0]} outputs")
            self.b = bias if self.b is None else self.b + bias
        self.n = w.shape[0]

    def scale(self, name, node):
        s = self._vector(name, node, "scale")
        self.w = np.diag(s) if self.w is None else self.w * s
        if self.b is not None:
            self.b = self.b * s

    def delay(self, name, node, dt):
        d = self._vector(name, node, "delay")
        if np.any(d < 0):
            raise ValueError(f"node {name!r} (Delay): delays must be >= 0")
        if self.w is None:
            self.delay_in = d if self.delay_in is None else self.delay_in + d
        else:
            self.delay_out = d if self.delay_out is None else self.delay_out + d

    def _vector(self, name, node, field):
        v = np.asarray(getattr(node, field), np.float64)
        v = np.broadcast_to(v, (self.n,)) if v.ndim == 0 else v.ravel()
        if v.shape != (self.n,):
            raise ValueError(f"node {name!r} ({_type(node)}): shape mismatch: {field} has {v.size} entries "
                             f"but receives {self.n} values")
        return v.copy()

    def take_lag(self, dt):
        """Take one step off a delay of at least ``dt`` on every output; True if there was one."""
        d = self.delay_out if self.w is not None else self.delay_in
        if d is None or np.any(d < dt * (1 - 1e-9)):
            return False
        d = np.where(np.isclose(d, dt, rtol=1e-9, atol=0), 0.0, d - dt)
        d = d if d.any() else None
        if self.w is not None:
            self.delay_out = d
        else:
            self.delay_in = d
        return True

    def dense(self, dt, dtype, name, gain=1.0, const=0.0, extra_delay=0.0):
        """The Dense layer of this segment (gain and constant folded in), or None if it is the
        identity."""
        gain = np.broadcast_to(np.asarray(gain, np.float64), (self.n,))
        const = np.broadcast_to(np.asarray(const, np.float64), (self.n,))
        delay = np.zeros((self.n_in, self.n))
        if self.delay_in is not None:
            delay += self.delay_in[:, None]
        if self.delay_out is not None:
            if self.b is not None and self.b.any():
                raise ValueError(f"node {name!r}: a Delay after an Affine with a non-zero bias cannot be "
                                 "expressed (the bias would start late)")
            delay += self.delay_out[None, :]
        delay += extra_delay
        if self.w is None and np.all(gain == 1) and not const.any() and not delay.any():
            return None
        w = np.eye(self.n) if self.w is None else self.w
        b = const if self.b is None else self.b * gain + const
        has_bias = self.b is not None or bool(const.any())
        steps = delay / dt
        if not np.allclose(steps, np.rint(steps), rtol=0, atol=1e-6):
            raise ValueError(f"node {name!r}: delays of {sorted(set(delay.ravel()))[:4]} s are not whole "
                             f"multiples of dt = {dt}; choose a dt that divides them")
        layer = Dense(self.n_in, self.n, bias=has_bias, dt=dt, dtype=dtype,
                      delay=np.rint(steps) * dt if delay.any() else None)
        layer.params["weight"][...] = (w * gain[None, :]).astype(dtype)
        if has_bias:
            layer.params["bias"][...] = b.astype(dtype)
        return layer


def _param(node, field, n, name):
    v = np.asarray(getattr(node, field), np.float64)
    v = np.broadcast_to(v, (n,)) if v.ndim == 0 else v.ravel()
    if v.shape != (n,):
        raise ValueError(f"node {name!r} ({_type(node)}): shape mismatch: {field} has {v.size} entries "
                         f"but receives {n} values")
    return v


def _precision(node, field):
    value = np.asarray(getattr(node, field))
    return np.finfo(value.dtype).eps if value.dtype.kind == "f" else np.finfo(np.float64).eps


def _from_metadata(name, node, n, dt, dtype):
    """The layer recorded in the node's metadata, if its options export to exactly this node."""
    meta = getattr(node, "metadata", None) or {}
    text = meta.get("snnumba")
    if text is None:
        return None
    try:
        spec = json.loads(text.decode() if isinstance(text, bytes) else str(text))
        cls = {"LIF": LIF, "IF": IF, "LeakyReadout": LeakyReadout}.get(spec["type"])
        if spec["type"] == "RecurrentLIF":
            cls = _recurrent_class()
        layer = cls(**spec["config"], dtype=dtype) if cls is not None else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if layer is None or (spec["type"] == "LeakyReadout") != (_type(node) in ("LI", "I")):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NIRApproximationWarning)
        try:
            if isinstance(layer, LeakyReadout):
                again = _export_readout(layer, n, dt)[1]
            else:
                again = _export_spiking(layer, n, dt, name)
        except ValueError:
            return None
    if type(again) is not type(node):
        return None
    for field, value in vars(again).items():
        if field in ("input_type", "output_type", "metadata"):
            continue
        mine = np.asarray(getattr(node, field, None), np.float64)
        if mine.shape != np.shape(value) or not np.allclose(mine, value, rtol=1e-9, atol=0):
            return None
    return layer


def _check_zero(name, node, field, n, why):
    if np.any(_param(node, field, n, name) != 0):
        raise ValueError(f"node {name!r} ({_type(node)}): {field} != 0 cannot be expressed: {why}")


def _new_spiking(name, node, rec, segment, opts, dtype):
    """(layer, input gain, constant input, extra input delay) of a spiking node (or CubaLI)
    read from its NIR parameters."""
    dt, decay = opts["dt"], opts["decay"]
    kind, n = _type(node), segment.n
    r = _param(node, "r", n, name)
    extra = {}
    if kind == "IF":
        tau, gain, const = np.inf, _snap_one(dt * r, _precision(node, "r")), 0.0
    else:
        tau = _param(node, "tau" if kind == "LIF" else "tau_mem", n, name)
        g = dt / tau if decay == "euler" else 1 - _decay(tau, dt, decay)
        gain = _snap_one(g * r, _precision(node, "r"))
        const = g * _param(node, "v_leak", n, name)
        if kind in ("CubaLIF", "CubaLI"):
            _check_zero(name, node, "v_leak", n, "snnumba's constant input would pass through the synapse")
            tau_syn = _param(node, "tau_syn", n, name)
            g_syn = dt / tau_syn if decay == "euler" else 1 - _decay(tau_syn, dt, decay)
            gain = gain * _snap_one(g_syn * _param(node, "w_in", n, name), _precision(node, "w_in"))
            const = 0.0
            extra["tau_syn"] = _uniform(tau_syn)
    if kind == "CubaLI":
        threshold, reset, timing = NEVER, "none", "same_step"
    else:
        _check_zero(name, node, "v_reset", n, "snnumba's membrane starts at 0 and resets to 0 (or by subtraction)")
        threshold, reset, timing = _uniform(_param(node, "v_threshold", n, name)), opts["reset"], opts["spike_timing"]
    lag = 0.0
    if kind in ("CubaLIF", "CubaLI") and opts["synapse_timing"] == "previous":
        if rec is not None:
            raise ValueError(f"node {name!r} ({kind}) has a recurrent weight: synapse_timing='previous' (the "
                             "NIR reference's I[t-1]) cannot be reproduced with recurrence; use "
                             "synapse_timing='current' (snnTorch's RSynaptic equations)")
        if segment.b is not None and segment.b.any():
            raise ValueError(f"node {name!r} ({kind}): synapse_timing='previous' needs a zero bias before it "
                             "(its one-step delay would not delay the bias); use synapse_timing='current'")
        lag = dt
    if not _has_option("spike_timing"):
        raise ValueError(f"node {name!r} ({kind}): this snnumba's LIF has no same-step spike "
                         "(the neuron options of issue 9); it cannot run NIR neurons")
    kwargs = dict(threshold=threshold, dt=dt, dtype=dtype, reset=reset, spike_timing=timing,
                  decay=decay, n=n, **extra)
    if kind == "CubaLI":
        kwargs["record_membrane"] = True
    if rec is not None:
        del kwargs["n"]
        layer = _recurrent_class()(n, tau=_uniform(tau), **kwargs)
    elif np.all(np.isinf(tau)):
        layer = IF(**kwargs)
    else:
        layer = LIF(tau=_uniform(tau), **kwargs)
    return layer, gain, const, lag


def _neuron_layer(name, node, rec, segment, opts, dtype):
    """(Dense or None, neuron layer) for a neuron node fed by ``segment``."""
    dt, decay = opts["dt"], opts["decay"]
    kind, n = _type(node), segment.n
    meta_layer = _from_metadata(name, node, n, dt, dtype)
    if kind in ("LI", "I"):
        lag = segment.take_lag(dt)
        if meta_layer is not None and isinstance(meta_layer, LeakyReadout) and lag:
            return segment.dense(dt, dtype, name), meta_layer
        if not lag:
            _warn(f"node {name!r} ({kind}) is read as a LeakyReadout, whose output is NIR's membrane one "
                  "step late (a Delay of dt before it would make this exact)")
        r = _param(node, "r", n, name)
        if kind == "I":
            return segment.dense(dt, dtype, name, gain=_snap_one(dt * r, _precision(node, "r"))), \
                LeakyReadout(tau=np.inf, dt=dt, dtype=dtype)
        tau = _param(node, "tau", n, name)
        if not np.all(tau == tau[0]):
            raise ValueError(f"node {name!r} (LI): LeakyReadout takes one tau for all neurons")
        alpha = _decay(tau, dt, decay)
        g = dt / tau if decay == "euler" else 1 - alpha
        if not 0 < alpha[0] < 1:
            raise ValueError(f"node {name!r} (LI): decay {decay!r} at dt = {dt} gives alpha = {alpha[0]}")
        layer = LeakyReadout(tau=float(-dt / np.log(alpha[0])), dt=dt, dtype=dtype)
        v_leak = _param(node, "v_leak", n, name)
        if lag and v_leak.any():
            _warn(f"node {name!r} (LI): v_leak != 0 behind a one-step Delay is read with the leak starting "
                  "one step late (the output differs by alpha**t * dt/tau * v_leak)")
        return segment.dense(dt, dtype, name, gain=_snap_one(g * r, _precision(node, "r")), const=g * v_leak), layer
    # spiking nodes and CubaLI
    if meta_layer is not None and not isinstance(meta_layer, LeakyReadout) \
            and (rec is not None) == (type(meta_layer).__name__ == "RecurrentLIF"):
        layer, gain, const, lag = meta_layer, 1.0, 0.0, 0.0
    else:
        layer, gain, const, lag = _new_spiking(name, node, rec, segment, opts, dtype)
    if rec is not None:
        if _type(rec) == "Affine":  # a constant bias on the loop adds to the feed-forward input
            bias = _param(rec, "bias", n, name)
            segment.b = bias.copy() if segment.b is None else segment.b + bias
        v = np.asarray(rec.weight, np.float64)
        if v.shape != (n, n):
            raise ValueError(f"node {name!r}: shape mismatch: its recurrent weight has shape {v.shape}, "
                             f"expected ({n}, {n})")
        layer.params["recurrent_weight"][...] = (v.T * np.broadcast_to(gain, (n,))[None, :]).astype(dtype)
    return segment.dense(dt, dtype, name, gain=gain, const=const, extra_delay=lag), layer


def from_nir(graph, dt, decay="euler", reset="zero", spike_timing="same_step", synapse_timing="previous",
             dtype=np.float32, device="cpu"):
    """An snnumba ``Network`` running a NIR graph (discretisation: module docstring).

    Parameters
    ----------
    graph : nir.NIRGraph, str or os.PathLike
        The graph, or a file that ``nir.read`` reads.
    dt : float
        Time step in seconds.
    decay : {'euler', 'exact'}
        Forward Euler (``alpha = 1 - dt/tau``; snnTorch, Norse, the NIR reference) or the
        exact exponential (``alpha = exp(-dt/tau)``).
    reset : {'zero', 'subtract'}
        Reset to ``v_reset`` (which must be 0), or by subtracting the threshold (NIR cannot
        say which a graph was trained with).
    spike_timing : {'same_step', 'same_step_late_reset'}
        NIR's same-step spike and reset, or snnTorch's one-step-late reset.
    synapse_timing : {'previous', 'current'}
        Which step's synaptic current a CubaLIF membrane integrates: the NIR reference's
        ``I[t-1]`` or snnTorch's ``I[t]``.
    dtype : float32 or float64
    device : {'cpu', 'cuda'}

    Nodes written by ``to_nir`` come back as the layers they were written from (options in
    their metadata), whatever these arguments say.

    Raises
    ------
    ValueError
        Naming the node for unsupported nodes, shape mismatches, missing edges, NaN/inf
        parameters and what snnumba cannot express; naming the file when it cannot be read.
    """
    nir = _nir()
    opts = dict(dt=check_positive("dt", dt), decay=check_choice("decay", decay, ("euler", "exact")),
                reset=check_choice("reset", reset, ("zero", "subtract")),
                spike_timing=check_choice("spike_timing", spike_timing, ("same_step", "same_step_late_reset")),
                synapse_timing=check_choice("synapse_timing", synapse_timing, ("previous", "current")))
    if not isinstance(graph, nir.NIRGraph):
        graph = read_nir(graph)
    chain = _parse(graph)
    dtype = np.dtype(dtype)
    _, first, _ = chain[0]
    shape = np.asarray(first.input_type["input"]).ravel()
    layers, segment = [], None
    n = int(np.prod(shape)) if shape.size else 1
    flat = shape.size <= 1
    segment = _Segment(n)
    for name, node, rec in chain[1:]:
        kind = _type(node)
        if kind == "Flatten":
            flat = True
            continue
        if not flat:
            raise ValueError(f"node {name!r} ({kind}) receives a {shape.tolist()} input; snnumba reads 1-D "
                             "inputs (or a Flatten of them first)")
        if kind in ("Affine", "Linear"):
            segment.matrix(name, node)
        elif kind == "Scale":
            segment.scale(name, node)
        elif kind == "Delay":
            segment.delay(name, node, opts["dt"])
        elif kind == "Output":
            out = np.asarray(node.output_type.get("output"), dtype=object)
            if out.size and out.dtype != object and int(np.prod(out)) != segment.n:
                raise ValueError(f"node {name!r} (Output): shape mismatch: it expects {out.tolist()} but "
                                 f"receives {segment.n} values")
            dense = segment.dense(opts["dt"], dtype, name)
            if dense is not None:
                layers.append(dense)
        else:
            dense, layer = _neuron_layer(name, node, rec, segment, opts, dtype)
            layers += [dense, layer] if dense is not None else [layer]
            segment = _Segment(segment.n)
    if not layers:
        raise ValueError("the graph has no layers between its Input and Output")
    return Network(layers, device=device, dtype=dtype)


def read_nir(path):
    """``nir.read(path)``: FileNotFoundError for a missing file, ValueError naming ``path`` for
    one that is not a NIR graph."""
    import os
    nir = _nir()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return nir.read(path)
    except Exception as exc:  # h5py's OSError, nir's KeyError/AssertionError/ValueError alike
        raise ValueError(f"{path} cannot be read as a NIR graph ({type(exc).__name__}: {exc})") from None
