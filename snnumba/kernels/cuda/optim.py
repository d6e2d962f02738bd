"""CUDA twins of ``kernels/cpu/optim.py``: one thread per parameter element."""
from numba import cuda

from ._launch import adam_update, grid, sgd_update


@cuda.jit
def _adam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bias1, bias2):
    i = cuda.grid(1)
    if i < p.size:
        p[i], m[i], v[i] = adam_update(p[i], g[i], m[i], v[i], lr, beta1, beta2, eps,
                                       weight_decay, bias1, bias2)


@cuda.jit
def _sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    i = cuda.grid(1)
    if i < p.size:
        p[i], buf[i] = sgd_update(p[i], g[i], buf[i], lr, momentum, dampening, weight_decay,
                                  nesterov, first)


def adam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bias1, bias2):
    _adam_step[grid(p.size)](p, g, m, v, lr, beta1, beta2, eps, weight_decay, bias1, bias2)


def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    _sgd_step[grid(p.size)](p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first)
