"""Looking inside a run without steering it: D's output histograms, live quality (each a session's
probe: TrainingSession.add_probe). The weight-update ratios come with the steps (trainer.one_step).

Everything here runs on the session's worker between two steps (never inside Trainer.step) and
leaves the run as it was: its own random generator (the trainer's stream stays reproducible), no
gradients, and BatchNorm running statistics restored after a forward pass in training mode.
"""
from __future__ import annotations

import contextlib
import functools
import threading

import torch

from . import data, judge, metrics, models
from .trainer import Trainer

HIST_BINS = 20        # bins of D's outputs over [0, 1]
GAME_BATCH = 256      # real and fake images per histogram
QUALITY_N = 256       # samples per live quality report: ~0.4 s on one busy core (1,000 took 1.9 s)
NEAR_COPY_POOL = 10_000  # training images a sample is compared with (all of the bundled 5k)


# -- the game: what D says to real and to generated images ------------------------------------------
def output_histogram(logits: torch.Tensor, bins: int = HIST_BINS) -> list[int]:
    """Counts of sigmoid(logits) in `bins` equal bins over [0, 1]; they sum to len(logits)."""
    p = torch.sigmoid(logits.detach().float().cpu())                 # (B,)
    idx = (p * bins).long().clamp(0, bins - 1)                      # 1.0 falls in the last bin
    return torch.bincount(idx, minlength=bins).tolist()


@contextlib.contextmanager
def _buffers_kept(*nets: torch.nn.Module):
    # a forward pass in training mode updates BatchNorm running stats: put them back afterwards
    saved = [[b.detach().clone() for b in net.buffers()] for net in nets]
    try:
        yield
    finally:
        with torch.no_grad():
            for net, bufs in zip(nets, saved):
                for b, old in zip(net.buffers(), bufs):
                    b.copy_(old)


@torch.no_grad()
def game(t: Trainer, gen: torch.Generator, n: int = GAME_BATCH, bins: int = HIST_BINS) -> dict:
    """Histograms of D(x) on n real images and of D(G(z)) on n fakes from the live G, as in training."""
    x, y_real = t.real_batch(n, gen)
    z = torch.randn(n, t.spec.latent_dim, generator=gen)
    y_fake = torch.randint(models.N_CLASSES, (n,), generator=gen)
    with _buffers_kept(t.G, t.D):
        fake = t.G(z.to(t.device), y_fake.to(t.device))             # (n, 1, 28, 28), training mode like update_d
        real_logit = t.D(x.to(t.device), y_real.to(t.device))       # (n,)
        fake_logit = t.D(fake, y_fake.to(t.device))                 # (n,)
    return {"real": output_histogram(real_logit, bins), "fake": output_histogram(fake_logit, bins)}


# -- quality: what the digit judge makes of G's samples ---------------------------------------------
def _pool(images: torch.Tensor) -> torch.Tensor:
    # a fixed subset keeps the near-copy search fast on 60k-image data sets
    if len(images) <= NEAR_COPY_POOL:
        return images
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:NEAR_COPY_POOL]]


_baseline_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _real_fid(n: int) -> float:
    digits, _ = data.load("bundled")
    train_idx, _ = data.held_out_split(digits)
    feats = judge.predict_with_features(digits.images[train_idx[:n]])[1]
    ref = metrics.reference()
    return metrics.frechet_from_stats(*metrics.mean_cov(feats), ref["mu"], ref["cov"])


def real_fid(n: int) -> float:
    """The Fréchet distance n real (train-split) digits score: the bar for n samples, since the
    distance is biased upward for small n."""
    with _baseline_lock:
        return _real_fid(n)


def diversity(images: torch.Tensor, n: int = 128) -> float:
    """Mean pixel L2 distance between pairs of the first n images (a collapsed G scores near 0)."""
    x = images[:n].reshape(min(n, len(images)), -1).float()         # (n, 784)
    d = torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")   # exact 0 for copies
    return float(d.sum() / max(1, d.numel() - len(x)))


def quality(t: Trainer, gen: torch.Generator, n: int = QUALITY_N) -> dict:
    """metrics.quality_report of n samples of G's EMA, plus the n-sample Fréchet bar and diversity."""
    z = torch.randn(n, t.spec.latent_dim, generator=gen)
    y = torch.randint(models.N_CLASSES, (n,), generator=gen) if t.spec.conditional else None
    samples = t.generate(z, y)                                      # (n, 1, 28, 28) on the CPU
    report = metrics.quality_report(samples, _pool(t.digits.images))
    real = real_fid(n)
    x, _ = t.real_batch(128, gen)
    report.update(fid_real_n=real, diversity=diversity(samples) / max(diversity(x.cpu()), 1e-9))
    return report
