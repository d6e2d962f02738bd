"""CUDA twins of ``kernels/cpu/neuron.py`` (arguments, conventions and equations there and
in ``kernels/neuron_step.py``, whose step functions both twins compile).

Non-recurrent layers: one thread per (batch, neuron) with its state in registers and the
time loop inside; neighbouring threads read neighbouring neurons (coalesced). Recurrent
layers: one block per batch row, its threads over the neurons, one barrier per step. The
state lives in ``*_final`` (the working copy) and the spikes of step t-1 are read back
from ``s_out`` (``z0`` at t = 0), so a row of any width fits one block.
"""
from numba import cuda

from .. import neuron_step as _ns
from ._launch import as_like, config, grid, surrogate_grad


_step, _grad_at = _ns.compiled(cuda.jit(device=True), surrogate_grad, as_like)


@cuda.jit(device=True)
def _run(x, alpha, alpha_syn, rho, beta, threshold, reset, timing, v_out, s_out, i_out, a_out, x_out,
         v, s, i, a, t, b, n):
    """Step t of neuron (b, n), input x, on the state held in v, s, i, a [B, N]."""
    syn = alpha_syn.shape[0] != 0
    adapt = rho.shape[0] != 0
    record = v_out.shape[0] != 0
    if x_out.shape[0] != 0:
        x_out[t, b, n] = x
    if record and syn:
        i_out[t, b, n] = i[b, n]
    if record and adapt:
        a_out[t, b, n] = a[b, n]
    z, m, v[b, n], s[b, n], i[b, n], a[b, n] = _step(
        x, v[b, n], s[b, n], i[b, n], a[b, n], alpha[n if alpha.shape[0] > 1 else 0], alpha_syn[n] if syn else x,
        rho[n] if adapt else x, beta[n] if adapt else x, threshold[b, n], reset, timing, syn, adapt)
    if record:
        v_out[t, b, n] = m
    s_out[t, b, n] = z


@cuda.jit
def _forward_neurons(h, alpha, alpha_syn, rho, beta, threshold, reset, timing, v0, s0, i0, a0,
                     v_out, s_out, i_out, a_out, x_out, v_final, s_final, i_final, a_final):
    T, B, N = h.shape
    k = cuda.grid(1)
    if k >= B * N:
        return
    b = k // N
    n = k % N
    v_final[b, n] = v0[b, n]
    s_final[b, n] = s0[b, n]
    i_final[b, n] = i0[b, n]
    a_final[b, n] = a0[b, n]
    for t in range(T):
        _run(h[t, b, n], alpha, alpha_syn, rho, beta, threshold, reset, timing, v_out, s_out, i_out, a_out,
             x_out, v_final, s_final, i_final, a_final, t, b, n)


@cuda.jit
def _forward_recurrent(h, weight, alpha, alpha_syn, rho, beta, threshold, reset, timing, v0, s0, i0, a0, z0,
                       v_out, s_out, i_out, a_out, x_out, v_final, s_final, i_final, a_final, z_final):
    T, B, N = h.shape
    b = cuda.blockIdx.x
    for n in range(cuda.threadIdx.x, N, cuda.blockDim.x):
        v_final[b, n] = v0[b, n]
        s_final[b, n] = s0[b, n]
        i_final[b, n] = i0[b, n]
        a_final[b, n] = a0[b, n]
    for t in range(T):
        for n in range(cuda.threadIdx.x, N, cuda.blockDim.x):
            r = h[t, b, n] - h[t, b, n]   # a zero of h's dtype
            for j in range(N):             # the rows of the neurons that spiked at t-1, in order
                if (z0[b, j] if t == 0 else s_out[t - 1, b, j]) != 0:
                    r += weight[j, n]
            _run(h[t, b, n] + r, alpha, alpha_syn, rho, beta, threshold, reset, timing, v_out, s_out, i_out,
                 a_out, x_out, v_final, s_final, i_final, a_final, t, b, n)
        cuda.syncthreads()                 # step t's spikes are read by every thread at t+1
    for n in range(cuda.threadIdx.x, N, cuda.blockDim.x):
        z_final[b, n] = s_out[T - 1, b, n]


@cuda.jit(device=True)
def _grad_neuron(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, beta, threshold, reset, timing, v0, s0,
                 surrogate, slope, grad_v, t, b, n, gz, carry):
    """Step t of the BPTT of neuron (b, n); ``carry[0:4, b, n]`` hold dL/d(v, s, i, a after
    the step), ``carry[4:7, b, n]`` the sums of dL/d(alpha, alpha_syn, threshold). Returns dL/dx."""
    syn = alpha_syn.shape[0] != 0
    adapt = rho.shape[0] != 0
    gm = grad_v[t, b, n] if grad_v.shape[0] != 0 else 0.0
    gx, gv, gs, gi, ga, g_al, g_al_syn, g_th = _grad_at(
        x, v_out, s_out, i_out, a_out, v0, s0, t, b, n, alpha[n if alpha.shape[0] > 1 else 0],
        alpha_syn[n] if syn else threshold[b, n], rho[n] if adapt else threshold[b, n],
        beta[n] if adapt else threshold[b, n], threshold[b, n], reset, timing, syn, adapt,
        surrogate, slope, gz, gm, carry[0, b, n], carry[1, b, n], carry[2, b, n], carry[3, b, n])
    carry[0, b, n] = gv
    carry[1, b, n] = gs
    carry[2, b, n] = gi
    carry[3, b, n] = ga
    carry[4, b, n] += g_al
    carry[5, b, n] += g_al_syn
    carry[6, b, n] += g_th
    return gx


