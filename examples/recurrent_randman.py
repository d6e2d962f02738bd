"""Train a recurrent current-based LIF network on the synthetic random-manifold task.

Run: python examples/recurrent_randman.py [--epochs N] [--feedforward]
The same as `snnumba randman`, written out with the Python API.
"""
import argparse

import numpy as np

import snnumba as snn
from snnumba.tasks import randman, temporal

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=30, help="maximum epochs (early stopping applies)")
parser.add_argument("--feedforward", action="store_true", help="a feed-forward LIF layer instead")
args = parser.parse_args()

# 10 classes, each a random 1-D manifold of spike times over 20 inputs firing once in 100 steps
data = randman.make_data(seed=0, n_classes=10, n_inputs=20, steps=100)
rng = np.random.default_rng(1)
neuron = dict(tau=20e-3, tau_syn=10e-3, dt=1e-3, reset="subtract", spike_timing="same_step",
              surrogate="fast_sigmoid")
hidden = snn.LIF(**neuron) if args.feedforward else snn.RecurrentLIF(128, rng=rng, **neuron)
net = snn.Network([snn.Dense(20, 128, init_bound=2 / np.sqrt(20), rng=rng), hidden,
                   snn.Dense(128, 10, init_bound=2 / np.sqrt(128), rng=rng), snn.LeakyReadout(tau=20e-3)])

# the class is the readout whose membrane peaks highest: train on that peak
trainer = snn.Trainer(net, snn.Adam(net, lr=2e-3), loss=snn.max_over_time_nll)
history = trainer.fit(data.train, data.val, epochs=args.epochs, batch_size=64, rng=np.random.default_rng(2))

result = temporal.evaluate(net, data.test, batch_size=64, num_classes=10)
print(f"{'feed-forward' if args.feedforward else 'recurrent'} network, epochs: {len(history['loss'])}, "
      f"best at {history['best_epoch']}")
print(f"test accuracy {100 * result['accuracy']:.1f}% (chance 10.0%)")
