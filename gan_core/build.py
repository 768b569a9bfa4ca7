"""Trainers built for a session: a new one from a spec (and the data it names, or data given), or
one continued from a checkpoint file's bytes.
"""
from __future__ import annotations

import dataclasses

from . import checkpoint, config, data
from .config import LiveSettings, ModelSpec
from .data import Digits
from .trainer import Trainer


def trainer(spec: ModelSpec, settings: LiveSettings, digits: Digits | None = None) -> tuple[Trainer, str | None]:
    """A new Trainer for spec on `digits` (default: the data the spec names), and a notice when the
    named data was not available and the bundled digits stand in."""
    notice = None
    if digits is None:
        digits, notice = data.load(spec.data)
        if notice:
            spec = dataclasses.replace(spec, data="bundled")
    return Trainer(spec, settings, digits=digits), notice


def again(t: Trainer, spec: ModelSpec | None = None, settings: LiveSettings | None = None,
          digits: Digits | None = None) -> tuple[Trainer, str | None]:
    """A new Trainer in place of t (a reset), for `spec` and `settings` (by default t's), on `digits` if
    given; else on t's data while the spec names the same data (own images stay), else the data named."""
    new = spec or t.spec
    keep = digits if digits is not None else t.digits if new.data == t.spec.data else None
    return trainer(new, settings or t.settings, keep)


def from_checkpoint(blob: bytes) -> tuple[Trainer, str | None]:
    """A Trainer continued from a checkpoint file's bytes (validated: CheckpointError). Its data is the
    named set when this machine has it, else the bundled digits, with a notice."""
    ckpt = checkpoint.read(blob)
    source = ckpt["spec"]["data"] if ckpt["spec"]["data"] in config.DATA_SOURCES else "bundled"
    digits, notice = data.load(source)
    return checkpoint.restore(ckpt, digits, data="bundled" if notice else source), notice
