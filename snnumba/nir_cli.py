"""``snnumba nir info FILE`` and ``snnumba nir run FILE --input X.npy --dt DT --out Y.npy``."""
import argparse
import io
import sys

import numpy as np

from ._cli_common import check_output
from ._io import atomic_write


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (0 < value < np.inf):
        raise argparse.ArgumentTypeError(f"must be positive and finite, got {text}")
    return value


def add_nir_parser(sub):
    p = sub.add_parser("nir", help="inspect or run a NIR graph (needs 'snnumba[nir]')",
                       description="Inspect or run a NIR file (the Neuromorphic Intermediate Representation).")
    nsub = p.add_subparsers(title="nir commands")
    info = nsub.add_parser("info", help="nodes, shapes, edges and neuron parameter ranges of a NIR file")
    info.add_argument("path", metavar="FILE", help="a .nir file")
    info.set_defaults(run=run_info, check=_check_info, parser=info)
    run = nsub.add_parser("run", help="run a NIR graph on saved input and save its output",
                          description="Run FILE on a [T, B, N] input (.npy) with snnumba and save the last "
                                      "layer's output (spikes, or currents/membranes of a non-spiking "
                                      "layer) or, with --membrane, the last neuron layer's membrane.")
    run.add_argument("path", metavar="FILE", help="a .nir file")
    run.add_argument("--input", required=True, metavar="X.npy", help="input of shape [T, B, N]")
    run.add_argument("--dt", required=True, type=_positive_float, help="time step in seconds")
    run.add_argument("--out", required=True, metavar="OUT.npy", help="where to write the output")
    run.add_argument("--membrane", action="store_true", help="save the last neuron layer's membrane")
    run.add_argument("--decay", choices=("euler", "exact"), default="euler",
                     help="discretisation of the time constants (default euler)")
    run.add_argument("--reset", choices=("zero", "subtract"), default="zero",
                     help="reset to v_reset (default) or by subtracting the threshold")
    run.add_argument("--spike-timing", choices=("same_step", "same_step_late_reset"), default="same_step",
                     help="NIR's same-step reset (default) or snnTorch's one-step-late reset")
    run.add_argument("--synapse-timing", choices=("previous", "current"), default="previous",
                     help="CubaLIF membrane integrates I[t-1] (NIR reference, default) or I[t] (snnTorch)")
    run.set_defaults(run=run_run, check=_check_run, parser=run)
    p.set_defaults(run=lambda args: (p.print_help(), 0)[1], check=lambda args: None)


def _read_graph(args):
    from .nir import read_nir
    try:
        return read_nir(args.path)
    except ImportError as exc:
        sys.exit(f"snnumba: {exc}")
    except (OSError, ValueError) as exc:
        args.parser.error(f"FILE {args.path!r}: {exc}")


def _check_info(args):
    args.graph = _read_graph(args)


def _check_run(args):
    check_output(args.parser, "--out", args.out)
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as exc:
        args.parser.error(f"--input {args.input!r}: {exc}")
    if not isinstance(x, np.ndarray) or x.ndim != 3:
        args.parser.error(f"--input {args.input!r}: expected one array of shape [T, B, N], got "
                          f"{'an archive' if not isinstance(x, np.ndarray) else x.shape}")
    args.x = x
    from .nir import from_nir
    graph = _read_graph(args)
    try:
        args.network = from_nir(graph, args.dt, decay=args.decay, reset=args.reset,
                                spike_timing=args.spike_timing, synapse_timing=args.synapse_timing)
    except (ValueError, TypeError) as exc:
        args.parser.error(f"FILE {args.path!r}: {exc}")
    n_in = _input_size(graph)
    if x.shape[2] != n_in:
        args.parser.error(f"--input {args.input!r}: the graph takes {n_in} inputs per step, the input "
                          f"has shape {x.shape}")


def _input_size(graph):
    import nir
    node = next(n for n in graph.nodes.values() if isinstance(n, nir.Input))
    return int(np.prod(np.asarray(node.input_type["input"]).ravel()))


def _shape(types):
    if not types:
        return "?"
    values = [np.asarray(v).ravel().tolist() if v is not None else "?" for v in types.values()]
    return ", ".join(str(v) for v in values)


def _describe(graph, indent, out):
    import nir
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        print(f"{indent}{name}: {kind}  in {_shape(node.input_type)} -> out {_shape(node.output_type)}", file=out)
        if isinstance(node, nir.NIRGraph):
            _describe(node, indent + "    ", out)
            continue
        for field, value in vars(node).items():
            if field in ("input_type", "output_type", "metadata") or not isinstance(value, np.ndarray):
                continue
            shape = f"shape {list(value.shape)}, " if value.ndim > 1 else ""
            print(f"{indent}    {field}: {shape}[{_range(value)}]", file=out)
    print(f"{indent}edges:", file=out)
    for a, b in graph.edges:
        print(f"{indent}    {a} -> {b}", file=out)


def _range(value):
    value = np.asarray(value)
    if value.dtype.kind not in "biuf" or value.size == 0:
        return str(value.tolist())
    lo, hi = np.min(value), np.max(value)
    return f"{lo:.6g}" if lo == hi else f"{lo:.6g}, {hi:.6g}"


def run_info(args):
    out = io.StringIO()
    _describe(args.graph, "", out)
    sys.stdout.write(out.getvalue())
    return 0


def run_run(args):
    from .neurons import LIF
    net = args.network.eval()
    if not args.membrane:
        result = net.forward(args.x)
    else:
        neurons = [i for i, layer in enumerate(net.layers) if hasattr(layer, "lif_params")]
        if not neurons:
            args.parser.error("--membrane: the graph has no neuron layer")
        last = net.layers[neurons[-1]]
        if isinstance(last, LIF):
            last.record_membrane = True
        net.reset()
        result = args.x
        for layer in net.layers[:neurons[-1] + 1]:  # a LeakyReadout's output is its membrane
            result = layer.forward(result)
        if isinstance(last, LIF):
            result = last.v
    result = net.backend.to_host(result)
    atomic_write(args.out, lambda f: np.save(f, result))
    print(f"wrote {args.out}: shape {list(result.shape)}, dtype {result.dtype}")
    return 0
