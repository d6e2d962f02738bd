"""Element-wise optimizer updates over flat (raveled) parameter arrays, in place."""
from numba import njit

from ._compile import KERNEL, adam_update, sgd_update


@njit(**KERNEL)
def adam_step(p, g, m, v, lr, beta1, beta2, eps, weight_decay, bias1, bias2):
    """Adam update of 1-D arrays p (parameter), m, v (moments) from gradient g."""
    for i in range(p.size):
        p[i], m[i], v[i] = adam_update(p[i], g[i], m[i], v[i], lr, beta1, beta2, eps,
                                       weight_decay, bias1, bias2)


@njit(**KERNEL)
def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """SGD (with momentum buffer buf) update of 1-D arrays p from gradient g."""
    for i in range(p.size):
        p[i], buf[i] = sgd_update(p[i], g[i], buf[i], lr, momentum, dampening,
                                  weight_decay, nesterov, first)
