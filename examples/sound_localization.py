"""Train the sound-localization SNN through the Python API (what `snnumba sound-localization` does).

Run: python examples/sound_localization.py
"""
import numpy as np

import snnumba as snn
from snnumba.tasks import sound_localization as sl

seeds = np.random.SeedSequence(0).spawn(5)
train = sl.SoundLocalizationData(64 * 64, rng=np.random.default_rng(seeds[0]))
val = sl.SoundLocalizationData(64 * 64, rng=np.random.default_rng(seeds[1]))
test = sl.SoundLocalizationData(64 * 32, rng=np.random.default_rng(seeds[2]))

# Dense(200 -> 30) -> LIF (tau 5 ms) -> Dense(30 -> 12) -> leaky readout; the same as
#   snn.Network([snn.Dense(200, 30), snn.LIF(tau=5e-3), snn.Dense(30, 12), snn.LeakyReadout(tau=5e-3)])
net = sl.build_network(hidden=30, rng=np.random.default_rng(seeds[3]))
trainer = snn.Trainer(net, snn.Adam(net, lr=0.005), loss=snn.readout_nll)
history = trainer.fit(train, val, epochs=150, batch_size=64, rng=np.random.default_rng(seeds[4]))

result = sl.evaluate(net, test, rng=0)
print(f"epochs: {len(history['loss'])}, best at {history['best_epoch']}")
print(f"test accuracy {100 * result['accuracy']:.1f}% (chance {100 / 12:.1f}%), "
      f"mean absolute error {result['error_deg']:.1f} deg")
net.save("sound_localization.npz")
print("saved to sound_localization.npz; reload with snn.Network.load('sound_localization.npz')")
