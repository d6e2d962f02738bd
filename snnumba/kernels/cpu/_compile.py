"""The one place that says how CPU kernels are compiled."""
import types

import numpy as np
from numba import njit
from numba import types as numba_types
from numba.extending import overload

from .. import scalar
from ._exp import exp_like

#: Compile options of every CPU kernel. ``cache=True``: compilation is part of a user's
#: wait, and the on-disk cache survives a change of thread count (tested).
#: ``error_model="numpy"``: a division is the bare IEEE instruction, without Python's check
#: for a zero divisor, whose branch to an exception kept every loop with a division scalar
#: (the sigmoid surrogate over 16M values: 13 -> 2.4 ns each, same bits). The wrappers
#: check the inputs, so no kernel divides by a zero that a user could give.
KERNEL = dict(cache=True, error_model="numpy")
PARALLEL_KERNEL = dict(KERNEL, parallel=True)

#: A ``ParallelWithSerialTwin`` call whose arrays all hold fewer elements than this runs
#: the serial twin. A parallel kernel called after a pause first wakes its sleeping
#: threads: about 160 us on the 2-core machine (the flagship's readout backward, 77K
#: elements, in an epoch: 199 us parallel, 35 us serial), about what one thread takes for
#: 2**18 elements of such a loop.
SERIAL_MAX_ELEMENTS = 1 << 18


class ParallelWithSerialTwin:
    """A kernel compiled twice, each version at its first call: ``.parallel`` (with
    ``parallel=True``) and ``.serial`` (without; ``prange`` is then ``range``). A call runs
    the serial twin when every array argument holds fewer than SERIAL_MAX_ELEMENTS
    elements. Only for kernels whose ``prange`` loops reduce into no shared variable: both
    versions then give the same bits (tested). A workload that makes only small calls
    compiles only the serial twin, in about half the time of the parallel kernel."""

    def __init__(self, py_func):
        self.parallel = njit(**PARALLEL_KERNEL)(py_func)
        # another name: Numba names its cache files after the function and keys their
        # entries on its code and signature, not on the compile options, so the twin
        # would load the parallel kernel's entries (or they its) under the same name
        twin = types.FunctionType(py_func.__code__, py_func.__globals__, py_func.__name__ + "_serial",
                                  py_func.__defaults__, py_func.__closure__)
        twin.__qualname__ = py_func.__qualname__ + "_serial"
        twin.__module__ = py_func.__module__
        self.serial = njit(**KERNEL)(twin)
        self.__name__, self.__doc__ = py_func.__name__, py_func.__doc__

    def __call__(self, *args):
        small = all(a.size < SERIAL_MAX_ELEMENTS for a in args if isinstance(a, np.ndarray))
        return (self.serial if small else self.parallel)(*args)


def as_like(value, like):
    """``value`` as a float32 for a float32 ``like``, else as a float64 (``scalar.as_like``)."""
    return float(value)


@overload(as_like, inline="always")
def _as_like(value, like):
    if like == numba_types.float32:
        return lambda value, like: np.float32(value)
    return lambda value, like: np.float64(value)


surrogate_grad = njit(inline="always", cache=True)(scalar.bind(scalar.surrogate_grad, exp_like=exp_like,
                                                               as_like=as_like))
counter_uniform_pair = njit(inline="always", cache=True)(scalar.counter_uniform_pair)
adam_update = njit(inline="always", cache=True)(scalar.adam_update)
sgd_update = njit(inline="always", cache=True)(scalar.sgd_update)
bernoulli_error = njit(inline="always", cache=True)(scalar.bernoulli_error)
gaussian_error = njit(inline="always", cache=True)(scalar.gaussian_error)
clean_divide = njit(inline="always", cache=True)(scalar.clean_divide)
