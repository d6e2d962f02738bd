"""Spike generation for the sound-localization stimulus (see ``snnumba.tasks``).

Fibre ``j < F`` of the left ear has phase ``A[t, j] = 2 pi (f t dt + offset) + delay[j]``,
fibre ``F + j`` of the right ear ``A[t, j] + ipd[b]``. A fibre spikes when

    u < scale * (0.5 * (1 + sin(phase)))**power

where fibres ``j`` and ``F + j`` take the two uniforms of
``counter_uniform_pair(seed, (sample_id * T + t) * F + j)``, so each sample's draws are fixed
while the phase offset changes. ``sin(A + ipd) = sin A cos ipd + cos A sin ipd`` lets the
kernel reuse one [T, F] table of ``sin A`` and ``cos A`` for every sample.
"""
import math

import numpy as np
from numba import njit, prange

from ._compile import PARALLEL_KERNEL, counter_uniform_pair


@njit(**PARALLEL_KERNEL)
def sound_localization_spikes(sin_a, cos_a, ipd, sample_ids, seed, scale, power, out):
    """Write 0/1 spikes into out [T, B, 2F] from the tables sin_a, cos_a [T, F]."""
    T, B, two_f = out.shape
    F = two_f // 2
    for b in prange(B):
        sin_ipd = math.sin(ipd[b])
        cos_ipd = math.cos(ipd[b])
        prob = np.empty(two_f)
        for t in range(T):
            # three simple loops, each vectorised; one loop with a pow call in it is 10x slower
            for j in range(F):
                prob[j] = 0.5 * (1.0 + sin_a[t, j])
                prob[F + j] = 0.5 * (1.0 + (sin_a[t, j] * cos_ipd + cos_a[t, j] * sin_ipd))
            if power == 2.0:
                for j in range(two_f):
                    prob[j] = scale * (prob[j] * prob[j])
            else:
                for j in range(two_f):
                    prob[j] = scale * prob[j] ** power
            key0 = (sample_ids[b] * T + t) * F
            for j in range(F):
                u_left, u_right = counter_uniform_pair(seed, key0 + j)
                out[t, b, j] = u_left < prob[j]
                out[t, b, F + j] = u_right < prob[F + j]