@cuda.jit(device=True)
def _write_grads(carry, b, n, grad_alpha, grad_alpha_syn, grad_threshold):
    if grad_alpha.shape[0] != 0:
        grad_alpha[b, n] = carry[4, b, n]
    if grad_alpha_syn.shape[0] != 0:
        grad_alpha_syn[b, n] = carry[5, b, n]
    if grad_threshold.shape[0] != 0:
        grad_threshold[b, n] = carry[6, b, n]


@cuda.jit
def _backward_neurons(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, beta, threshold, reset, timing,
                      v0, s0, surrogate, slope, grad_s, grad_v, grad_h, grad_alpha, grad_alpha_syn,
                      grad_threshold, carry):
    T, B, N = x.shape
    k = cuda.grid(1)
    if k >= B * N:
        return
    b = k // N
    n = k % N
    for c in range(7):
        carry[c, b, n] = 0.0
    for t in range(T - 1, -1, -1):
        grad_h[t, b, n] = _grad_neuron(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, beta, threshold,
                                       reset, timing, v0, s0, surrogate, slope, grad_v, t, b, n, grad_s[t, b, n],
                                       carry)
    _write_grads(carry, b, n, grad_alpha, grad_alpha_syn, grad_threshold)


@cuda.jit
def _backward_recurrent(x, weight, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, beta, threshold, reset,
                        timing, v0, s0, surrogate, slope, grad_s, grad_v, grad_h, grad_alpha, grad_alpha_syn,
                        grad_threshold, carry):
    T, B, N = x.shape
    b = cuda.blockIdx.x
    for n in range(cuda.threadIdx.x, N, cuda.blockDim.x):
        for c in range(7):
            carry[c, b, n] = 0.0
    for t in range(T - 1, -1, -1):
        for n in range(cuda.threadIdx.x, N, cuda.blockDim.x):
            g_rec = 0.0                    # dL/dz[t] through the recurrence: V[n] . dL/dx[t+1]
            if t + 1 < T:
                for j in range(N):
                    g_rec += weight[n, j] * grad_h[t + 1, b, j]
            grad_h[t, b, n] = _grad_neuron(x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, beta, threshold,
                                           reset, timing, v0, s0, surrogate, slope, grad_v, t, b, n,
                                           grad_s[t, b, n] + g_rec, carry)
        cuda.syncthreads()                 # step t's dL/dx is read by every thread at t-1
    for n in range(cuda.threadIdx.x, N, cuda.blockDim.x):
        _write_grads(carry, b, n, grad_alpha, grad_alpha_syn, grad_threshold)


def neuron_forward(h, recurrent_weight, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing,
                   v0, s0, i0, a0, z0, v_out, s_out, i_out, a_out, x_out,
                   v_final, s_final, i_final, a_final, z_final):
    T, B, N = h.shape
    if recurrent_weight.shape[0] == 0:
        _forward_neurons[grid(B * N)](h, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing,
                                      v0, s0, i0, a0, v_out, s_out, i_out, a_out, x_out,
                                      v_final, s_final, i_final, a_final)
    else:
        _forward_recurrent[B, min(N, config.THREADS_PER_BLOCK)](
            h, recurrent_weight, alpha, alpha_syn, rho, adapt_strength, threshold, reset, timing,
            v0, s0, i0, a0, z0, v_out, s_out, i_out, a_out, x_out, v_final, s_final, i_final, a_final, z_final)


def neuron_backward(x, recurrent_weight, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength,
                    threshold, reset, timing, v0, s0, surrogate, slope, grad_s, grad_v, grad_h,
                    grad_alpha, grad_alpha_syn, grad_threshold, z0=None, grad_weight=None):
    if grad_weight is not None:   # CUDABackend.fuses_recurrent_weight_grad is False: the layer sums dV
        raise NotImplementedError("the CUDA recurrent BPTT does not sum the weight gradient; leave grad_weight out")
    T, B, N = x.shape
    carry = cuda.device_array((7, B, N), "f8")   # float64 carries and sums (``_launch.as_like``)
    if recurrent_weight.shape[0] == 0:
        _backward_neurons[grid(B * N)](x, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength,
                                       threshold, reset, timing, v0, s0, surrogate, slope, grad_s, grad_v, grad_h,
                                       grad_alpha, grad_alpha_syn, grad_threshold, carry)
    else:
        _backward_recurrent[B, min(N, config.THREADS_PER_BLOCK)](
            x, recurrent_weight, v_out, s_out, i_out, a_out, alpha, alpha_syn, rho, adapt_strength, threshold,
            reset, timing, v0, s0, surrogate, slope, grad_s, grad_v, grad_h, grad_alpha, grad_alpha_syn,
            grad_threshold, carry)
