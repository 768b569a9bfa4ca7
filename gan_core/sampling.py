"""How the latent space is sampled for viewing: distribution, temperature, truncation, seed,
interpolation, and the fixed grid that stays the same across steps so one watches the same
digits form.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .config import ConfigError
from .i18n import msg

DISTRIBUTIONS = ("normal", "uniform")
TRUNCATION_MODES = ("resample", "clip")


@dataclass(frozen=True)
class SamplingSettings:
    distribution: str = "normal"   # normal N(0, 1), or uniform U(-√3, √3) of the same variance
    temperature: float = 1.0       # scale of z; < 1 trades variety for typical digits
    truncation: float = 0.0        # |z_i| beyond this is resampled or clipped; 0 = off
    truncation_mode: str = "resample"
    seed: int = 0
    n: int = 64

    def __post_init__(self):
        if self.distribution not in DISTRIBUTIONS:
            raise ConfigError(msg("{name} must be one of {options}; got {value!r}", name="distribution",
                                  options=", ".join(DISTRIBUTIONS), value=self.distribution))
        if self.truncation_mode not in TRUNCATION_MODES:
            raise ConfigError(msg("{name} must be one of {options}; got {value!r}", name="truncation_mode",
                                  options=", ".join(TRUNCATION_MODES), value=self.truncation_mode))
        for name, low, high in (("temperature", 0.0, 3.0), ("truncation", 0.0, 5.0)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(msg("{name} must be between {low:g} and {high:g}, got {value!r}", name=name,
                                      low=low, high=high, value=value))
        for name, low, high in (("seed", 0, 2**31 - 1), ("n", 1, 1024)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(msg("{name} must be a whole number between {low} and {high}, got {value!r}",
                                      name=name, low=low, high=high, value=value))


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
    return torch.arange(n) % 10
