"""How the latent space is sampled for viewing: distribution, temperature, truncation, seed,
interpolation, and the fixed grid that stays the same across steps so one watches the same
digits form.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import config
from .config import ConfigError, SEED_MAX, _field
from .i18n import msg

DISTRIBUTIONS = ("normal", "uniform")
TRUNCATION_MODES = ("resample", "clip")
WALKS = ("direction", "interpolation")
N_DIGITS = 10


@dataclass(frozen=True)
class SamplingSettings:
    distribution: str = _field("normal", DISTRIBUTIONS)  # normal N(0, 1), or uniform U(-√3, √3) of the same variance
    temperature: float = _field(1.0, (0.0, 3.0))          # scale of z; < 1 trades variety for typical digits
    truncation: float = _field(0.0, (0.0, 5.0))           # |z_i| beyond this is resampled or clipped; 0 = off
    truncation_mode: str = _field("resample", TRUNCATION_MODES)
    seed: int = _field(0, (0, SEED_MAX))
    n: int = _field(64, (1, 1024))

    def __post_init__(self):
        config.check(self)


def _draw(shape: tuple[int, ...], distribution: str, gen: torch.Generator) -> torch.Tensor:
    if distribution == "uniform":
        return (torch.rand(shape, generator=gen) * 2.0 - 1.0) * math.sqrt(3.0)
    return torch.randn(shape, generator=gen)


def truncate(z: torch.Tensor, threshold: float, mode: str, distribution: str,
             gen: torch.Generator, max_rounds: int = 100) -> torch.Tensor:
    """Entries with |z_i| > threshold are clipped to ±threshold, or redrawn until inside."""
    if threshold <= 0:
        return z
    if mode == "clip":
        return z.clamp(-threshold, threshold)
    z = z.clone()
    for _ in range(max_rounds):
        outside = z.abs() > threshold
        if not outside.any():
            return z
        z[outside] = _draw((int(outside.sum()),), distribution, gen)
    return z.clamp(-threshold, threshold)  # a tiny threshold: clip the rare stragglers


def sample_latent(n: int, latent_dim: int, s: SamplingSettings = SamplingSettings()) -> torch.Tensor:
    """n latent vectors (n, latent_dim) on the CPU, reproducible from s.seed."""
    gen = torch.Generator().manual_seed(s.seed)
    z = _draw((n, latent_dim), s.distribution, gen)
    z = truncate(z, s.truncation, s.truncation_mode, s.distribution, gen)
    return z * s.temperature


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    return (1.0 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: keeps the norm a Gaussian prior expects along the path."""
    a, b = z0 / z0.norm(dim=-1, keepdim=True), z1 / z1.norm(dim=-1, keepdim=True)
    omega = torch.arccos((a * b).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    so = torch.sin(omega)
    if float(so.abs().min()) < 1e-6:  # (anti)parallel vectors: the arc is undefined, use a line
        return lerp(z0, z1, t)
    return (torch.sin((1.0 - t) * omega) / so) * z0 + (torch.sin(t * omega) / so) * z1


def interpolation_path(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """(steps, latent_dim) points from z0 to z1 inclusive."""
    f = slerp if method == "slerp" else lerp
    return torch.stack([f(z0, z1, i / max(steps - 1, 1)) for i in range(steps)])


def fixed_grid(n: int, latent_dim: int, seed: int = 0) -> torch.Tensor:
    """The fixed noise behind the live grid: the same for the whole run."""
    return torch.randn((n, latent_dim), generator=torch.Generator().manual_seed(10_000 + seed))


def grid_labels(n: int) -> torch.Tensor:
    """Labels for a conditional model's grid: each row of 8 counts 0..9 onward."""
    return torch.arange(n) % N_DIGITS


def digit_labels(n: int, digit: int | None = None) -> torch.Tensor:
    """n labels: all `digit` (0..9, else ConfigError), or the grid's 0..9 onward when None."""
    if digit is None:
        return grid_labels(n)
    if isinstance(digit, bool) or not isinstance(digit, int) or not 0 <= digit < N_DIGITS:
        raise ConfigError(msg("digit must be 0..9, got {digit!r}", digit=digit))
    return torch.full((n,), digit)


def latent_walk(z0: torch.Tensor, mode: str, seed: int, frames: int, radius: float = 3.0) -> list[torch.Tensor]:
    """A looping path of `frames` points for each row of z0 (n, latent_dim): along one shared random
    direction and back ("direction"), or out to each row's own random partner and back along a slerp
    ("interpolation")."""
    if mode not in WALKS:
        raise ConfigError(msg("mode must be direction or interpolation, got {mode!r}", mode=mode))
    gen = torch.Generator().manual_seed(seed)
    phase = torch.linspace(0, 2 * torch.pi, frames + 1)[:-1]                # one loop
    if mode == "direction":
        d = torch.randn(z0.shape[1], generator=gen)
        d = d / d.norm() * radius                                           # (latent_dim,)
        return [z0 + torch.sin(p) * d for p in phase]
    z1 = torch.randn(z0.shape, generator=gen)
    return [slerp(z0, z1, float((1 - torch.cos(p)) / 2)) for p in phase]
