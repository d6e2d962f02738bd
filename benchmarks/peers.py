"""The PyTorch peers of ``compare.py``: each workload written for plain torch, snnTorch,
SpikingJelly and inferno-ai, on NumPy inputs that ``compare.py`` makes once for everyone.

Every builder takes the shared NumPy arrays, copies them into tensors once (outside the
timing) and returns a callable that runs one timed unit of work. Peers that are not
importable are reported by :func:`import_peers` and skipped.

Models. Plain torch is the sound-localization seed's own code (its ``SurrGradSpike``,
LIF update and leaky readout) with the time loop over ``h.unbind(0)``: the same equations
as snnumba's ``LIF``/``LeakyReadout``, so its first loss is checked against snnumba's.
snnTorch ``Leaky`` and SpikingJelly ``LIFNode`` run their own neuron models with the same
decay (``beta = alpha``; SpikingJelly ``tau = 1 / (1 - alpha)`` with ``decay_input=False``),
threshold 1, reset to zero and a sigmoid surrogate of slope 5; their readouts are a
non-resetting ``Leaky`` (snnTorch) and ``NonSpikingLIFNode`` (SpikingJelly). The input
projections run over all time steps in one product, as the seed does.
"""
import importlib
import importlib.metadata

import numpy as np

#: peer name -> (module to import, distribution name for its version)
PEERS = {
    "plain torch": ("torch", "torch"),
    "snnTorch": ("snntorch", "snntorch"),
    "SpikingJelly": ("spikingjelly.activation_based.neuron", "spikingjelly"),
    "inferno-ai": ("inferno.learn", "inferno-ai"),
}
#: the peers of the recurrent training step (compare.py's recurrent workload)
RECURRENT_PEERS = {"snnTorch": ("snntorch", "snntorch"), "Norse": ("norse.torch", "norse")}
INSTALL_HINT = ("pip install torch==2.13.0 snntorch spikingjelly inferno-ai "
                "(in a separate venv; see compare.py's docstring)")


def import_peers(peers=PEERS):
    """``(versions, missing)``: ``{peer: version}`` of the importable ``peers`` and
    ``{peer: reason}`` of the others."""
    versions, missing = {}, {}
    for name, (module, dist) in peers.items():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # the peer itself is absent, or it is broken by a missing dependency
            missing[name] = "not installed" if exc.name == module.split(".")[0] else f"needs {exc.name}"
            continue
        except Exception as exc:
            missing[name] = f"fails on import: {type(exc).__name__}: {exc}"
            continue
        try:
            versions[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "?"
    return versions, missing


def _torch():
    import torch
    return torch


def _spike_fn(torch, slope=5.0):
    """The seed's ``SurrGradSpike``: Heaviside forward, sigmoid derivative backward."""
    class SurrGradSpike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, inp):
            ctx.save_for_backward(inp)
            out = torch.zeros_like(inp)
            out[inp > 0] = 1.0
            return out

        @staticmethod
        def backward(ctx, grad_output):
            inp, = ctx.saved_tensors
            s = torch.sigmoid(slope * inp)
            return grad_output * slope * s * (1 - s)
    return SurrGradSpike.apply


