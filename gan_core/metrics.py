"""How good are a generator's digits? Measured with the digit judge (judge.py), never trained on.

quality_report() gives, for N generated images:
  confident_share  share the judge reads with max probability > 0.9 (legible digits)
  histogram        share of each predicted digit; min_digit_share is its smallest (mode collapse)
  fid              Fréchet distance in judge features to the 1,000 held-out real digits
  fid_real         the same distance from 1,000 train-split real digits: what real data scores
  fid_ratio        fid / fid_real, so the bar does not depend on the judge's feature scale
  near_copies      share of samples within pixel distance 1.0 of a training image (memorization)
The bar (QUALITY_BAR) is calibrated for N = 1,000: the Fréchet distance shrinks as N grows.
"""
from __future__ import annotations

import functools
import threading

import numpy as np
import torch

from . import data, judge

CONFIDENT = 0.9        # max class probability above which a sample counts as a legible digit
REFERENCE_N = 1000     # real digits on each side of fid_real
QUALITY_BAR = dict(confident_share=0.80, min_digit_share=0.02, fid_ratio=7.0, near_copies=0.05)
AT_LEAST = ("confident_share", "min_digit_share")  # the other bars are ceilings


def mean_cov(feats) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean (F,) and unbiased covariance (F, F) of a feature set (N, F), in float64: the Gaussian
    that frechet_from_stats compares."""
    x = torch.as_tensor(np.asarray(feats) if not torch.is_tensor(feats) else feats).detach().cpu().double()
    x = x.reshape(x.shape[0], -1)                       # (N, F)
    mu = x.mean(dim=0)                                  # (F,)
    centered = x - mu
    return mu, centered.T @ centered / (x.shape[0] - 1)  # (F, F), unbiased like np.cov


def _sqrt_psd(s: torch.Tensor) -> torch.Tensor:
    # symmetric square root; eigenvalues a hair below 0 are round-off of a PSD matrix
    w, v = torch.linalg.eigh(s)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_from_stats(mu_a: torch.Tensor, cov_a: torch.Tensor,
                       mu_b: torch.Tensor, cov_b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 sqrt(S_a S_b)), from means (F,) and covariances (F, F)."""
    mu_a, cov_a, mu_b, cov_b = (t.double() for t in (mu_a, cov_a, mu_b, cov_b))
    root_a = _sqrt_psd(cov_a)
    # sqrt(S_a) S_b sqrt(S_a) is symmetric PSD with the eigenvalues of S_a S_b, so
    # tr sqrt(S_a S_b) = sum of the square roots of its eigenvalues (no non-symmetric sqrtm needed)
    middle = root_a @ cov_b @ root_a
    tr_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    d = ((mu_a - mu_b) ** 2).sum() + cov_a.trace() + cov_b.trace() - 2 * tr_sqrt
    return max(d.item(), 0.0)  # exact zero can come out as -1e-12


def _flat_pixels(images) -> torch.Tensor:
    return judge.to_input(images).reshape(-1, 784)  # (N, 784) float in [0, 1]


def nearest_distance(samples, train_images, *, chunk: int = 256, train_chunk: int = 8192) -> torch.Tensor:
    """Pixel L2 distance (N,) from each sample to its nearest training image, in [0, 1] pixel units."""
    x, train = _flat_pixels(samples), _flat_pixels(train_images)  # (N, 784), (M, 784)
    best = torch.full((x.shape[0],), float("inf"))
    # blocks of at most chunk x train_chunk distances (8 MB), however large N and M are
    for i in range(0, x.shape[0], chunk):
        for j in range(0, train.shape[0], train_chunk):
            d = torch.cdist(x[i:i + chunk], train[j:j + train_chunk])  # (chunk, train_chunk)
            best[i:i + chunk] = torch.minimum(best[i:i + chunk], d.min(dim=1).values)
    return best


def near_copy_share(samples, train_images, threshold: float = 1.0) -> float:
    """Share of samples whose nearest training image lies within pixel L2 distance `threshold`."""
    if len(samples) == 0:
        return 0.0
    return (nearest_distance(samples, train_images) < threshold).double().mean().item()


_reference_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _cached_reference() -> dict:
    digits, _ = data.load("bundled")
    train_idx, test_idx = data.held_out_split(digits)
    mu, cov = mean_cov(judge.predict_with_features(digits.images[test_idx])[1])
    real = judge.predict_with_features(digits.images[train_idx[:REFERENCE_N]])[1]
    return dict(mu=mu, cov=cov, fid_real=frechet_from_stats(*mean_cov(real), mu, cov))


def reference() -> dict:
    """Judge-feature mean and covariance of the 1,000 held-out digits, and fid_real; once per process."""
    with _reference_lock:
        return _cached_reference()


def quality_report(samples, train_images=None) -> dict:
    """The quality of N generated images (N, 28, 28) or (N, 1, 28, 28) in [0, 1]; see the module doc.

    near_copies compares with `train_images`, by default the bundled digits the GAN trains on.
    """
    probs, feats = judge.predict_with_features(samples)  # (N, 10), (N, 128)
    if probs.shape[0] < 2:
        raise ValueError("quality_report needs at least 2 samples (a covariance)")
    histogram = torch.bincount(probs.argmax(dim=1), minlength=judge.N_CLASSES).double() / probs.shape[0]
    ref = reference()
    fid = frechet_from_stats(*mean_cov(feats), ref["mu"], ref["cov"])
    if train_images is None:
        train_images = data.load("bundled")[0].images
    return dict(
        n=probs.shape[0],
        confident_share=(probs.max(dim=1).values > CONFIDENT).double().mean().item(),
        histogram=histogram.tolist(),
        min_digit_share=histogram.min().item(),
        fid=fid,
        fid_real=ref["fid_real"],
        fid_ratio=fid / ref["fid_real"],
        near_copies=near_copy_share(samples, train_images),
    )


def legibility(images) -> tuple[float, int]:
    """The share of N images (N, 28, 28) or (N, 1, 28, 28) the judge reads with confidence over
    CONFIDENT, and how many different digits (0..10) those legible ones are read as."""
    probs = judge.predict(images)                                   # (N, 10)
    confident = probs.max(dim=1).values > CONFIDENT                 # (N,)
    covered = probs.argmax(dim=1)[confident].unique().numel()
    return confident.double().mean().item(), covered


def passes(report: dict) -> dict[str, bool]:
    """Each bar of QUALITY_BAR -> whether the report clears it (floors: >=, ceilings: <=)."""
    return {key: report[key] >= bar if key in AT_LEAST else report[key] <= bar
            for key, bar in QUALITY_BAR.items()}
