"""CUDA twin of ``kernels/cpu/encoding.py`` (formulas there): one thread per
(time step, sample, fibre pair); neighbouring threads write neighbouring fibres."""
import math

from numba import cuda

from ._launch import counter_uniform_pair, grid


@cuda.jit(device=True)
def _envelope(scale, power, sin_phase):
    base = 0.5 * (1.0 + sin_phase)
    if power == 2.0:  # the CPU twin squares too; pow may round differently
        return scale * (base * base)
    return scale * base ** power


@cuda.jit
def _sound_localization_spikes(sin_a, cos_a, ipd, sample_ids, seed, scale, power, out):
    T, B, two_f = out.shape
    F = two_f // 2
    i = cuda.grid(1)
    if i >= T * B * F:
        return
    j = i % F
    b = (i // F) % B
    t = i // (F * B)
    p_left = _envelope(scale, power, sin_a[t, j])
    p_right = _envelope(scale, power, (sin_a[t, j] * math.cos(ipd[b]) + cos_a[t, j] * math.sin(ipd[b])))
    u_left, u_right = counter_uniform_pair(seed, (sample_ids[b] * T + t) * F + j)
    out[t, b, j] = u_left < p_left
    out[t, b, F + j] = u_right < p_right


def sound_localization_spikes(sin_a, cos_a, ipd, sample_ids, seed, scale, power, out):
    T, B, two_f = out.shape
    _sound_localization_spikes[grid(T * B * (two_f // 2))](sin_a, cos_a, ipd, sample_ids, seed,
                                                           scale, power, out)
