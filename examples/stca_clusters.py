"""Train a LIF output layer with the STCA loss to emit a target number of spike clusters.

Task: 4 classes, each a fixed random Poisson pattern (50 inputs, 60 steps) jittered per
sample. The output neuron of the true class should fire 2 spike clusters; the others none.
Run: python examples/stca_clusters.py
"""
import numpy as np

import snnumba as snn
from snnumba.functional import spike_cluster
from snnumba.losses import stca_loss

T, N_IN, CLASSES, TARGET, T_IN, BATCH = 60, 50, 4, 2, 3, 16
rng = np.random.default_rng(0)
rates = rng.uniform(0.0, 0.25, (CLASSES, N_IN))


def batch(n):
    labels = rng.integers(0, CLASSES, n)
    x = (rng.random((T, n, N_IN)) < rates[labels][None]).astype(np.float32)
    return x, labels


net = snn.Network([snn.Dense(N_IN, CLASSES, rng=1, init_bound=0.3),
                   snn.LIF(tau=10e-3, threshold=1.0, surrogate="fast_sigmoid")])
opt = snn.Adam(net, lr=0.01)
out = net.layers[-1]


def counts_and_loss(x, labels):
    s = net.forward(x)
    v = out.v.reshape(T, -1)                               # [T, B * CLASSES]
    desired = np.where(np.arange(CLASSES)[None, :] == labels[:, None], TARGET, 0).ravel()
    loss, grad_v = stca_loss(v, 1.0, T_IN, desired)
    n_o = spike_cluster(v, 1.0, T_IN)[0].reshape(-1, CLASSES)
    return s, loss, grad_v.reshape(out.v.shape), n_o, desired.reshape(-1, CLASSES)


for step in range(301):
    x, labels = batch(BATCH)
    s, loss, grad_v, n_o, desired = counts_and_loss(x, labels)
    net.zero_grad()
    net.backward(np.zeros_like(s), grad_v=grad_v)
    opt.step()
    if step % 50 == 0:
        exact = np.mean(n_o == desired)
        correct = np.mean(np.all(n_o == desired, axis=1))
        print(f"step {step:3d}: STCA loss {loss / BATCH:7.3f}  neurons with the target count "
              f"{100 * exact:5.1f}%  samples all correct {100 * correct:5.1f}%")

x, labels = batch(256)
_, _, _, n_o, desired = counts_and_loss(x, labels)
print(f"held-out cluster-count accuracy: {100 * np.mean(np.all(n_o == desired, axis=1)):.1f}% of samples, "
      f"{100 * np.mean(n_o == desired):.1f}% of output neurons; class = most clusters: "
      f"{100 * np.mean(n_o.argmax(axis=1) == labels):.1f}% (chance {100 / CLASSES:.0f}%)")
