"""A cold start compiled on two cores: the backward kernels in a helper process.

Numba compiles one function at a time in a process (a global lock), and the kernels of a
training step take 14-20 s to compile on a cold cache here, one core's work. The warm-up
step (``tasks.sound_localization.warm_up``) therefore splits it: a helper process runs
the same step (named to it as ``"module:function"``, called ``function(net, lr)``) on a copy
of the network with the data and forward kernels replaced by stand-ins that write zeros
(``_zero_outputs``), so that it compiles, and caches on disk, only the kernels of the
backward pass and the optimizer; meanwhile this process generates two samples and runs
the forward pass on them (``tasks.sound_localization.compile_forward``), compiling the
data and forward kernels. This process then runs the real step and loads the helper's
kernels from the cache. (The main job's kernels on the 2-core machine, alternating runs:
9.3-11.4 s, against 16.3-18.3 s in one process; 5.8-7.5 s since its small projection
takes the dense product, which moved the longer half to the helper and so the data
kernel to this process.)

The temporal tasks (``tasks.temporal.warm_up_step``, ``snnumba randman`` and ``snnumba
shd``) split their cold start the same way; their helper steps a batch of zeros of the
data's shape and dtype (``tasks.temporal.helper_step``, given them as extra ``args``),
because the batch size decides which recurrent kernels run. (``snnumba randman
--epochs 2``, empty cache, alternating runs: 16-21 s, against 55-73 s for the release
before, whose two-sample warm-up compiled the recurrent kernels that small calls share and
left those of the training batches to the first epoch.)

Both processes compile different functions, and Numba writes each cache file atomically.
Two signatures of one function compiled at once could lose one index entry; that costs a
compile on a later run, never a wrong result.

There is no helper where it cannot help: on one core, for a GPU network (CUDA kernels
are not cached on disk), and once it has run for the network's architecture in this kernel
cache folder (a marker file there; a cached start stays a load of well under a second).
If the helper fails, the step compiles whatever is missing itself.
"""
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

#: Backend kernels of the data and the forward pass, which this process compiles and the
#: helper replaces with ``_zero_outputs`` (and ``dense.row_chunk_matmul``, the forward's
#: dense products).
FORWARD_KERNELS = ("neuron_forward", "readout_forward", "spike_row_counts", "spike_row_indices", "spike_matmul",
                   "sound_localization_spikes")
#: Seconds to wait for the helper before compiling the rest here (it takes about 10).
HELPER_TIMEOUT = 300


def _zero_outputs(*args):
    """A forward kernel's stand-in: zeros in every writable array argument (its outputs
    among them), so that the rest of the step runs on finite values of the right types."""
    for a in args:
        if isinstance(a, np.ndarray) and a.flags.writeable:
            a[...] = 0


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def marker_path(net, args=()):
    """The file that says the helper has compiled the kernels for ``net``'s architecture
    (layer types and options, dtype) and the step's extra ``args`` in the current kernel
    cache folder."""
    from .kernels._cache import kernel_cache_dir
    spec = json.loads(str(net.to_arrays()["meta"]))
    if args:  # (without: the key of the releases before args)
        spec = {"network": spec, "args": list(args)}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return os.path.join(kernel_cache_dir(), f"warm-up-helper-{key}")


def wanted(net, args=()):
    """Whether a helper would help: a CPU network, two cores or more, no marker yet."""
    return net.device == "cpu" and _cores() >= 2 and not os.path.exists(marker_path(net, args))


@contextlib.contextmanager
def backward_kernels_in_helper(net, lr, step, enabled=None, args=()):
    """Start the helper running ``step`` (``"module:function"``, called ``function(net, lr,
    *args)``; ``args`` plain JSON values) on a copy of ``net`` and yield it (a
    ``subprocess.Popen``), or yield None where it is not ``wanted`` (``enabled`` forces the
    choice). Call ``finish(helper)`` inside the block once this process has compiled its
    own kernels; leaving the block otherwise stops the helper."""
    if not (wanted(net, args) if enabled is None else enabled):
        yield None
        return
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "network.npz")
        net.save(path)
        command = _helper_command(step, path, lr, marker_path(net, args), args)
        helper = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            yield helper
        finally:
            if helper.poll() is None:
                helper.kill()
            helper.wait()


def compile_on_two_cores(net, lr, step, compile_here, enabled=None, args=()):
    """A cold start's split: the helper runs ``step`` (as ``backward_kernels_in_helper``)
    while this process calls ``compile_here()``, which compiles the data and forward
    kernels; then waits for the helper. Does nothing where no helper is wanted: the step
    that follows compiles everything itself."""
    with backward_kernels_in_helper(net, lr, step, enabled, args) as helper:
        if helper is not None:
            compile_here()
            finish(helper)


def _helper_command(step, path, lr, marker, args=()):
    """The helper's command line. It imports this process's snnumba, first on its path. Run
    as ``-m snnumba._warmup`` (the working directory first on the path), a helper started
    in a checkout beside a normal install imported the checkout's copy; Numba keys its cache
    folders on the source's path, so this process found none of the helper's kernels and
    compiled them all again (README line 1, cold: 11.0-11.9 s, against 5.9-8.2 s)."""
    import snnumba
    here = os.path.dirname(os.path.dirname(os.path.abspath(snnumba.__file__)))
    code = (f"import sys; sys.path.insert(0, {here!r}); "
            "from snnumba._warmup import _helper_main; _helper_main(*sys.argv[1:])")
    return [sys.executable, "-c", code, step, path, repr(float(lr)), marker, json.dumps(list(args))]


def finish(helper):
    """Wait for the helper (at most HELPER_TIMEOUT s); True if it compiled everything."""
    try:
        return helper.wait(timeout=HELPER_TIMEOUT) == 0
    except subprocess.TimeoutExpired:
        return False


def _helper_main(step, path, lr, marker, args="[]"):
    """The helper: ``step`` on the network saved at ``path`` (and the JSON list ``args``),
    forward kernels replaced; writes ``marker`` when done."""
    import importlib
    from .backend import get_backend
    from .network import Network
    module, function = step.split(":")
    run_step = getattr(importlib.import_module(module), function)
    backend = get_backend("cpu")
    for name in FORWARD_KERNELS:
        setattr(backend, name, _zero_outputs)
    backend.dense.row_chunk_matmul = _zero_outputs
    run_step(Network.load(path), float(lr), *json.loads(args))
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    with open(marker, "w"):
        pass

