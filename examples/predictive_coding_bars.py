"""A predictive-coding model learns to generate the "bars" images.

Latent rates predict Bernoulli pixel logits; a BernoulliErrorCell scores the prediction
and its error drives both inference (latent rates) and Hebbian learning (weights).
Run: python examples/predictive_coding_bars.py
"""
from snnumba.tasks.bars import train_bars

result = train_bars(n_samples=1000, size=8, n_latent=20, epochs=30, batch_size=100, rng=0, progress=True)
ll = result["log_likelihood"]
for epoch in (0, 1, 2, 5, 10, 20, len(ll) - 1):
    print(f"epoch {epoch:3d}: held-out log-likelihood {ll[epoch]:8.2f} nats per image")
print(f"final reconstruction error: {100 * result['reconstruction_error']:.2f}% of pixels")
