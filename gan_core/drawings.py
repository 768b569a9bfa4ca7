"""What a session draws of its run: samples of the current G, its latent walks and interpolations,
D's advice, the timelapse of the grid, the checkpoint's bytes and the metrics as CSV.

The functions that take a Trainer run on the session's worker, between two steps, through
`TrainingSession.look(fn)` (they only read the trainer); they return tensors or arrays, which the
caller encodes (render.py), so the trainer waits for G's forward passes only, never for a PNG or
GIF encoder.
"""
from __future__ import annotations

import csv
import dataclasses
import io
from typing import Any

import numpy as np
import torch

from . import advice, checkpoint, render, sampling
from .config import ConfigError
from .i18n import msg
from .sampling import SamplingSettings
from .trainer import Trainer


# -- drawings of G (on the worker) -----------------------------------------------------------------
def samples(t: Trainer, s: SamplingSettings) -> torch.Tensor:
    """s.n images (n, 1, 28, 28) from G's EMA, drawn as the sampling settings say."""
    return t.generate(sampling.sample_latent(s.n, t.spec.latent_dim, s))


def digit_samples(t: Trainer, digit: int, s: SamplingSettings) -> torch.Tensor:
    """s.n images (n, 1, 28, 28) of `digit` from a conditional G's EMA."""
    if not t.spec.conditional:
        raise ConfigError(msg("this model is not conditional: turn on Conditional and Reset"))
    return t.generate(sampling.sample_latent(s.n, t.spec.latent_dim, s), sampling.digit_labels(s.n, digit))


def interpolation(t: Trainer, seed_a: int, seed_b: int, pos: float, steps: int, method: str,
                  digit: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(steps images from seed_a's z to seed_b's, the one image at `pos`); a conditional G draws
    `digit` all along the path, so only z moves."""
    za, zb = (sampling.sample_latent(1, t.spec.latent_dim, SamplingSettings(seed=k))[0] for k in (seed_a, seed_b))
    y = sampling.digit_labels(steps, digit)                                 # checked, conditional or not
    y = y if t.spec.conditional else None
    f = sampling.slerp if method == "slerp" else sampling.lerp
    one = f(za, zb, pos).unsqueeze(0)                                       # (1, latent_dim)
    return (t.generate(sampling.interpolation_path(za, zb, steps, method), y),
            t.generate(one, None if y is None else y[:1]))


def latent_walk(t: Trainer, mode: str, seed: int, frames: int, radius: float, n: int) -> list[np.ndarray]:
    """The fixed grid's first n cells along sampling.latent_walk, one (H, W) uint8 mosaic a frame."""
    z0 = t.fixed_z[:n].cpu()                                                # (n, latent_dim)
    y = t.fixed_y[:n] if t.spec.conditional else None
    return [render.grid_array(t.generate(z, y), nrow=6) for z in sampling.latent_walk(z0, mode, seed, frames, radius)]


# -- files out ---------------------------------------------------------------------------------------
def metrics_csv(columns: dict[str, list[float]]) -> str:
    """Step metrics (name -> column) as CSV: a header row, then one row per logged step."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    w.writerows(zip(*columns.values()))
    return buf.getvalue()


# -- a session's drawings -----------------------------------------------------------------------------
class Drawings:
    """What a session draws of its run (TrainingSession is one): the functions above run on its worker
    through its `look` (they only read the trainer, between two steps), and their tensors are encoded
    here, on the caller's thread; `timelapse_gif` reads its `frames()`, `metrics_csv` its `snapshot()`."""

    def metrics_csv(self) -> str:
        """The step metrics as published (snapshot().history) as CSV."""
        return metrics_csv(self.snapshot().history)

    def checkpoint_bytes(self) -> bytes:
        return self.look(checkpoint.to_bytes)

    def sample_png(self, s: SamplingSettings, scale: int = 2) -> bytes:
        """A grid of s.n samples from the current G (EMA), drawn as the sampling settings say."""
        return render.png(self.look(samples, s), scale=scale)

    def sample_digit(self, digit: int, n: int = 16, s: SamplingSettings | None = None) -> torch.Tensor:
        """n images (n, 1, 28, 28) of the requested digit from a conditional G (EMA)."""
        return self.look(digit_samples, digit, dataclasses.replace(s or SamplingSettings(), n=n))

    def sample_digit_png(self, digit: int, n: int = 16, s: SamplingSettings | None = None,
                         scale: int = 2) -> bytes:
        return render.png(self.sample_digit(digit, n, s), scale=scale)

    def advice_pngs(self, scale: int = 1) -> dict[str, Any]:
        """D's advice now (advice.py), drawn: "grid" and "real" as (PNG bytes, |∂L/∂x| of full colour),
        with the step and the loss it was computed at."""
        a = self.look(advice.compute)
        return {"step": a.step, "loss": a.loss, "grid": render.advice_png(a.images, a.grads, nrow=8, scale=scale),
                "real": render.advice_png(a.real, a.real_grads, nrow=len(a.real), scale=scale)}

    def interpolation_png(self, seed_a: int, seed_b: int, t: float, steps: int = 9,
                          method: str = "slerp", scale: int = 2, digit: int = 0) -> tuple[bytes, bytes]:
        """(the strip of `steps` images from seed_a to seed_b, the single image at position t)."""
        strip, one = self.look(interpolation, seed_a, seed_b, t, steps, method, digit)
        return render.png(strip, nrow=steps, scale=scale), render.png(one, scale=scale * 3)

    def latent_walk_gif(self, mode: str = "direction", seed: int = 0, frames: int = 24,
                        radius: float = 3.0, ms_per_frame: int = 100, n: int = 36) -> bytes:
        """The fixed grid's first n cells animated on the live G (EMA) along sampling.latent_walk."""
        return render.gif(self.look(latent_walk, mode, seed, frames, radius, n), ms_per_frame, scale=2)

    def timelapse_gif(self, ms_per_frame: int = 150) -> bytes | None:
        """The stored fixed-noise grids, oldest first, as a looping GIF; None before any frame."""
        frames = [mosaic for _, mosaic in self.frames()]
        return render.gif(frames, ms_per_frame=ms_per_frame) if frames else None
