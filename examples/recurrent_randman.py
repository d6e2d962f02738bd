"""Train a recurrent current-based LIF network on the synthetic random-manifold memory task.

Run: python examples/recurrent_randman.py [--epochs N] [--feedforward] [--adapt]
The same as `snnumba randman`, written out with the Python API.
"""
import argparse

import numpy as np

import snnumba as snn
from snnumba.tasks import randman, temporal

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=30, help="maximum epochs (early stopping applies)")
parser.add_argument("--feedforward", action="store_true", help="a feed-forward LIF layer instead")
parser.add_argument("--adapt", action="store_true", help="adaptive thresholds (ALIF), tau_adapt 200 ms")
args = parser.parse_args()

# 3 syllables (random 1-D manifolds of spike times over 20 inputs, 50 steps each); a sample is two
# of them with 100 silent steps between, and its class is the ordered pair: 9 classes
data = randman.make_data(seed=0, n_classes=3, n_inputs=20, steps=50, test_per_class=30, sequence=2, gap=100)
rng = np.random.default_rng(1)
neuron = dict(tau=20e-3, tau_syn=10e-3, dt=1e-3, reset="subtract", spike_timing="same_step",
              surrogate="fast_sigmoid")
if args.adapt:  # the threshold rises by 1.8 per spike and decays over the gap (Bellec et al. 2018)
    neuron.update(tau_adapt=0.2, adapt_strength=1.8)
# small recurrent weights to start with: training is slow from the default 1/sqrt(n)
hidden = snn.LIF(**neuron) if args.feedforward else snn.RecurrentLIF(128, init_bound=0.2 / np.sqrt(128),
                                                                     rng=rng, **neuron)
net = snn.Network([snn.Dense(20, 128, init_bound=2 / np.sqrt(20), rng=rng), hidden,
                   snn.Dense(128, 9, init_bound=2 / np.sqrt(128), rng=rng), snn.LeakyReadout(tau=20e-3)])

# the class is the readout whose membrane peaks highest: train on that peak
trainer = snn.Trainer(net, snn.Adam(net, lr=2e-3), loss=snn.max_over_time_nll)
history = trainer.fit(data.train, data.val, epochs=args.epochs, batch_size=64, rng=np.random.default_rng(2))

result = temporal.evaluate(net, data.test, batch_size=64, num_classes=9)
kind = "feed-forward" if args.feedforward else "recurrent"
print(f"{kind}{' adaptive' if args.adapt else ''} network, epochs: {len(history['loss'])}, "
      f"best at {history['best_epoch']}")
print(f"test accuracy {100 * result['accuracy']:.1f}% (chance 11.1%)")
