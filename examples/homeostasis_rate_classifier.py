"""Learning without gradients: homeostasis sets a random hidden layer's firing rate, and a
MaxRateClassifier reads the sound-localization class out of the hidden spike rates.

Run: python examples/homeostasis_rate_classifier.py
"""
import numpy as np

import snnumba as snn
from snnumba.classifiers import MaxRateClassifier
from snnumba.homeostasis import LinearHomeostasis
from snnumba.tasks import sound_localization as sl

HIDDEN, TARGET, BATCH = 300, 0.03, 64          # target rate: 0.03 spikes per 1 ms step = 30 Hz
train = sl.SoundLocalizationData(BATCH * 32, rng=1)
test = sl.SoundLocalizationData(BATCH * 16, rng=2)


def hidden_rates(net, data, rng):
    """Mean hidden rate (spikes per step) of each sample: [n, HIDDEN], with labels."""
    rates, labels = [], []
    for x, y in data.batches(BATCH, rng, shuffle=False, drop_last=False):
        rates.append(net.forward(x).mean(axis=0))
        labels.append(y)
    return np.concatenate(rates), np.concatenate(labels)


for param in ("bias", "weight"):
    rng = np.random.default_rng(0)
    dense = snn.Dense(train.config.n_inputs, HIDDEN, bias=True, rng=rng, init_bound=0.15)
    lif = snn.LIF(tau=5e-3)
    net = snn.Network([dense, lif])
    before = hidden_rates(net.eval(), test, 0)[0].mean(axis=0)
    homeo = LinearHomeostasis(plasticity=0.02 if param == "bias" else 0.002, target=TARGET, param=param)
    homeo.register("hidden", dense, lif)
    net.train()
    for epoch in range(3):
        for x, _ in train.batches(BATCH, rng):
            net.forward(x)
            homeo.step()
    net.eval()
    clf = MaxRateClassifier(HIDDEN, train.config.num_classes)
    rates, labels = hidden_rates(net, train, 0)
    clf.update(rates, labels)
    test_rates, test_labels = hidden_rates(net, test, 0)
    accuracy = np.mean(clf.classify(test_rates) == test_labels)
    print(f"homeostasis on {param}: hidden rate before {before.mean():.3f} +- {before.std():.3f}, after "
          f"{test_rates.mean():.3f} +- {test_rates.mean(axis=0).std():.3f} spikes/step (target {TARGET}); "
          f"test accuracy {100 * accuracy:.1f}% (chance {100 / train.config.num_classes:.1f}%)")
