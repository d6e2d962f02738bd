"""The one place that says how CPU kernels are compiled."""
from numba import njit

from .. import scalar
from ._exp import exp_nonpositive

#: Compile options of every CPU kernel. ``cache=True``: compilation is part of a user's
#: wait, and the on-disk cache survives a change of thread count (tested).
#: ``error_model="numpy"``: a division is the bare IEEE instruction, without Python's check
#: for a zero divisor, whose branch to an exception kept every loop with a division scalar
#: (the sigmoid surrogate over 16M values: 13 -> 2.4 ns each, same bits). The wrappers
#: check the inputs, so no kernel divides by a zero that a user could give.
KERNEL = dict(cache=True, error_model="numpy")
PARALLEL_KERNEL = dict(KERNEL, parallel=True)

surrogate_grad = njit(inline="always", cache=True)(scalar.bind(scalar.surrogate_grad, exp_nonpositive=exp_nonpositive))
counter_uniform_pair = njit(inline="always", cache=True)(scalar.counter_uniform_pair)
adam_update = njit(inline="always", cache=True)(scalar.adam_update)
sgd_update = njit(inline="always", cache=True)(scalar.sgd_update)
bernoulli_error = njit(inline="always", cache=True)(scalar.bernoulli_error)
gaussian_error = njit(inline="always", cache=True)(scalar.gaussian_error)
clean_divide = njit(inline="always", cache=True)(scalar.clean_divide)
