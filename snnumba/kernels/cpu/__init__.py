"""``@njit`` CPU kernels. Each name here has a CUDA twin in ``snnumba.kernels.cuda``."""

from .._cache import caching_into_kernel_cache_dir

# every kernel (and every inlined helper in _compile) is decorated inside this block
with caching_into_kernel_cache_dir():
    from .lif import readout_backward, readout_forward
    from .neuron import neuron_backward, neuron_forward
    from .encoding import sound_localization_spikes
    from .optim import adam_step, sgd_step
    from .delay import delayed_input_grad, delayed_matmul, delayed_weight_grad
    from .classify import max_rate_regress, max_rate_update, spike_time_mean, time_mean
    from .cluster import first_spike_index, spike_cluster
    from .cluster import mark_steps  # host-side: no twin, the steps come back to the host
    from .cells import bernoulli_error_cell, gaussian_error_cell
    from .sparse import spike_matmul, spike_row_counts, spike_row_indices, spike_weight_grad
    from .dense import row_chunk_matmul, row_chunk_weight_grad  # CPUBackend.matmul (CUDA has its own)


__all__ = [
    "neuron_forward", "neuron_backward", "readout_forward", "readout_backward",
    "sound_localization_spikes", "adam_step", "sgd_step", "bernoulli_error_cell", "gaussian_error_cell",
    "spike_cluster", "first_spike_index", "max_rate_update", "max_rate_regress", "time_mean",
    "delayed_matmul", "delayed_weight_grad", "delayed_input_grad",
    "spike_row_counts", "spike_row_indices", "spike_matmul", "spike_weight_grad",
    "spike_time_mean",
]
