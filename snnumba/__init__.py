"""snnumba: spiking neural networks in plain NumPy at compiled speed.

State lives in NumPy arrays (or ``numba.cuda`` device arrays); time loops and
backprop-through-time are Numba kernels with CUDA twins; gradients are derived by hand.
"""
from . import encoding
from ._buffers import release_memory
from .backend import DEVICES, get_backend
from .distributed import sweep
from .encoding import delta_encode, latency_encode, rate_encode
from .layers import Dense, Layer
from .losses import max_over_time_nll, mse, readout_nll, softmax_nll, spike_count_cross_entropy
from .network import Network
from .neurons import IF, LIF, LIFParams, LeakyReadout, RecurrentLIF
from .optim import SGD, Adam
from .training import ArrayData, Trainer

__version__ = "0.1.0"

__all__ = [
    "DEVICES", "get_backend", "Layer", "Dense", "LIF", "IF", "RecurrentLIF", "LeakyReadout", "LIFParams",
    "Network", "Adam", "SGD", "Trainer", "ArrayData",
    "readout_nll", "max_over_time_nll", "spike_count_cross_entropy", "mse", "softmax_nll", "sweep",
    "encoding", "rate_encode", "latency_encode", "delta_encode", "release_memory",
]
