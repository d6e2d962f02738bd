"""Launch configuration and the device versions of the shared scalar formulas."""
from types import SimpleNamespace

from numba import cuda

from .. import scalar

#: Threads per block of every launch. Tests lower it (a small block runs faster under the
#: simulator and exercises several blocks); it is read at launch, never inside a kernel.
config = SimpleNamespace(THREADS_PER_BLOCK=128)

#: The device functions of ``scalar.py``'s precision helpers: float64 on the GPU (its BPTT
#: keeps float64 carries), whatever the layer's dtype.
as_like = cuda.jit(device=True)(scalar.as_like)
exp_like = cuda.jit(device=True)(scalar.exp_like)
surrogate_grad = cuda.jit(device=True)(scalar.bind(scalar.surrogate_grad, exp_like=exp_like, as_like=as_like))
counter_uniform_pair = cuda.jit(device=True)(scalar.counter_uniform_pair)
adam_update = cuda.jit(device=True)(scalar.adam_update)
sgd_update = cuda.jit(device=True)(scalar.sgd_update)
bernoulli_error = cuda.jit(device=True)(scalar.bernoulli_error)
gaussian_error = cuda.jit(device=True)(scalar.gaussian_error)
clean_divide = cuda.jit(device=True)(scalar.clean_divide)


def grid(n_threads):
    """(blocks, threads) covering n_threads with the configured block size."""
    tpb = config.THREADS_PER_BLOCK
    return max(1, (n_threads + tpb - 1) // tpb), tpb
