"""``Trainer``: epochs of mini-batch BPTT with validation, early stopping and best weights."""
import json
import time

import numpy as np
from tqdm.auto import tqdm

from ._io import atomic_savez, load_npz, read_json
from ._threads import compute_threads
from ._validation import check_array, check_int
from .losses import readout_nll
from .network import Network


def should_stop(val_losses, epoch, patience=10):
    """The seed's early-stopping rule: past epoch ``patience`` (0-based), stop when the
    oldest of the last ``patience`` validation losses is the lowest of them."""
    recent = val_losses[-patience:]
    return bool(recent) and epoch > patience and int(np.argmin(recent)) == 0


class ArrayData:
    """Time-major inputs ``x[T, n_samples, ...]`` with targets ``y[n_samples, ...]``,
    served in batches the way ``Trainer`` expects (any object with the same ``batches``
    method works, e.g. ``tasks.sound_localization.SoundLocalizationData``)."""

    def __init__(self, x, y):
        self.x = check_array("x", x, ndim=3)
        self.y = np.asarray(y)
        if self.y.shape[0] != self.x.shape[1]:
            raise ValueError(f"'y' has {self.y.shape[0]} samples but 'x' has {self.x.shape[1]}")

    def __len__(self):
        return self.x.shape[1]

    def batches(self, batch_size, rng, shuffle=True, drop_last=True):
        n = len(self)
        order = np.random.default_rng(rng).permutation(n) if shuffle else np.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            yield self.x[:, idx], self.y[idx]


class Trainer:
    """Train a ``Network`` by backprop-through-time with analytic gradients.

    Parameters
    ----------
    network : Network
    optimizer : Adam or SGD
        Built on the same network.
    loss : callable ``(output, targets) -> (loss, grad)``
        Default: the seed's ``losses.readout_nll``.
    progress : bool
        Show a tqdm progress bar over epochs.
    report : callable ``(epoch, history)``, optional
        Called after every epoch (for logging or custom stopping by raising StopIteration).
    """

    def __init__(self, network, optimizer, loss=readout_nll, progress=True, report=None):
        if optimizer.network is not network:
            raise ValueError("'optimizer' was built for another network")
        self.network = network
        self.optimizer = optimizer
        self.loss = loss
        self.progress = progress
        self.report = report

    def _loss(self, x, y):
        out = self.network.forward(x)
        return self.loss(self.network.backend.to_host(out), y)

    def train_epoch(self, data, batch_size, rng):
        """One pass of updates over ``data``; returns the mean batch loss."""
        net = self.network.train()
        losses = []
        # one thread count for the whole epoch, data generation (parallel kernels) included
        with compute_threads():
            for x, y in data.batches(batch_size, rng, shuffle=True, drop_last=True):
                net.zero_grad()
                loss, grad = self._loss(x, y)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"training loss became {loss}; lower the learning rate")
                net.backward(grad)
                self.optimizer.step()
                losses.append(loss)
        if not losses:
            raise ValueError(f"'batch_size' of {batch_size} exceeds the {len(data)} training samples")
        return float(np.mean(losses))

    def evaluate(self, data, batch_size, rng):
        """Mean batch loss over ``data`` without updating anything."""
        self.network.eval()
        try:
            with compute_threads():
                return float(np.mean([self._loss(x, y)[0]
                                      for x, y in data.batches(batch_size, rng, shuffle=True, drop_last=True)]))
        finally:
            self.network.train()

    def fit(self, train_data, val_data=None, epochs=150, batch_size=64, rng=None,
            early_stopping=True, patience=10, restore_best=True):
        """Train for up to ``epochs`` epochs.

        Early stopping is the seed's rule: after epoch ``patience`` (0-based), stop when
        the oldest of the last ``patience`` validation losses is the lowest of them. With
        ``restore_best`` the network ends with the weights of the lowest validation loss.

        Returns
        -------
        dict with lists ``loss``, ``val_loss``, ``epoch_seconds`` and ``best_epoch``,
        ``stopped_early``.
        """
        epochs = check_int("epochs", epochs, 1)
        batch_size = check_int("batch_size", batch_size, 1)
        patience = check_int("patience", patience, 1)
        rng = np.random.default_rng(rng)
        history = {"loss": [], "val_loss": [], "epoch_seconds": [], "best_epoch": None,
                   "stopped_early": False}
        best_val, best_state = np.inf, None
        bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not self.progress)
        for epoch in bar:
            start = time.perf_counter()
            history["loss"].append(self.train_epoch(train_data, batch_size, rng))
            if val_data is not None:
                val = self.evaluate(val_data, batch_size, rng)
                history["val_loss"].append(val)
                if val < best_val:
                    best_val, history["best_epoch"] = val, epoch
                    best_state = self.network.state_dict() if restore_best else None
            history["epoch_seconds"].append(time.perf_counter() - start)
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}",
                            val_loss=f"{history['val_loss'][-1]:.4f}" if history["val_loss"] else "-")
            if self.report is not None:
                self.report(epoch, history)
            if early_stopping and should_stop(history["val_loss"], epoch, patience):
                history["stopped_early"] = True
                break
        bar.close()
        if best_state is not None:
            self.network.load_state_dict(best_state)
        return history

    def save_checkpoint(self, path, history=None, rng=None):
        """Write network, optimizer moments, ``history`` and ``rng``'s state to one ``.npz``
        (atomically, see ``Network.save``), so that training can resume exactly where it
        stopped."""
        arrays = self.network.to_arrays()
        arrays.update({f"optim:{k}": v for k, v in self.optimizer.state_dict().items()})
        extra = {"history": history, "rng": None if rng is None else rng.bit_generator.state}
        arrays["checkpoint"] = np.array(json.dumps(extra))
        arrays["kind"] = np.array("checkpoint")
        atomic_savez(path, **arrays)

    def load_checkpoint(self, path):
        """Restore what ``save_checkpoint`` wrote into this trainer's network and optimizer.

        Returns ``(history, rng)``; ``rng`` is a Generator continuing the saved stream (or
        None when none was saved). A file that is not such a checkpoint (corrupted, another
        kind, bad metadata, NaN/inf values, another architecture) raises ValueError naming
        ``path``.
        """
        data = load_npz(path, ("checkpoint",))
        extra = read_json(data, "checkpoint", path)
        saved = Network.from_arrays(data, source=str(path))
        if [type(a) for a in saved.layers] != [type(b) for b in self.network.layers]:
            raise ValueError(f"{path!s} holds a different architecture than this trainer's network")
        rng = None
        before = self.network.state_dict()  # put back if the optimizer's part is bad
        try:
            if extra.get("rng") is not None:
                rng = np.random.default_rng()
                rng.bit_generator.state = extra["rng"]
            optim_state = {k[len("optim:"):]: data[k] for k in data if k.startswith("optim:")}
            self.network.load_state_dict(saved.state_dict())
            self.optimizer.load_state_dict(optim_state)
        except (KeyError, TypeError, ValueError) as exc:
            self.network.load_state_dict(before)
            what = f"missing {exc.args[0]!r}" if isinstance(exc, KeyError) else exc
            raise ValueError(f"{path!s}: {what}") from None
        return extra.get("history"), rng
