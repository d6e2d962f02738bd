"""Train the sound-localization SNN through the Python API (what `snnumba sound-localization` does).

Run: python examples/sound_localization.py [--out PATH] [--epochs N]
Writes the trained network to --out (default: sound_localization.npz in the current folder).
"""
import argparse
import os

import numpy as np

import snnumba as snn
from snnumba.tasks import sound_localization as sl

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="sound_localization.npz", help="where to save the trained network")
parser.add_argument("--epochs", type=int, default=150, help="maximum epochs (early stopping applies)")
args = parser.parse_args()
out = os.path.abspath(args.out)
if not os.path.isdir(os.path.dirname(out)):  # say so now, not after training
    parser.error(f"--out: the folder {os.path.dirname(out)!r} does not exist")

seeds = np.random.SeedSequence(0).spawn(5)
train = sl.SoundLocalizationData(64 * 64, rng=np.random.default_rng(seeds[0]))
val = sl.SoundLocalizationData(64 * 64, rng=np.random.default_rng(seeds[1]))
test = sl.SoundLocalizationData(64 * 32, rng=np.random.default_rng(seeds[2]))

# Dense(200 -> 30) -> LIF (tau 5 ms) -> Dense(30 -> 12) -> leaky readout; the same as
#   snn.Network([snn.Dense(200, 30), snn.LIF(tau=5e-3), snn.Dense(30, 12), snn.LeakyReadout(tau=5e-3)])
net = sl.build_network(hidden=30, rng=np.random.default_rng(seeds[3]))
trainer = snn.Trainer(net, snn.Adam(net, lr=0.005), loss=snn.readout_nll)
history = trainer.fit(train, val, epochs=args.epochs, batch_size=64, rng=np.random.default_rng(seeds[4]))

result = sl.evaluate(net, test, rng=0)
print(f"epochs: {len(history['loss'])}, best at {history['best_epoch']}")
print(f"test accuracy {100 * result['accuracy']:.1f}% (chance {100 / 12:.1f}%), "
      f"mean absolute error {result['error_deg']:.1f} deg")
net.save(out)
print(f"saved the network to {out}; reload it with snn.Network.load({out!r})")
