"""``@cuda.jit`` twins of ``snnumba.kernels.cpu``.

Every public function here is a launcher with the name and argument order of its CPU
twin; it takes device arrays (or anything ``numba.cuda`` accepts) and sizes a 1-D grid
from ``THREADS_PER_BLOCK``. Importing this package imports ``numba.cuda`` (about a
quarter of a second), so ``snnumba.backend`` imports it only when a CUDA device is asked
for. Set ``NUMBA_ENABLE_CUDASIM=1`` before Numba is imported to run it on the CPU.
"""
from .lif import readout_backward, readout_forward
from .neuron import neuron_backward, neuron_forward
from .encoding import sound_localization_spikes
from .optim import adam_step, sgd_step
from .delay import delayed_input_grad, delayed_matmul, delayed_weight_grad
from .classify import max_rate_regress, max_rate_update, spike_time_mean, time_mean
from .cluster import first_spike_index, spike_cluster
from .cells import bernoulli_error_cell, gaussian_error_cell
from .sparse import spike_matmul, spike_row_counts, spike_row_indices, spike_weight_grad
from .linalg import add_bias, add_inplace, column_sum, dale_grad, dale_weights, fill, matmul
from ._launch import config

__all__ = [
    "neuron_forward", "neuron_backward", "readout_forward", "readout_backward",
    "sound_localization_spikes", "adam_step", "sgd_step", "bernoulli_error_cell", "gaussian_error_cell",
    "spike_cluster", "first_spike_index", "max_rate_update", "max_rate_regress", "time_mean",
    "delayed_matmul", "delayed_weight_grad", "delayed_input_grad",
    "spike_row_counts", "spike_row_indices", "spike_matmul", "spike_weight_grad",
    "spike_time_mean",
    "matmul", "add_bias", "add_inplace", "column_sum", "dale_grad", "dale_weights", "fill",
    "config",
]
