"""The threading policy: Numba gets the cores that other processes leave idle."""
import os

import numba
import numpy as np
import pytest

import snnumba as snn
from snnumba import _threads


def test_busy_seconds_count_everything_but_idle_and_iowait(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  1000 20 300 5000 70 4 6 100 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
    hz = os.sysconf("SC_CLK_TCK")
    assert _threads.read_busy_seconds(stat) == pytest.approx((1000 + 20 + 300 + 4 + 6 + 100) / hz)
    assert _threads.read_busy_seconds(tmp_path / "missing") is None


@pytest.mark.parametrize("others, cores, most, expected", [
    (0.0, 2, 2, 2), (1.0, 2, 2, 1), (1.9, 2, 2, 1), (0.3, 2, 2, 2), (0.6, 2, 2, 1),
    (5.0, 2, 2, 1), (0.0, 16, 4, 4), (3.0, 16, 16, 13), (0.0, 2, 1, 1),
])
def test_threads_for_idle_cores(others, cores, most, expected):
    assert _threads.threads_for(others, cores, most) == expected


class FakeMachine:
    """A machine whose other processes keep ``others`` cores busy, sampled by a fake clock."""

    def __init__(self, others):
        self.others, self.now, self.busy, self.own = others, 0.0, 0.0, 0.0

    def advance(self, seconds, own_cores):
        self.now += seconds
        self.own += own_cores * seconds
        self.busy += (own_cores + self.others) * seconds

    def monitor(self):
        return _threads.CoreMonitor(read_busy=lambda: self.busy, clock=lambda: self.now,
                                    own_seconds=lambda: self.own)


def test_monitor_measures_other_processes_not_its_own():
    machine = FakeMachine(others=1.0)
    monitor = machine.monitor()
    assert monitor.update() == 0.0          # nothing known before two readings
    machine.advance(1.0, own_cores=2.0)      # our two threads were busy, and one other core
    assert monitor.update() == pytest.approx(1.0)
    machine.others = 0.0
    machine.advance(0.1, own_cores=1.0)
    assert monitor.update() == pytest.approx(1.0)   # too soon: the last estimate stands
    machine.advance(1.0, own_cores=1.0)
    assert monitor.update() == pytest.approx(0.0, abs=1e-9)


def test_monitor_without_proc_stat_leaves_threads_alone():
    monitor = _threads.CoreMonitor(read_busy=lambda: None)
    before = numba.get_num_threads()
    with _threads.compute_threads(monitor):
        assert numba.get_num_threads() == before
    assert monitor.update() is None


@pytest.mark.parametrize("others", [0.0, 1.0, 100.0])
def test_compute_threads_sets_and_restores_numba_threads(others):
    machine = FakeMachine(others)
    monitor = machine.monitor()
    monitor.update()
    machine.advance(1.0, own_cores=1.0)
    before = numba.get_num_threads()
    expected = _threads.threads_for(others, _threads._n_cores(), before)
    with _threads.compute_threads(monitor):
        assert numba.get_num_threads() == expected
        with _threads.compute_threads(FakeMachine(0.0).monitor()):  # nested: outer choice holds
            assert numba.get_num_threads() == expected
    assert numba.get_num_threads() == before


def test_network_result_does_not_depend_on_the_thread_count(monkeypatch):
    import snnumba as snn
    monkeypatch.setattr(_threads, "_monitor", FakeMachine(0.0).monitor())  # all cores idle
    x = (np.random.default_rng(0).random((20, 5, 300)) < 0.1).astype(np.float32)

    def run():
        net = snn.Network([snn.Dense(300, 600, rng=0), snn.LIF(tau=5e-3),
                           snn.Dense(600, 3, rng=1), snn.LeakyReadout(tau=5e-3)])
        v = net.forward(x)
        net.zero_grad()
        net.backward(np.ones_like(v))
        return v, [g.copy() for _, _, g in net.named_parameters()]

    before = numba.get_num_threads()
    full = run()
    numba.set_num_threads(1)
    try:
        serial = run()
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(full[0], serial[0])
    for a, b in zip(full[1], serial[1]):
        np.testing.assert_array_equal(a, b)


def test_single_threaded_blas_holds_numpy_and_scipy_openblas():
    """Both wheels' OpenBLAS run on one thread inside the block (Numba's np.dot in the
    recurrent backward calls SciPy's; its threads spinning beside Numba's cost 20x) and get
    their thread counts back after it."""
    controls = _threads._openblas_controls()
    if not controls:
        pytest.skip("no bundled OpenBLAS found (another BLAS build)")
    import glob
    import scipy
    bundled = [path for package, folder in ((np, "numpy.libs"), (scipy, "scipy.libs"))
               for path in glob.glob(os.path.join(os.path.dirname(package.__file__), os.pardir, folder, "*openblas*"))]
    assert len(controls) == len(bundled)
    before = [get() for _, get in controls]
    with _threads.single_threaded_blas():
        assert [get() for _, get in controls] == [1] * len(controls)
    assert [get() for _, get in controls] == before


def test_a_recurrent_layer_called_alone_runs_its_backward_on_one_blas_thread(monkeypatch):
    """The recurrent BPTT calls BLAS inside its parallel loop; outside a Network's compute
    block the backend itself holds BLAS to one thread (with two spinning pools a backward
    took 13x as long) and gives the thread count back after the call."""
    controls = _threads._openblas_controls()
    if not controls:
        pytest.skip("no bundled OpenBLAS found (another BLAS build)")
    from snnumba.kernels import cpu
    seen = []
    kernel = cpu.neuron_backward

    def spy(*args, **kwargs):
        seen.append([get() for _, get in controls])
        kernel(*args, **kwargs)

    monkeypatch.setattr(cpu, "neuron_backward", spy)
    layer = snn.RecurrentLIF(6, tau_syn=5e-3, rng=0)
    layer.forward(np.random.default_rng(1).random((5, 3, 6), dtype=np.float32))
    before = [get() for _, get in controls]
    for set_threads, _ in controls:
        set_threads(2)
    try:
        layer.backward(np.ones((5, 3, 6), np.float32))
        after = [get() for _, get in controls]
    finally:
        for (set_threads, _), threads in zip(controls, before):
            set_threads(threads)
    assert seen == [[1] * len(controls)]
    assert after == [2] * len(controls)
