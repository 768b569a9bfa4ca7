"""Typed settings, split by what may change while training runs and what needs a new model.

Everything a visitor or a caller can send passes through `validate()` here; the trainer trusts
what comes out.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .i18n import N_, msg

LOSSES = ("bce", "hinge", "lsgan", "wgan-gp")
ARCHS = ("mlp", "mlp_wide", "conv")
DEFAULT_ARCH = "mlp_wide"
DATA_SOURCES = ("bundled", "mnist", "fashion")  # or a folder / zip of images (see data.py)
DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("adam", "sgd", "rmsprop")   # see optimizers.py
# each optimizer's own settings among LiveSettings' fields: what a page shows beside its choice
OPTIMIZER_FIELDS = {"adam": ("beta1", "beta2"), "sgd": ("momentum",), "rmsprop": ()}
# the choices' labels (Adam and RMSprop are names, the same in Chinese)
OPTIMIZER_NAMES = {"adam": "Adam", "sgd": N_("SGD with momentum"), "rmsprop": "RMSprop"}


class ConfigError(ValueError):
    """A setting outside its allowed values; the message names the field and the range."""


SEED_MAX = 2**31 - 1   # every seed (the model's, the latent tab's, a walk's) is a whole number 0..SEED_MAX


def _field(default: Any, limits: tuple, *, page: bool = True) -> Any:
    # a field's allowed values live beside its default: (low, high) for numbers, or the tuple of
    # allowed strings; `page` says whether the page offers it (the device is the server's business)
    return dataclasses.field(default=default, metadata={"limits": limits, "page": page})


@dataclass(frozen=True)
class LiveSettings:
    """Settings the trainer applies between two steps, without a new model."""
    lr_g: float = _field(1.5e-3, (1e-6, 1e-1))     # step size of G (tuned for Adam); 7.5x DCGAN's 2e-4: a 60 s CPU run has ~3k steps
    lr_d: float = _field(1.5e-3, (1e-6, 1e-1))     # step size of D
    optimizer_g: str = _field("adam", OPTIMIZERS)  # G's update rule; lr_g is its step size whichever it is
    optimizer_d: str = _field("adam", OPTIMIZERS)  # D's; the WGAN paper trained its critic with RMSprop
    beta1: float = _field(0.5, (0.0, 0.999))       # Adam β1; 0.5 (DCGAN) damps the oscillation of the game
    beta2: float = _field(0.99, (0.0, 0.9999))     # Adam β2; 0.99 (not 0.999): Fréchet ratio 5.3 vs 5.8 over 4 seeds of 60 s
    momentum: float = _field(0.9, (0.0, 0.99))     # SGD's μ: v = μv + g, w -= lr·v (torch's form, no dampening)
    batch_size: int = _field(128, (8, 1024))       # real and fake images per D update; 64 and 256 drew worse digits in 60 s
    d_steps: int = _field(1, (1, 10))              # D updates per round
    g_steps: int = _field(1, (1, 10))              # G updates per round, after D's (GAN Lab offers both)
    loss: str = _field("bce", LOSSES)              # bce is the seed's objective; see losses.py
    label_smoothing: float = _field(0.0, (0.0, 0.5))  # one-sided: real targets become 1 - smoothing (bce only)
    ema_decay: float = _field(0.999, (0.0, 0.9999))   # EMA of G's weights used for samples; 0 turns it off (0.99 left speckled strokes; 0.998: Fréchet ratio 3.5 at 60 s, docs/performance.md)
    gp_weight: float = _field(10.0, (0.0, 100.0))  # λ of the WGAN-GP gradient penalty


@dataclass(frozen=True)
class ModelSpec:
    """Settings that need a freshly built model."""
    arch: str = _field(DEFAULT_ARCH, ARCHS)        # see models.py
    latent_dim: int = _field(100, (2, 512))        # size of z
    seed: int = _field(0, (0, SEED_MAX))           # seeds weights, batches and z: same seed, same run (on CPU)
    data: str = _field("bundled", DATA_SOURCES)    # bundled 5k MNIST, full "mnist" (IDX files), "fashion", or a path
    conditional: bool = _field(True, (False, True))  # G and D also see the digit label: all ten digits, legible sooner
    device: str = _field("auto", DEVICES, page=False)  # auto picks cuda when present


def limits(cls, name: str) -> tuple:
    """(low, high) of a numeric field of `cls`, or the tuple of its allowed values."""
    return {f.name: f for f in dataclasses.fields(cls)}[name].metadata["limits"]


def page_fields(cls) -> tuple[str, ...]:
    """The fields of `cls` a visitor sets on the page, in order."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("page", True))


def _check(name: str, value: Any, kind: type, limit: tuple) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(msg("{name} must be true or false, got {value!r}", name=name, value=value))
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(msg("{name} must be text, got {value!r}", name=name, value=value))
        if limit is not None and value not in limit:
            raise ConfigError(msg("{name} must be one of {options}; got {value!r}", name=name,
                                  options=", ".join(limit), value=value))
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(msg("{name} must be a number, got {value!r}", name=name, value=value))
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(msg("{name} must be a whole number, got {value!r}", name=name, value=value))
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(msg("{name} must be a finite number, got {value!r}", name=name, value=value))
    low, high = limit
    if not low <= value <= high:
        raise ConfigError(msg("{name} must be between {low:g} and {high:g}, got {value!r}", name=name,
                              low=low, high=high, value=value))
    return value


def validate(cls, /, **values: Any):
    """Build a `cls` (LiveSettings or ModelSpec) from `values`, every one checked.

    Unknown names and out-of-range values raise ConfigError naming the field.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(msg("unknown setting {name!r}; known: {known}", name=unknown[0], known=", ".join(fields)))
    checked = {}
    for name, value in values.items():
        kind = {"float": float, "int": int, "str": str, "bool": bool}[str(fields[name].type)]
        if cls is ModelSpec and name == "data":
            checked[name] = _check_data(value)
        else:
            checked[name] = _check(name, value, kind, fields[name].metadata["limits"])
    return cls(**checked)


def check(obj) -> None:
    """ConfigError unless every field of the settings dataclass `obj` is within its limits."""
    for f in dataclasses.fields(obj):
        kind = {"float": float, "int": int, "str": str, "bool": bool}[str(f.type)]
        value = getattr(obj, f.name)
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(msg("{name} must be a whole number, got {value!r}", name=f.name, value=value))
        _check(f.name, value, kind, f.metadata["limits"])


def replace(obj, /, **changes: Any):
    """A validated copy of a settings object with `changes` applied."""
    return validate(type(obj), **{**dataclasses.asdict(obj), **changes})


def _check_data(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(msg("data must be one of {options} or a path, got {value!r}",
                              options=", ".join(DATA_SOURCES), value=value))
    return value
