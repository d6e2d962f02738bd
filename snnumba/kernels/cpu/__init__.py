"""``@njit`` CPU kernels. Each name here has a CUDA twin in ``snnumba.kernels.cuda``."""
from .lif import lif_backward, lif_forward, readout_backward, readout_forward
from .encoding import sound_localization_spikes
from .optim import adam_step, sgd_step
from .cluster import first_spike_index, spike_cluster
from .cells import bernoulli_error_cell, gaussian_error_cell

__all__ = [
    "lif_forward", "lif_backward", "readout_forward", "readout_backward",
    "sound_localization_spikes", "adam_step", "sgd_step", "bernoulli_error_cell", "gaussian_error_cell",
    "spike_cluster", "first_spike_index",
]
