"""Bad input is caught where it enters (issue 12, items 3, 5, 6 and 7)."""
import re

import numpy as np
import pytest

import snnumba as snn
from snnumba.classifiers import MaxRateClassifier
from snnumba.functional import spike_similar_loss
from snnumba.homeostasis import LinearHomeostasis


def net(last=None):
    return snn.Network([snn.Dense(3, 2, rng=0), snn.LIF(), snn.Dense(2, 2, rng=1), last or snn.LeakyReadout()])


X = np.ones((5, 2, 3))
BAD_GRADS = [(np.nan, ValueError, "contains NaN"), (np.inf, ValueError, "contains NaN"),
             (1j, TypeError, "must hold real numbers")]


# --- item 5: adjacent sizes ------------------------------------------------------------
def test_network_checks_adjacent_sizes():
    with pytest.raises(ValueError, match=r"layer 2 \(Dense\) takes 12 inputs but layer 0 \(Dense\) gives 10"):
        snn.Network([snn.Dense(20, 10), snn.LIF(), snn.Dense(12, 4), snn.LeakyReadout()])
    with pytest.raises(ValueError, match=r"layer 1 \(Dense\) takes 3 inputs but layer 0 \(Dense\) gives 2"):
        snn.Network([snn.Dense(3, 2), snn.Dense(3, 2)])
    assert len(snn.Network([snn.LIF(), snn.Dense(20, 10), snn.LIF(), snn.Dense(10, 4)]).layers) == 4


# --- item 6: the seed's Dale's law truncates ----------------------------------------------
@pytest.mark.parametrize("n_in,ie_ratio,inhibitory", [
    (7, 0.5, 3), (31, 0.5, 15), (9, 0.3, 2), (30, 0.1, 3),   # the numbers, from torch
    (200, 0.5, 100), (30, 0.5, 15),                           # the sound-localization layers
])
def test_dales_law_inhibitory_rows_as_the_seed(n_in, ie_ratio, inhibitory):
    sign = snn.Dense(n_in, 2, dales_law=True, ie_ratio=ie_ratio).buffers["sign"]
    expected = np.ones((n_in, 2))
    expected[:inhibitory] = -1
    np.testing.assert_array_equal(sign, expected)