# --- workload 1: the training step ------------------------------------------------------
def train_step(peer, x, labels, w1, w2, alpha, lr, device="cpu"):
    """One training step (forward, readout NLL, backward, Adam) of ``peer``; returns a
    callable giving that step's loss.

    ``x`` is the spike input ``[T, B, N_in]`` (0/1), ``w1 [N_in, H]`` and ``w2 [H, C]`` the
    initial weights (snnumba's layout), ``alpha`` the membrane decay per step.
    """
    torch = _torch()
    nn = torch.nn
    xs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
    y = torch.from_numpy(np.asarray(labels, np.int64)).to(device)
    params = [nn.Parameter(torch.from_numpy(np.array(w, np.float32)).to(device)) for w in (w1, w2)]
    T, B, _ = x.shape
    H, C = w2.shape
    alpha = float(alpha)
    if peer == "plain torch":
        spike = _spike_fn(torch)

        def output():
            W1, W2 = params
            h = xs @ W1
            v = torch.zeros(B, H, device=device)
            s = torch.zeros(B, H, device=device)
            s_rec = [s]
            for h_t in h.unbind(0)[:-1]:
                new_v = (alpha * v + h_t) * (1 - s)  # zero after a spike
                s = spike(v - 1)                      # threshold 1
                v = new_v
                s_rec.append(s)
            h2 = torch.stack(s_rec) @ W2
            vo = torch.zeros(B, C, device=device)
            v_rec = [vo]
            for h_t in h2.unbind(0)[:-1]:
                vo = alpha * vo + h_t
                v_rec.append(vo)
            return torch.stack(v_rec).sum(0)
    elif peer == "snnTorch":
        import snntorch
        from snntorch import surrogate
        hidden = snntorch.Leaky(beta=alpha, threshold=1.0, spike_grad=surrogate.sigmoid(slope=5),
                                reset_mechanism="zero").to(device)
        readout = snntorch.Leaky(beta=alpha, threshold=1.0, reset_mechanism="none").to(device)

        def output():
            W1, W2 = params
            h = xs @ W1
            mem = hidden.init_leaky()
            spikes = []
            for h_t in h.unbind(0):
                spk, mem = hidden(h_t, mem)
                spikes.append(spk)
            h2 = torch.stack(spikes) @ W2
            mem = readout.init_leaky()
            total = 0
            for h_t in h2.unbind(0):
                _, mem = readout(h_t, mem)
                total = total + mem
            return total
    elif peer == "SpikingJelly":
        from spikingjelly.activation_based import functional, neuron, surrogate
        tau = 1.0 / (1.0 - alpha)
        hidden = neuron.LIFNode(tau=tau, decay_input=False, v_threshold=1.0, v_reset=0.0,
                                surrogate_function=surrogate.Sigmoid(alpha=5.0), step_mode="m").to(device)
        readout = neuron.NonSpikingLIFNode(tau=tau, decode="mean-mem").to(device)

        def output():
            W1, W2 = params
            functional.reset_net(hidden)
            # NonSpikingLIFNode charges v + (x - v) / tau: scale x by tau for alpha v + x
            return readout((hidden(xs @ W1) @ W2) * tau) * T
    else:
        raise ValueError(f"no training step for peer {peer!r}")
    opt = torch.optim.Adam(params, lr=lr)

    def step():
        loss = torch.nn.functional.cross_entropy(0.01 * output(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


# --- issue #9: the recurrent training step ---------------------------------------------
def recurrent_step(peer, x, labels, weights, decays, dt, taus, lr, slope):
    """One training step of ``peer``'s recurrent current-based LIF network (forward, NLL of
    the readouts' maximum over time, backward, Adam); returns a callable giving the loss.

    ``weights`` are snnumba's initial ``(W_in [N_in, H], V [H, H] as [pre, post], W_out [H, C])``,
    ``decays`` the per-step ``(alpha_syn, alpha_mem)``, ``taus`` ``(tau_syn, tau_mem)`` in
    seconds (Norse takes time constants), ``slope`` the fast-sigmoid surrogate's.
    """
    torch = _torch()
    nn = torch.nn
    xs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    y = torch.from_numpy(np.asarray(labels, np.int64))
    w_in, v_rec, w_out = (np.array(w, np.float32) for w in weights)
    W_in, W_out = nn.Parameter(torch.from_numpy(w_in)), nn.Parameter(torch.from_numpy(w_out))
    H, C = w_out.shape
    alpha_syn, alpha_mem = decays
    if peer == "snnTorch":
        import snntorch
        from snntorch import surrogate
        hidden = snntorch.RSynaptic(alpha=alpha_syn, beta=alpha_mem, linear_features=H, threshold=1.0,
                                    spike_grad=surrogate.fast_sigmoid(slope=slope), reset_mechanism="subtract")
        with torch.no_grad():  # Linear computes s @ weight.T: snnumba's V [pre, post] transposed
            hidden.recurrent.weight.copy_(torch.from_numpy(v_rec.T))
            hidden.recurrent.bias.zero_()
        readout = snntorch.Leaky(beta=alpha_mem, threshold=1.0, reset_mechanism="none")
        params = [W_in, W_out, *hidden.parameters()]

        def output():
            h = xs @ W_in
            spk, syn, mem = hidden.init_rsynaptic()
            spikes = []
            for h_t in h.unbind(0):
                spk, syn, mem = hidden(h_t, spk, syn, mem)
                spikes.append(spk)
            h2 = torch.stack(spikes) @ W_out
            vo = readout.init_leaky()
            v_rec_out = []
            for h_t in h2.unbind(0):
                _, vo = readout(h_t, vo)
                v_rec_out.append(vo)
            return torch.stack(v_rec_out).max(0).values
    elif peer == "Norse":
        import norse.torch as norse
        p = norse.LIFParameters(tau_syn_inv=torch.tensor(1.0 / taus[0]), tau_mem_inv=torch.tensor(1.0 / taus[1]),
                                v_th=torch.tensor(1.0), v_reset=torch.tensor(0.0), method="super",
                                alpha=torch.tensor(slope))
        hidden = norse.LIFRecurrent(x.shape[2], H, p=p, dt=dt)
        with torch.no_grad():  # Norse's weights are [out, in]
            hidden.input_weights.copy_(torch.from_numpy(w_in.T))
            hidden.recurrent_weights.copy_(torch.from_numpy(v_rec.T))
        params = [W_out, *hidden.parameters()]

        def output():
            spikes, _ = hidden(xs)
            h2 = spikes @ W_out
            vo = torch.zeros(h2.shape[1], C)
            v_rec_out = []
            for h_t in h2.unbind(0):
                vo = alpha_mem * vo + h_t
                v_rec_out.append(vo)
            return torch.stack(v_rec_out).max(0).values
    else:
        raise ValueError(f"no recurrent training step for peer {peer!r}")
    opt = torch.optim.Adam(params, lr=lr)

    def step():
        loss = torch.nn.functional.cross_entropy(output(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


# --- workload 2: LIF forward in evaluation mode ---------------------------------------
def lif_forward(peer, h, alpha):
    """A callable running ``peer``'s LIF over the input current ``h[T, B, N]`` without
    gradients; it returns the spikes ``[T, B, N]``."""
    torch = _torch()
    ht = torch.from_numpy(np.ascontiguousarray(h, dtype=np.float32))
    T, B, N = h.shape
    alpha = float(alpha)
    if peer == "plain torch":
        def run():   # the seed's update, in place, into a preallocated output
            with torch.no_grad():
                out = torch.empty_like(ht)
                v = torch.zeros(B, N)
                s = torch.zeros(B, N)
                for t in range(T):
                    out[t] = s
                    s_next = (v > 1.0).float()
                    v.mul_(alpha).add_(ht[t]).mul_(1 - s)
                    s = s_next
                return out
    elif peer == "snnTorch":
        import snntorch
        lif = snntorch.Leaky(beta=alpha, threshold=1.0, reset_mechanism="zero")

        def run():
            with torch.no_grad():
                out = torch.empty_like(ht)
                mem = lif.init_leaky()
                for t in range(T):
                    out[t], mem = lif(ht[t], mem)
                return out
    elif peer == "SpikingJelly":
        from spikingjelly.activation_based import functional, neuron
        lif = neuron.LIFNode(tau=1.0 / (1.0 - alpha), decay_input=False, v_threshold=1.0, v_reset=0.0,
                             step_mode="m")

        def run():
            with torch.no_grad():
                functional.reset_net(lif)
                return lif(ht)
    else:
        raise ValueError(f"no LIF forward for peer {peer!r}")
    return run


# --- workload 5: MaxRateClassifier.forward with labels -----------------------------------
def max_rate_forward(spikes, labels, num_classes, as_float32):
    """A callable running inferno-ai's ``MaxRateClassifier.forward(spikes, labels)`` on the
    bool spikes ``[T, B, N]`` (or a float32 copy of them, made here, outside the timing)."""
    torch = _torch()
    from inferno.learn import MaxRateClassifier
    data = spikes.astype(np.float32) if as_float32 else spikes
    inputs = torch.from_numpy(np.ascontiguousarray(data))
    targets = torch.from_numpy(np.asarray(labels, np.int64))
    clf = MaxRateClassifier(spikes.shape[2], num_classes)
    return lambda: clf.forward(inputs, targets)
