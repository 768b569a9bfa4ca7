"""What goes into and out of a session besides training: a Trainer built from a spec or a checkpoint
file, drawings of the current G, the metrics as CSV.

The functions that take a Trainer run on the session's worker, between two steps, through
`TrainingSession.look(fn)` (they only read the trainer); they return tensors or arrays, which the
caller encodes (render.py), so the trainer waits for G's forward passes only, never for a PNG or
GIF encoder.
"""
from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np
import torch

from . import checkpoint, config, data, render, sampling
from .config import ConfigError, LiveSettings, ModelSpec
from .data import Digits
from .i18n import msg
from .sampling import SamplingSettings
from .trainer import Trainer


# -- trainers in ------------------------------------------------------------------------------------
def build(spec: ModelSpec, settings: LiveSettings, digits: Digits | None = None) -> tuple[Trainer, str | None]:
    """A new Trainer for spec on `digits` (default: the data the spec names), and a notice when the
    named data was not available and the bundled digits stand in."""
    notice = None
    if digits is None:
        digits, notice = data.load(spec.data)
        if notice:
            spec = dataclasses.replace(spec, data="bundled")
    return Trainer(spec, settings, digits=digits), notice


def from_checkpoint(blob: bytes) -> tuple[Trainer, str | None]:
    """A Trainer continued from a checkpoint file's bytes (validated: CheckpointError). Its data is the
    named set when this machine has it, else the bundled digits, with a notice."""
    ckpt = checkpoint.read(blob)
    source = ckpt["spec"]["data"] if ckpt["spec"]["data"] in config.DATA_SOURCES else "bundled"
    digits, notice = data.load(source)
    return checkpoint.restore(ckpt, digits, data="bundled" if notice else source), notice


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
