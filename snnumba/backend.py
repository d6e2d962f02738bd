"""The one place where ``device="cpu" | "cuda"`` is turned into code.

``get_backend(device)`` returns an object whose kernel attributes (``neuron_forward``, ...)
are the CPU kernels or their CUDA launchers, with the same signatures, plus the few
array operations the layers need (allocation, transfer, matrix products). Layers,
networks, optimizers and tasks hold one backend and never branch on the device.
"""
import functools

import numpy as np

from ._buffers import POOL
from ._threads import single_threaded_blas
from ._validation import check_choice

DEVICES = ("cpu", "cuda")

#: Kernels every backend provides, with identical signatures (see ``snnumba.kernels``).
KERNELS = ("neuron_forward", "neuron_backward", "readout_forward", "readout_backward",
           "sound_localization_spikes", "adam_step", "sgd_step", "bernoulli_error_cell",
           "gaussian_error_cell", "spike_cluster", "first_spike_index", "max_rate_update",
           "max_rate_regress", "time_mean", "delayed_matmul", "delayed_weight_grad",
           "delayed_input_grad",
           "spike_row_counts", "spike_row_indices", "spike_matmul", "spike_weight_grad",
           "spike_time_mean")


class CPUBackend:
    """NumPy arrays and ``@njit`` kernels."""

    name = "cpu"

    def __init__(self):
        from .kernels import cpu
        self._cpu = cpu
        self.dense = cpu.dense
        for kernel in KERNELS:
            if not hasattr(CPUBackend, kernel):
                setattr(self, kernel, getattr(cpu, kernel))

    def neuron_backward(self, *args, **kwargs):
        # The recurrent BPTT calls BLAS inside its parallel loop. BLAS threads spinning beside
        # Numba's made a RecurrentLIF's backward called outside a Network (whose compute block
        # holds BLAS to one thread) 13x slower: T=100, B=256, N=256, 1.17 s against 0.09 s.
        with single_threaded_blas():
            self._cpu.neuron_backward(*args, **kwargs)

    def fuses_recurrent_weight_grad(self, s, dtype):
        """Whether ``neuron_backward`` should sum the recurrent weight's gradient itself
        (its ``grad_weight``) for the recorded spikes ``s`` (``kernels/cpu/neuron.py:
        fuses_weight_grad``)."""
        return self._cpu.neuron.fuses_weight_grad(s, np.dtype(dtype).itemsize)

    @staticmethod
    def is_device_array(x):
        return False

    @staticmethod
    def asarray(x, dtype=None):
        x = np.asarray(x)
        if x.ndim == 0 or ((dtype is None or x.dtype == dtype) and x.flags.c_contiguous):
            return np.ascontiguousarray(x, dtype=dtype)
        out = POOL.empty(x.shape, x.dtype if dtype is None else dtype)  # a copy: recycled memory
        out[...] = x
        return out

    @staticmethod
    def to_host(x):
        return np.asarray(x)

    @staticmethod
    def empty(shape, dtype):
        # large arrays from recycled buffers: no page faults on every training step
        return POOL.empty(shape, dtype)

    @staticmethod
    def zeros(shape, dtype):
        return np.zeros(shape, dtype)

    @staticmethod
    def fill(a, value):
        a[...] = value

    @staticmethod
    def copy_into(dst, host):
        dst[...] = host

    def keeps_spikes(self, n_out):
        """Whether ``matmul`` takes uint8 spikes to ``n_out`` outputs without a float copy
        (``kernels/cpu/dense.py: NARROW_MAX_OUTPUTS``); wider products copy to float for BLAS."""
        return n_out <= self.dense.NARROW_MAX_OUTPUTS

    def matmul(self, a, b, out, trans_a=False, trans_b=False, accumulate=False):
        if a.dtype == np.uint8:
            if accumulate or trans_b or not self.keeps_spikes(out.shape[1]) or not a.flags.c_contiguous:
                a = a.astype(b.dtype)
            elif trans_a:
                self.dense.uint8_weight_grad(a, b, out)
                return
            else:
                self.dense.uint8_matmul(a, np.ascontiguousarray(b.T), out)
                return
        # chunks of rows on every core, one BLAS thread each, for arrays the kernels take
        chunkable = (not accumulate and a.dtype == b.dtype == out.dtype and a.dtype in (np.float32, np.float64)
                     and a.flags.c_contiguous and out.flags.c_contiguous)
        if chunkable and trans_a and not trans_b and b.flags.c_contiguous:
            # x.T @ g, a weight gradient: a sum over the rows, chunk by chunk
            rows = self.dense.weight_grad_chunk_rows(*a.shape, b.shape[1], a.itemsize)
            if rows:
                with single_threaded_blas():
                    self.dense.row_chunk_weight_grad(a, b, out, rows)
                return
        a, b = (a.T if trans_a else a), (b.T if trans_b else b)
        rows = self.dense.chunk_rows(a.shape[0])
        if accumulate:
            out += a @ b
        elif rows and chunkable and not trans_a:
            # x @ W and g @ W.T: each chunk its own rows of out
            with single_threaded_blas():
                self.dense.row_chunk_matmul(a, np.ascontiguousarray(b), out, rows)
        elif trans_a and b.shape[1] < a.shape[0]:
            # x.T @ g with fewer outputs than inputs as (g.T @ x).T: 20-35 % faster on one BLAS
            # thread (6400 x 200 -> 30: 2.3 -> 1.5 ms; 64000 x 1000 -> 10: 76 -> 61 ms), same bits
            # there; at 1000 -> 1000 10 % slower
            out[...] = (b.T @ a.T).T
        else:
            np.matmul(a, b, out=out)  # straight into out: no temporary to copy (26 MB at 25600 x 256)

    @staticmethod
    def add_inplace(a, b):
        a += b

    @staticmethod
    def add_bias(h, bias):
        h += bias

    @staticmethod
    def column_sum(g, out):
        out += g.sum(axis=0)

    @staticmethod
    def dale_weights(w, sign, out):
        np.multiply(np.abs(w), sign, out=out)

    @staticmethod
    def dale_grad(w, sign, grad_eff, grad_w):
        grad_w += grad_eff * sign * np.sign(w)


