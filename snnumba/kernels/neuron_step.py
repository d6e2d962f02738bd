"""One step of the neuron family, forward and backward, for one neuron (shared scalars).

Plain Python on scalars, compiled twice like ``scalar.py``: ``njit(inline="always")`` in
``kernels/cpu/neuron.py`` and ``cuda.jit(device=True)`` in ``kernels/cuda/neuron.py``. The
option arguments (``reset``, ``timing``, ``syn``, ``adapt``) are integer codes and flags;
a CPU kernel that passes them as constants gets a loop without their branches. A function
here that calls another (``reset_membrane``, ...) is compiled with that name bound to the
target's compiled helper (``bind`` in each twin).

The equations (``snnumba.neurons`` states them for users; ``x = h + r`` is the input)::

    synapse (syn):  i = alpha_syn * i + x ;  d = i          otherwise d = x
    theta = threshold + beta * a                           (a = 0 without adaptation)
    R(u, r, theta) = u - u*r (RESET_ZERO) | u - r*theta (RESET_SUBTRACT) | u (RESET_NONE)
    DELAYED:       z = s ; f = H(v - theta) ; u = alpha*v + d ; v = R(u, s, theta) ; s = f
    SAME_STEP:     u = alpha*v + d ; f = H(u - theta) ; z = f ; v = R(u, f, theta) ; s = f
    LATE_RESET:    u = alpha*v + d ; m = R(u, s, theta) ; f = H(m - theta) ; z = f ; v = m ; s = f
    adaptation (adapt):  a = rho * a + f

with ``H(x) = 1 if x > 0 else 0``. The recorded membrane is the one tested against theta:
v (DELAYED), u (SAME_STEP), m (LATE_RESET).
"""
import numpy as np

from .scalar import bind as bind_helpers
from .scalar import as_like, surrogate_grad  # noqa: F401  (bound to the compiled helpers in each twin)

RESETS = ("zero", "subtract", "none")
TIMINGS = ("delayed", "same_step", "same_step_late_reset")
RESET_ZERO, RESET_SUBTRACT, RESET_NONE = 0, 1, 2
DELAYED, SAME_STEP, LATE_RESET = 0, 1, 2


def effective_threshold(th, beta, a, adapt):
    """theta = threshold + beta * a (the threshold itself without adaptation)."""
    return th + beta * a if adapt else th


def reset_membrane(u, r, theta, reset):
    """R(u, r, theta) for the spike flag r (0/1)."""
    if reset == RESET_ZERO:
        return u - u * r                  # u * (1 - r) without a literal that would promote float32
    if reset == RESET_SUBTRACT:
        return u - r * theta
    return u


def neuron_step(x, v, s, i, a, alpha, alpha_syn, rho, beta, th, reset, timing, syn, adapt):
    """One step. Returns ``(z, membrane, v, s, i, a)``: the output spike (uint8), the
    recorded membrane and the state after the step (s uint8)."""
    if syn:
        i = alpha_syn * i + x
        d = i
    else:
        d = x
    theta = effective_threshold(th, beta, a, adapt)
    u = alpha * v + d
    membrane = v
    f = s
    r = s                                 # the spike flag R resets with
    if timing == DELAYED:
        f = np.uint8(v > theta)
    elif timing == SAME_STEP:
        membrane = u
        f = np.uint8(u > theta)
        r = f
    v = reset_membrane(u, r, theta, reset)
    if timing == LATE_RESET:
        membrane = v
        f = np.uint8(v > theta)
    z = s if timing == DELAYED else f
    if adapt:
        a = rho * a + f
    return z, membrane, v, f, i, a


