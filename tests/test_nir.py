"""NIR import and export (snnumba.nir): round trips, hand-written NIR references, errors, the CLI."""
import inspect
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

nir = pytest.importorskip("nir")

import snnumba as snn  # noqa: E402
from snnumba import cli, neurons  # noqa: E402
from snnumba import nir as snir  # noqa: E402
from snnumba.nir import NIRApproximationWarning, from_nir, to_nir  # noqa: E402

#: the neuron options of issue 9 (branch a1); the tests that need them skip without them
HAS_OPTIONS = "spike_timing" in inspect.signature(snn.LIF.__init__).parameters
HAS_RECURRENT = hasattr(neurons, "RecurrentLIF")
needs_options = pytest.mark.skipif(not HAS_OPTIONS, reason="LIF has no neuron options (issue 9) yet")
needs_recurrent = pytest.mark.skipif(not HAS_RECURRENT, reason="no RecurrentLIF (issue 9) yet")


def spikes(shape, p=0.3, seed=0):
    return (np.random.default_rng(seed).random(shape) < p).astype(np.uint8)


def quiet(fn, *args, **kwargs):
    """Call fn with NIRApproximationWarning silenced (the tests that check warnings say so)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NIRApproximationWarning)
        return fn(*args, **kwargs)


def roundtrip_file(graph, tmp_path):
    path = tmp_path / "g.nir"
    nir.write(path, graph)
    return path


# --- NumPy transcriptions of the NIR equations (forward Euler at dt), written independently ---
def reference_li(I, tau, r, v_leak, dt):
    """tau dv/dt = v_leak - v + r I: v[t] = v[t-1] + dt/tau (v_leak - v[t-1] + r I[t])."""
    v, out = np.zeros(I.shape[1:]), []
    for t in range(I.shape[0]):
        v = v + dt / tau * (v_leak - v + r * I[t])
        out.append(v)
    return np.array(out)


def reference_lif(I, tau, r, v_leak, v_th, dt, subtract=False):
    v, out = np.zeros(I.shape[1:]), []
    for t in range(I.shape[0]):
        v = v + dt / tau * (v_leak - v + r * I[t])
        z = (v > v_th).astype(np.float64)
        v = v - z * v_th if subtract else v * (1 - z)  # v_reset = 0
        out.append(z)
    return np.array(out)


def reference_cubalif(x, W, V, tau_syn, tau_mem, r, w_in, v_th, dt, previous=True):
    """NIR CubaLIF fed by inp[t] = W x[t] + V z[t-1] (V None: no recurrence). ``previous``: the
    NIR reference's membrane integrates I[t-1]; otherwise I[t] (snnTorch's Synaptic)."""
    n = W.shape[0]
    I, v, z, out = np.zeros((x.shape[1], n)), np.zeros((x.shape[1], n)), np.zeros((x.shape[1], n)), []
    for t in range(x.shape[0]):
        inp = x[t] @ W.T + (z @ V.T if V is not None else 0)
        I_new = I + dt / tau_syn * (-I + w_in * inp)
        v = v + dt / tau_mem * (-v + r * (I if previous else I_new))
        I = I_new
        z = (v > v_th).astype(np.float64)
        v = v * (1 - z)
        out.append(z)
    return np.array(out)


# --- export and read back: bit-identical ------------------------------------------------------
@given(hidden=st.integers(1, 12), n_out=st.integers(1, 6), tau=st.floats(2e-3, 50e-3),
       threshold=st.floats(0.2, 2.0), bias=st.booleans(), dales=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_seed_network_round_trip_is_bit_identical(hidden, n_out, tau, threshold, bias, dales, dtype, seed):
    """Dense -> LIF (the seed's delayed spike, exact decay) -> Dense -> LeakyReadout written to NIR
    and read back gives the same outputs bit for bit (fails if a gain, the readout's Delay or
    the weight transpose is wrong, or the options are not restored from the metadata)."""
    rng = np.random.default_rng(seed)
    net = snn.Network([snn.Dense(7, hidden, bias=bias, dales_law=dales, rng=rng, init_bound=1.5),
                       snn.LIF(tau=tau, threshold=threshold), snn.Dense(hidden, n_out, bias=bias, rng=rng),
                       snn.LeakyReadout(tau=tau)], dtype=dtype)
    with pytest.warns(NIRApproximationWarning, match="delayed"):
        graph = to_nir(net)
    back = from_nir(graph, dt=1e-3, dtype=dtype)
    assert [type(layer).__name__ for layer in back.layers] == ["Dense", "LIF", "Dense", "LeakyReadout"]
    x = spikes((30, 3, 7), 0.4, seed)
    np.testing.assert_array_equal(back.forward(x), net.forward(x))
    np.testing.assert_array_equal(back.layers[1].v, net.layers[1].v)


def test_export_writes_pytorch_layout_and_readout_as_delay_then_li():
    net = snn.Network([snn.Dense(4, 3, bias=True, rng=0), snn.LeakyReadout(tau=5e-3)])
    graph = to_nir(net)
    assert graph.edges == [("input", "dense_0"), ("dense_0", "delay_1"), ("delay_1", "readout_1"),
                           ("readout_1", "output")]
    np.testing.assert_array_equal(graph.nodes["dense_0"].weight, net.layers[0].params["weight"].T)
    np.testing.assert_array_equal(graph.nodes["delay_1"].delay, np.full(3, 1e-3))
    li = graph.nodes["readout_1"]
    # forward Euler with this tau gives the readout's alpha = exp(-dt/tau)
    np.testing.assert_allclose(1 - 1e-3 / li.tau, np.exp(-1e-3 / 5e-3), rtol=1e-12)
    np.testing.assert_allclose(li.r * 1e-3 / li.tau, 1.0, rtol=1e-12)


def test_readout_equals_a_numpy_transcription_of_delay_then_li(tmp_path):
    """A graph built with nir (Linear -> Delay(dt) -> LI, r != tau/dt) equals the NIR equations
    transcribed by hand (fails if the readout's one-step lag or the gain r*dt/tau is wrong)."""
    rng = np.random.default_rng(1)
    dt, tau, r, v_leak = 1e-3, np.full(3, 8e-3), np.array([2.0, 3.0, 0.5]), np.zeros(3)
    W = rng.normal(size=(3, 5))
    graph = nir.NIRGraph.from_list(nir.Input(np.array([5])), nir.Linear(weight=W), nir.Delay(delay=np.full(3, dt)),
                                   nir.LI(tau=tau, r=r, v_leak=v_leak), nir.Output(np.array([3])))
    net = from_nir(roundtrip_file(graph, tmp_path), dt=dt, dtype=np.float64)
    x = spikes((40, 2, 5))
    I = np.concatenate([np.zeros((1, 2, 3)), x[:-1] @ W.T])  # the Delay
    np.testing.assert_allclose(net.forward(x), reference_li(I, tau, r, v_leak, dt), rtol=1e-10, atol=1e-12)


def test_li_leak_behind_the_delay_warns():
    graph = nir.NIRGraph.from_list(nir.Linear(weight=np.eye(2)), nir.Delay(delay=np.full(2, 1e-3)),
                                   nir.LI(tau=np.full(2, 5e-3), r=np.full(2, 5.0), v_leak=np.full(2, 0.1)))
    with pytest.warns(NIRApproximationWarning, match="leak starting one step late"):
        from_nir(graph, dt=1e-3)


def test_li_without_delay_warns_that_it_is_one_step_late():
    graph = nir.NIRGraph.from_list(nir.Linear(weight=np.eye(2)),
                                   nir.LI(tau=np.full(2, 5e-3), r=np.full(2, 5.0), v_leak=np.zeros(2)))
    with pytest.warns(NIRApproximationWarning, match="one step late"):
        from_nir(graph, dt=1e-3)


def test_nir_to_snnumba_to_nir_gives_the_same_graph():
    rng = np.random.default_rng(2)
    tau = np.full(4, 7e-3)
    graph = nir.NIRGraph.from_list(nir.Input(np.array([6])), nir.Affine(weight=rng.normal(size=(4, 6)),
                                                                        bias=rng.normal(size=4)),
                                   nir.Delay(delay=np.full(4, 1e-3)), nir.LI(tau=tau, r=tau / 1e-3, v_leak=np.zeros(4)),
                                   nir.Output(np.array([4])))
    again = to_nir(from_nir(graph, dt=1e-3, dtype=np.float64))
    assert [type(n).__name__ for n in again.nodes.values()] == ["Input", "Affine", "Delay", "LI", "Output"]
    names = dict(zip(("input", "affine", "delay", "li", "output"), again.nodes))
    assert again.edges == [(names[a], names[b]) for a, b in graph.edges]
    for field in ("weight", "bias"):
        np.testing.assert_allclose(getattr(again.nodes[names["affine"]], field), getattr(graph.nodes["affine"], field),
                                   rtol=1e-12)
    for field in ("tau", "r", "v_leak"):
        np.testing.assert_allclose(getattr(again.nodes[names["li"]], field), getattr(graph.nodes["li"], field),
                                   rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(again.nodes[names["delay"]].delay, graph.nodes["delay"].delay)


def test_graph_written_in_another_process_is_read_here(tmp_path):
    path = tmp_path / "other.nir"
    code = textwrap.dedent(f"""
        import numpy as np, nir
        W = np.arange(12.0).reshape(3, 4) / 10 - 0.5
        g = nir.NIRGraph.from_list(nir.Input(np.array([4])), nir.Linear(weight=W),
                                   nir.Delay(delay=np.full(3, 2e-3)),
                                   nir.LI(tau=np.full(3, 4e-3), r=np.full(3, 4.0), v_leak=np.zeros(3)))
        nir.write({str(path)!r}, g)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    # a Delay of 2 ms at dt = 1 ms: one step stays a Dense delay, one is the readout's lag
    net = from_nir(path, dt=1e-3, dtype=np.float64)
    assert "delay" in net.layers[0].buffers
    W = np.arange(12.0).reshape(3, 4) / 10 - 0.5
    x = spikes((25, 2, 4), 0.5, 3)
    I = np.concatenate([np.zeros((2, 2, 3)), x[:-2] @ W.T])
    np.testing.assert_allclose(net.forward(x), reference_li(I, 4e-3, 4.0, 0.0, 1e-3), rtol=1e-10, atol=1e-12)


def test_dense_delays_per_input_round_trip():
    net = snn.Network([snn.Dense(3, 2, rng=0, delay=np.array([[0.0, 0.0], [2e-3, 2e-3], [1e-3, 1e-3]])),
                       snn.LeakyReadout()], dtype=np.float64)
    graph = to_nir(net)
    assert [type(n).__name__ for n in graph.nodes.values()] == ["Input", "Delay", "Linear", "Delay", "LI", "Output"]
    x = spikes((20, 2, 3), 0.5)
    np.testing.assert_array_equal(from_nir(graph, dt=1e-3, dtype=np.float64).forward(x), net.forward(x))


def test_export_refuses_delays_that_depend_on_input_and_output():
    net = snn.Network([snn.Dense(2, 2, rng=0, delay=np.array([[0.0, 1e-3], [1e-3, 0.0]])), snn.LeakyReadout()])
    with pytest.raises(ValueError, match=r"layer 0 \(Dense\).*both the input and the output"):
        to_nir(net)


# --- malformed and unsupported graphs ---------------------------------------------------------
def _li(n=2):
    return nir.LI(tau=np.full(n, 5e-3), r=np.full(n, 5.0), v_leak=np.zeros(n))


def test_unsupported_node_is_named_with_its_type():
    graph = nir.NIRGraph.from_list(nir.Input(np.array([2])), nir.Threshold(threshold=np.ones(2)), _li())
    with pytest.raises(ValueError, match=r"node 'threshold' has type Threshold"):
        from_nir(graph, dt=1e-3)


def test_shape_mismatch_is_named():
    nodes = {"input": nir.Input(np.array([3])), "lin": nir.Linear(weight=np.ones((2, 4))), "li": _li(),
             "output": nir.Output(np.array([2]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "lin"), ("lin", "li"), ("li", "output")], type_check=False)
    with pytest.raises(ValueError, match=r"node 'lin' \(Linear\): shape mismatch: its weight takes 4 inputs but "
                                         r"receives 3"):
        from_nir(graph, dt=1e-3)


def test_missing_edge_is_named():
    nodes = {"input": nir.Input(np.array([2])), "lin": nir.Linear(weight=np.eye(2)), "li": _li(),
             "output": nir.Output(np.array([2]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "lin"), ("li", "output")], type_check=False)
    with pytest.raises(ValueError, match=r"node 'lin' \(Linear\) has no outgoing edge \(a missing edge\?\)"):
        from_nir(graph, dt=1e-3)


def test_edge_to_an_unknown_node_is_named():
    nodes = {"input": nir.Input(np.array([2])), "li": _li(), "output": nir.Output(np.array([2]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "li"), ("li", "ghost"), ("li", "output")], type_check=False)
    with pytest.raises(ValueError, match=r"names node 'ghost', which is not in the graph"):
        from_nir(graph, dt=1e-3)


def test_nan_parameter_is_named():
    li = nir.LI(tau=np.array([5e-3, np.nan]), r=np.full(2, 5.0), v_leak=np.zeros(2))
    graph = nir.NIRGraph.from_list(nir.Input(np.array([2])), nir.Linear(weight=np.eye(2)), li)
    with pytest.raises(ValueError, match=r"node 'li' \(LI\): 'tau' contains NaN"):
        from_nir(graph, dt=1e-3)


def test_branching_graph_is_refused():
    nodes = {"input": nir.Input(np.array([2])), "a": nir.Linear(weight=np.eye(2)), "b": nir.Linear(weight=np.eye(2)),
             "li": _li(), "output": nir.Output(np.array([2]))}
    edges = [("input", "a"), ("input", "b"), ("a", "li"), ("b", "li"), ("li", "output")]
    with pytest.raises(ValueError, match=r"node 'input' \(Input\) has 2 outgoing edges"):
        from_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=1e-3)


@pytest.mark.parametrize("field,message", [("v_reset", "v_reset != 0"), ("v_leak", "v_leak != 0")])
def test_cubalif_offsets_that_snnumba_cannot_hold_are_refused(field, message):
    params = dict(tau_syn=np.full(2, 2e-3), tau_mem=np.full(2, 5e-3), r=np.full(2, 5.0), v_leak=np.zeros(2),
                  v_threshold=np.ones(2), v_reset=np.zeros(2), w_in=np.full(2, 2.0))
    params[field] = np.full(2, 0.5)
    graph = nir.NIRGraph.from_list(nir.Input(np.array([2])), nir.Linear(weight=np.eye(2)), nir.CubaLIF(**params))
    with pytest.raises(ValueError, match=rf"node 'cubalif' \(CubaLIF\): {message}"):
        from_nir(graph, dt=1e-3)


def test_files_that_are_not_nir_are_named(tmp_path):
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="bad.nir cannot be read as a NIR graph"):
        from_nir(bad, dt=1e-3)
    with pytest.raises(FileNotFoundError, match="missing.nir"):
        from_nir(tmp_path / "missing.nir", dt=1e-3)


@pytest.mark.parametrize("kwargs,name", [(dict(dt=0.0), "dt"), (dict(dt=1e-3, decay="rk4"), "decay"),
                                         (dict(dt=1e-3, reset="none"), "reset")])
def test_bad_arguments_are_named(kwargs, name):
    graph = nir.NIRGraph.from_list(nir.Input(np.array([2])), nir.Linear(weight=np.eye(2)), _li())
    with pytest.raises(ValueError, match=name):
        from_nir(graph, **kwargs)


# --- the CLI ------------------------------------------------------------------------------------
@pytest.fixture
def small_file(tmp_path):
    net = snn.Network([snn.Dense(5, 4, bias=True, rng=0, init_bound=1.0), snn.LIF(tau=4e-3, threshold=0.5),
                       snn.Dense(4, 3, rng=1), snn.LeakyReadout(tau=4e-3)])
    path = tmp_path / "net.nir"
    nir.write(path, quiet(to_nir, net))
    np.save(tmp_path / "x.npy", spikes((30, 2, 5), 0.5))
    return net, path


def test_cli_info_prints_nodes_edges_and_ranges(small_file, capsys):
    _, path = small_file
    assert cli.main(["nir", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "lif_1: LIF  in [4] -> out [4]" in out
    assert "dense_0 -> lif_1" in out and "readout_3 -> output" in out
    assert "v_threshold: [0.5]" in out and "weight: shape [4, 5]" in out


def test_cli_run_writes_what_from_nir_computes(small_file, tmp_path, capsys):
    net, path = small_file
    x = np.load(tmp_path / "x.npy")
    out = tmp_path / "y.npy"
    assert cli.main(["nir", "run", str(path), "--input", str(tmp_path / "x.npy"), "--dt", "1e-3", "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), net.forward(x))
    assert cli.main(["nir", "run", str(path), "--input", str(tmp_path / "x.npy"), "--dt", "1e-3", "--out", str(out),
                     "--membrane"]) == 0
    np.testing.assert_array_equal(np.load(out), net.forward(x))  # the readout's output is its membrane


def test_cli_run_checks_the_input_shape(small_file, tmp_path, capsys):
    _, path = small_file
    np.save(tmp_path / "wrong.npy", np.zeros((10, 2, 6), np.uint8))
    with pytest.raises(SystemExit):
        cli.main(["nir", "run", str(path), "--input", str(tmp_path / "wrong.npy"), "--dt", "1e-3",
                  "--out", str(tmp_path / "y.npy")])
    assert "takes 5 inputs" in capsys.readouterr().err


def test_cli_info_of_a_file_that_is_not_nir(tmp_path, capsys):
    bad = tmp_path / "x.nir"
    bad.write_text("nope")
    with pytest.raises(SystemExit):
        cli.main(["nir", "info", str(bad)])
    assert "cannot be read as a NIR graph" in capsys.readouterr().err


# --- with the neuron options of issue 9 -------------------------------------------------------
@needs_options
def test_lif_graph_equals_numpy_forward_euler(tmp_path):
    """NIR LIF (per-neuron tau and threshold, r != tau/dt, v_leak != 0) against the NIR
    equations at dt (fails if the gain, the leak constant, the same-step spike or the reset is
    wrong)."""
    rng = np.random.default_rng(4)
    n, dt = 6, 1e-3
    tau, r = rng.uniform(3e-3, 20e-3, n), rng.uniform(0.5, 8.0, n)
    v_leak, v_th = rng.uniform(-0.1, 0.3, n), rng.uniform(0.3, 1.2, n)
    W, b = rng.normal(size=(n, 8)), rng.normal(size=n) * 0.1
    graph = nir.NIRGraph.from_list(nir.Input(np.array([8])), nir.Affine(weight=W, bias=b),
                                   nir.LIF(tau=tau, r=r, v_leak=v_leak, v_threshold=v_th, v_reset=np.zeros(n)))
    x = spikes((60, 4, 8), 0.4, 5)
    for reset in ("zero", "subtract"):
        net = from_nir(roundtrip_file(graph, tmp_path), dt=dt, reset=reset, dtype=np.float64)
        expected = reference_lif(x @ W.T + b, tau, r, v_leak, v_th, dt, subtract=reset == "subtract")
        assert expected.mean() > 0.05
        np.testing.assert_array_equal(net.forward(x), expected)


@needs_options
@pytest.mark.parametrize("timing", ["previous", "current"])
def test_cubalif_graph_equals_numpy_forward_euler(timing):
    rng = np.random.default_rng(6)
    n, dt = 5, 1e-3
    tau_syn, tau_mem = rng.uniform(2e-3, 6e-3, n), rng.uniform(4e-3, 20e-3, n)
    r, w_in, v_th = rng.uniform(1, 10, n), rng.uniform(0.5, 4, n), rng.uniform(0.5, 1.5, n)
    W = rng.normal(size=(n, 7))
    graph = nir.NIRGraph.from_list(nir.Input(np.array([7])), nir.Linear(weight=W),
                                   nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=np.zeros(n),
                                               v_threshold=v_th, v_reset=np.zeros(n), w_in=w_in))
    x = spikes((60, 3, 7), 0.4, 7)
    net = from_nir(graph, dt=dt, synapse_timing=timing, dtype=np.float64)
    expected = reference_cubalif(x, W, None, tau_syn, tau_mem, r, w_in, v_th, dt, previous=timing == "previous")
    assert expected.mean() > 0.05
    np.testing.assert_array_equal(net.forward(x), expected)


def _recurrent_graph(form, n=5, n_in=4, seed=8):
    rng = np.random.default_rng(seed)
    lif = nir.CubaLIF(tau_syn=np.full(n, 2e-3), tau_mem=np.full(n, 5e-3), r=np.full(n, 5.0), v_leak=np.zeros(n),
                      v_threshold=np.full(n, 0.8), v_reset=np.zeros(n), w_in=np.full(n, 2.0))
    W, V = rng.normal(size=(n, n_in)), rng.normal(size=(n, n)) * 0.7
    if form == "subgraph":  # the NIR paper's Braille graphs
        sub = nir.NIRGraph(nodes={"input": nir.Input(np.array([n])), "lif": lif, "w_rec": nir.Linear(weight=V),
                                  "output": nir.Output(np.array([n]))},
                           edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
        nodes = {"input": nir.Input(np.array([n_in])), "fc": nir.Linear(weight=W), "lif1": sub,
                 "output": nir.Output(np.array([n]))}
        edges = [("input", "fc"), ("fc", "lif1"), ("lif1", "output")]
    else:  # snnTorch 1.0 with nirtorch 2: flat, dotted names, a cycle
        nodes = {"input": nir.Input(np.array([n_in])), "fc": nir.Linear(weight=W), "lif1.lif": lif,
                 "lif1.w_rec": nir.Linear(weight=V), "output": nir.Output(np.array([n]))}
        edges = [("input", "fc"), ("fc", "lif1.lif"), ("lif1.lif", "lif1.w_rec"), ("lif1.w_rec", "lif1.lif"),
                 ("lif1.lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), W, V, lif


@needs_recurrent
@pytest.mark.parametrize("form", ["subgraph", "flat"])
def test_recurrent_graph_equals_numpy_forward_euler(form, tmp_path):
    graph, W, V, lif = _recurrent_graph(form)
    net = from_nir(roundtrip_file(graph, tmp_path), dt=1e-3, synapse_timing="current", dtype=np.float64)
    assert type(net.layers[1]).__name__ == "RecurrentLIF"
    x = spikes((60, 3, 4), 0.4, 9)
    expected = reference_cubalif(x, W, V, lif.tau_syn, lif.tau_mem, lif.r, lif.w_in, lif.v_threshold, 1e-3,
                                 previous=False)
    assert 0.05 < expected.mean() < 0.95
    np.testing.assert_array_equal(net.forward(x), expected)


@needs_recurrent
def test_recurrent_cubalif_with_the_reference_synapse_is_refused():
    graph, *_ = _recurrent_graph("flat")
    with pytest.raises(ValueError, match=r"'lif1.lif' \(CubaLIF\) has a recurrent weight.*synapse_timing='current'"):
        from_nir(graph, dt=1e-3)


@needs_options
@given(n=st.integers(1, 8), tau=st.floats(2e-3, 40e-3), tau_syn=st.one_of(st.none(), st.floats(1.5e-3, 10e-3)),
       reset=st.sampled_from(["zero", "subtract"]),
       timing=st.sampled_from(["delayed", "same_step", "same_step_late_reset"]),
       decay=st.sampled_from(["exact", "euler"]), recurrent=st.booleans(), seed=st.integers(0, 2**16))
def test_every_supported_lif_configuration_round_trips_bit_identically(n, tau, tau_syn, reset, timing, decay,
                                                                        recurrent, seed):
    if recurrent and not HAS_RECURRENT:
        return
    rng = np.random.default_rng(seed)
    options = dict(tau=tau, threshold=float(rng.uniform(0.3, 1.5)), reset=reset, spike_timing=timing,
                   tau_syn=tau_syn, decay=decay)
    neuron = neurons.RecurrentLIF(n, rng=rng, **options) if recurrent else snn.LIF(**options)
    net = snn.Network([snn.Dense(5, n, bias=True, rng=rng, init_bound=1.2), neuron, snn.Dense(n, 3, rng=rng),
                       snn.LeakyReadout(tau=tau)])
    back = from_nir(quiet(to_nir, net), dt=1e-3)
    x = spikes((25, 2, 5), 0.4, seed)
    np.testing.assert_array_equal(back.forward(x), net.forward(x))
    assert back.layers[1].config() == net.layers[1].config()


@needs_options
def test_same_step_euler_lif_exports_without_warning_and_reads_back_from_parameters_alone():
    """The exact NIR form: no warning; with the metadata stripped the node's parameters alone
    give the same spikes (fails if the export's tau, r or threshold do not mean what the layer does)."""
    net = snn.Network([snn.Dense(4, 6, rng=0, init_bound=1.5), snn.LIF(tau=6e-3, threshold=0.7, spike_timing="same_step",
                                                                      decay="euler")], dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NIRApproximationWarning)
        graph = to_nir(net)
    graph.nodes["lif_1"].metadata = {}
    x = spikes((40, 3, 4), 0.5)
    np.testing.assert_array_equal(from_nir(graph, dt=1e-3, dtype=np.float64).forward(x), net.forward(x))


@needs_options
@pytest.mark.parametrize("options,message", [(dict(reset="none"), "reset='none'"),
                                             (dict(tau_adapt=0.02, adapt_strength=0.1), "tau_adapt")])
def test_export_refuses_what_nir_cannot_express(options, message):
    net = snn.Network([snn.Dense(3, 2, rng=0), snn.LIF(n=2, **options)])
    with pytest.raises(ValueError, match=rf"layer 1 \(LIF\).*{message}"):
        to_nir(net)


@needs_options
def test_lif_graph_round_trips_to_the_same_graph():
    rng = np.random.default_rng(11)
    tau = rng.uniform(3e-3, 9e-3, 4)
    lif = nir.LIF(tau=tau, r=tau / 1e-3, v_leak=np.zeros(4), v_threshold=rng.uniform(0.5, 1, 4), v_reset=np.zeros(4))
    graph = nir.NIRGraph.from_list(nir.Input(np.array([3])), nir.Linear(weight=rng.normal(size=(4, 3))), lif)
    again = to_nir(from_nir(graph, dt=1e-3, dtype=np.float64))
    assert [type(n).__name__ for n in again.nodes.values()] == ["Input", "Linear", "LIF", "Output"]
    node = again.nodes["lif_1"]
    for field in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
        np.testing.assert_allclose(getattr(node, field), getattr(lif, field), rtol=1e-12)
    np.testing.assert_allclose(again.nodes["dense_0"].weight, graph.nodes["linear"].weight, rtol=1e-12)


def test_roundtrip_example_reports_identical_outputs(tmp_path):
    import pathlib
    example = pathlib.Path(__file__).resolve().parents[1] / "examples" / "nir_roundtrip.py"
    out = tmp_path / "flagship.nir"
    run = subprocess.run([sys.executable, str(example), "--epochs", "1", "--out", str(out)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "outputs identical: True" in run.stdout and out.exists()