class CUDABackend:
    """``numba.cuda`` device arrays and ``@cuda.jit`` kernels."""

    name = "cuda"

    def __init__(self):
        try:
            from numba import cuda
            from .kernels import cuda as kernels
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("device='cuda' needs numba-cuda: pip install 'snnumba[cuda]'") from exc
        if not cuda.is_available():
            raise RuntimeError("device='cuda' but no CUDA GPU is available (set "
                               "NUMBA_ENABLE_CUDASIM=1 before importing numba to simulate one)")
        self._cuda = cuda
        for kernel in KERNELS:
            setattr(self, kernel, getattr(kernels, kernel))
        for op in ("matmul", "add_bias", "column_sum", "dale_weights", "dale_grad"):
            setattr(self, op, getattr(kernels, op))
        self._fill = kernels.fill
        self._add_inplace = kernels.add_inplace

    @staticmethod
    def keeps_spikes(n_out):
        return False  # the layers give matmul float copies of spikes here

    @staticmethod
    def fuses_recurrent_weight_grad(s, dtype):
        return False  # the layer sums it with the event or dense products

    @staticmethod
    def is_device_array(x):
        # device arrays, real or simulated, are the objects that copy back to the host
        return hasattr(x, "copy_to_host")

    def asarray(self, x, dtype=None):
        if self.is_device_array(x):
            if dtype is None or x.dtype == np.dtype(dtype):
                return x
            x = x.copy_to_host()
        return self._cuda.to_device(np.ascontiguousarray(x, dtype=dtype))

    def to_host(self, x):
        return x.copy_to_host() if self.is_device_array(x) else np.asarray(x)

    def empty(self, shape, dtype):
        return self._cuda.device_array(shape, dtype)

    def zeros(self, shape, dtype):
        a = self._cuda.device_array(shape, dtype)
        self.fill(a, 0)
        return a

    def fill(self, a, value):
        self._fill(a.reshape(a.size), value)

    @staticmethod
    def copy_into(dst, host):
        dst.copy_to_device(np.ascontiguousarray(host, dtype=dst.dtype))

    def add_inplace(self, a, b):
        self._add_inplace(a.reshape(a.size), b.reshape(b.size))


@functools.lru_cache(maxsize=None)
def _make(device):
    return CPUBackend() if device == "cpu" else CUDABackend()


def get_backend(device="cpu"):
    """The backend for ``device`` ('cpu' or 'cuda'); a backend object passes through."""
    if isinstance(device, (CPUBackend, CUDABackend)):
        return device
    return _make(check_choice("device", device, DEVICES))