def neuron_step_grad(x, v, s, i, a, z, theta, sg, alpha, alpha_syn, rho, beta, reset, timing, syn,
                     adapt, gz, gm, gv, gs, gi, ga):
    """Backward of ``neuron_step``, in the precision of ``x``'s dtype (``as_like``: the CPU
    twin's BPTT runs float32 layers in float32).

    ``x, v, s, i, a``: the input and the state before the step (x's value enters only the
    reset to zero: a recurrent layer records its total input only for that reset); ``z``:
    the recorded output spike; ``theta``: the effective threshold; ``sg``: the surrogate
    derivative at ``membrane - theta`` (the tested membrane); ``gz, gm``: dL/dz and
    dL/dmembrane of this step; ``gv, gs, gi, ga``: dL/d(state after the step). Returns
    ``(gx, gv, gs, gi, ga, galpha, galpha_syn, gth)``: dL/dx, dL/d(state before the step)
    and this step's share of dL/dalpha, dL/dalpha_syn, dL/dthreshold.
    """
    zero = as_like(0.0, x)
    d = alpha_syn * i + x if syn else x
    u = alpha * v + d
    gf = gs + ga if adapt else gs         # f feeds s and a
    r = s
    g_reset = gv                          # dL/d(reset's output)
    if timing == SAME_STEP:
        gf = gf + gz
        r = z
    elif timing == LATE_RESET:
        gf = gf + gz
        g_reset = gv + gm + gf * sg      # m = R(...) is tested, recorded and kept
    if reset == RESET_ZERO:
        gu = g_reset * (as_like(1.0, x) - r)
        gr = -g_reset * u
        gth = zero
    elif reset == RESET_SUBTRACT:
        gu = g_reset
        gr = -g_reset * theta
        gth = -g_reset * r
    else:
        gu = g_reset
        gr = zero
        gth = zero
    gth = gth - gf * sg
    if timing == DELAYED:
        # summed in the order of the original LIF kernel
        gv_before = gm + gu * alpha + gf * sg
        gs_before = gr + gz
    elif timing == SAME_STEP:
        gf = gf + gr                      # the reset reads this step's spike
        gth = gth - gr * sg
        gu = gu + gm + gf * sg
        gv_before = gu * alpha
        gs_before = zero
    else:
        gv_before = gu * alpha
        gs_before = gr
    galpha = gu * v
    if syn:
        g_i = gi + gu                     # d = i after the step
        gx = g_i
        gi_before = alpha_syn * g_i
        galpha_syn = g_i * i
    else:
        gx = gu
        gi_before = zero
        galpha_syn = zero
    ga_before = rho * ga + beta * gth if adapt else zero
    return gx, gv_before, gs_before, gi_before, ga_before, galpha, galpha_syn, gth


def neuron_grad_at(x, v_out, s_out, i_out, a_out, v0, s0, t, b, n, alpha, alpha_syn, rho, beta, th, reset,
                   timing, syn, adapt, code, slope, gz, gm, gv, gs, gi, ga):
    """``neuron_step_grad`` of step t of neuron (b, n), reading what it needs from the
    recordings ``[T, B, N]`` (``x`` the input, ``v_out`` the tested membrane, ``s_out`` the
    output spikes, ``i_out``, ``a_out`` the synaptic current and adaptation before each
    step) and the initial state ``v0, s0 [B, N]``. Same returns as ``neuron_step_grad``,
    in the recordings' precision (``as_like``)."""
    like = x[t, b, n]
    alpha, alpha_syn, rho = as_like(alpha, like), as_like(alpha_syn, like), as_like(rho, like)
    beta, th = as_like(beta, like), as_like(th, like)
    a = as_like(a_out[t, b, n], like) if adapt else as_like(0.0, like)
    theta = effective_threshold(th, beta, a, adapt)
    membrane = as_like(v_out[t, b, n], like)
    sg = surrogate_grad(code, membrane - theta, as_like(slope, like), like)
    # the state before the step: DELAYED records it; the others record the membrane after
    # the test, which the next step starts from (SAME_STEP: after its reset)
    if timing == DELAYED:
        v = membrane
        s = s_out[t, b, n]
    elif t == 0:
        v = as_like(v0[b, n], like)
        s = s0[b, n]
    else:
        v = as_like(v_out[t - 1, b, n], like)
        s = s_out[t - 1, b, n]
        if timing == SAME_STEP:
            a_prev = as_like(a_out[t - 1, b, n], like) if adapt else as_like(0.0, like)
            v = reset_membrane(v, s, effective_threshold(th, beta, a_prev, adapt), reset)
    i = as_like(i_out[t, b, n], like) if syn else as_like(0.0, like)
    return neuron_step_grad(like, v, s, i, a, s_out[t, b, n], theta, sg, alpha, alpha_syn, rho, beta,
                            reset, timing, syn, adapt, gz, gm, gv, gs, gi, ga)


def compiled(compile_fn, compiled_surrogate_grad, compiled_as_like):
    """``(neuron_step, neuron_grad_at)`` compiled by ``compile_fn`` (Numba's inline ``njit`` or
    a CUDA device function), with their calls to the helpers above bound to the helpers'
    compiled versions and to the target's ``surrogate_grad`` and ``as_like``: one place for
    both twins."""
    def bind(fn, **helpers):
        return compile_fn(bind_helpers(fn, **helpers))
    theta = bind(effective_threshold)
    reset = bind(reset_membrane)
    step = bind(neuron_step, effective_threshold=theta, reset_membrane=reset)
    step_grad = bind(neuron_step_grad, as_like=compiled_as_like)
    grad_at = bind(neuron_grad_at, effective_threshold=theta, reset_membrane=reset, as_like=compiled_as_like,
                   surrogate_grad=compiled_surrogate_grad, neuron_step_grad=step_grad)
    return step, grad_at
