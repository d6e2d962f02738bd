"""Export the sound-localization network to NIR, read it back, and compare the outputs.

Run: python examples/nir_roundtrip.py [--load NET.npz] [--epochs N] [--out PATH]
Trains the flagship network briefly (or loads one saved by examples/sound_localization.py),
writes it to --out (default: sound_localization.nir in the current folder) with nir.write,
reads the file back with snnumba.nir.from_nir and checks that the test outputs are identical.
Needs the 'nir' package: pip install 'snnumba[nir]'.
"""
import argparse
import os
import warnings

import numpy as np

import snnumba as snn
from snnumba.nir import NIRApproximationWarning, from_nir, save_nir
from snnumba.tasks import sound_localization as sl

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--load", help="a network saved by examples/sound_localization.py (default: train one)")
parser.add_argument("--epochs", type=int, default=3, help="training epochs when not loading (default 3)")
parser.add_argument("--out", default="sound_localization.nir", help="where to write the NIR file")
args = parser.parse_args()
out = os.path.abspath(args.out)
if not os.path.isdir(os.path.dirname(out)):
    parser.error(f"--out: the folder {os.path.dirname(out)!r} does not exist")

seeds = np.random.SeedSequence(0).spawn(4)
test = sl.SoundLocalizationData(64 * 4, rng=np.random.default_rng(seeds[2]))
if args.load:
    net = snn.Network.load(args.load)
else:
    train = sl.SoundLocalizationData(64 * 16, rng=np.random.default_rng(seeds[0]))
    net = sl.build_network(hidden=30, rng=np.random.default_rng(seeds[1]))
    snn.Trainer(net, snn.Adam(net, lr=0.005), loss=snn.readout_nll, progress=False).fit(
        train, epochs=args.epochs, batch_size=64, rng=np.random.default_rng(seeds[3]))

# The seed's LIF spikes one step after its membrane crosses the threshold; NIR's LIF spikes in
# the same step. The export says so (NIRApproximationWarning) and keeps the exact options in the
# node's metadata, which snnumba reads back.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", NIRApproximationWarning)
    save_nir(net, out)
for w in caught:
    print(f"note: {w.message}")
print(f"wrote {out}")

back = from_nir(out, dt=1e-3)
net.eval()
back.eval()
x, _ = next(test.batches(len(test), 0, shuffle=False))
a, b = net.forward(x), back.forward(x)
print(f"layers read back: {[type(layer).__name__ for layer in back.layers]}")
print(f"outputs identical: {np.array_equal(a, b)} (max |difference| {np.abs(a - b).max():.3g}, "
      f"{a.size} values)")
result = sl.evaluate(back, test, rng=0)
print(f"test accuracy of the network read back: {100 * result['accuracy']:.1f}%")
if not np.array_equal(a, b):
    raise SystemExit("the network read back from NIR computes different outputs")
