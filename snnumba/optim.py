"""Optimizers over a network's parameters: Adam and SGD with PyTorch's update rules.

The element-wise updates are compiled kernels (``snnumba.kernels.*.optim``), so on the
GPU the parameters and moments never leave the device.
"""
import numpy as np

from ._validation import check_nonnegative, check_positive


class _Optimizer:
    def __init__(self, network, lr):
        self.network = network
        self.lr = check_positive("lr", lr)
        self.step_count = 0
        self.state = {}

    def _parameters(self):
        """The network's ``(name, param, grad)``, checked before any is updated: a read-only
        parameter failed in the update kernel's typing, after the ones before it had moved."""
        named = self.network.named_parameters()
        for name, p, _ in named:
            if isinstance(p, np.ndarray) and not p.flags.writeable:
                raise ValueError(f"parameter '{name}' is read-only, but the optimizer updates it in place; "
                                 f"give the layer a writable copy (np.array)")
        return named

    def _slots(self, name, p, n):
        if name not in self.state:
            self.state[name] = [self.network.backend.zeros(p.shape, p.dtype) for _ in range(n)]
        return [a.reshape(a.size) for a in self.state[name]]

    def zero_grad(self):
        self.network.zero_grad()

    def state_dict(self):
        be = self.network.backend
        out = {"step_count": np.array(self.step_count)}
        for name, slots in self.state.items():
            for k, a in enumerate(slots):
                out[f"{name}:{k}"] = be.to_host(a).copy()
        return out

    def load_state_dict(self, state):
        be = self.network.backend
        self.step_count = int(state["step_count"])
        self.state = {}
        for key, value in state.items():
            if key != "step_count":
                name, k = key.rsplit(":", 1)
                self.state.setdefault(name, {})[int(k)] = be.asarray(value)
        self.state = {name: [slots[k] for k in sorted(slots)] for name, slots in self.state.items()}


class Adam(_Optimizer):
    """Adam (Kingma & Ba) exactly as ``torch.optim.Adam`` with its defaults.

    Parameters
    ----------
    network : Network
    lr : float
    betas : (float, float)
    eps : float
    weight_decay : float
        L2 penalty added to the gradient (PyTorch's ``weight_decay``, not AdamW).
    """

    def __init__(self, network, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(network, lr)
        self.beta1, self.beta2 = (check_nonnegative("betas", b) for b in betas)
        if not (self.beta1 < 1 and self.beta2 < 1):
            raise ValueError(f"'betas' of {betas} must lie in [0, 1)")
        self.eps = check_positive("eps", eps)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)

    def step(self):
        """Apply one update from the gradients the network holds."""
        named = self._parameters()
        self.step_count += 1
        bias1 = 1.0 - self.beta1 ** self.step_count
        bias2 = 1.0 - self.beta2 ** self.step_count
        be = self.network.backend
        for name, p, g in named:
            m, v = self._slots(name, p, 2)
            be.adam_step(p.reshape(p.size), g.reshape(g.size), m, v, self.lr, self.beta1,
                         self.beta2, self.eps, self.weight_decay, bias1, bias2)


class SGD(_Optimizer):
    """Stochastic gradient descent with optional momentum, as ``torch.optim.SGD``."""

    def __init__(self, network, lr=1e-2, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(network, lr)
        self.momentum = check_nonnegative("momentum", momentum)
        self.dampening = check_nonnegative("dampening", dampening)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("'nesterov' needs momentum > 0 and dampening == 0")

    def step(self):
        """Apply one update from the gradients the network holds."""
        named = self._parameters()
        self.step_count += 1
        be = self.network.backend
        for name, p, g in named:
            (buf,) = self._slots(name, p, 1)
            be.sgd_step(p.reshape(p.size), g.reshape(g.size), buf, self.lr, self.momentum,
                        self.dampening, self.weight_decay, self.nesterov, self.step_count == 1)
