"""A checkpoint is one plain dict: models, optimizers, step, config, RNG, format version.

Loading never unpickles code: `torch.load(..., weights_only=True)` admits only tensors and plain
containers, and everything it returns is validated (keys, config values, shapes, finiteness)
before a model sees it. The same state packed as one flat buffer (`pack`, `unpack`) is what crosses
to an engine process through shared memory (engine.py).
"""
from __future__ import annotations

import copy
import dataclasses
import io
import pickle
import re
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import torch

from . import config, models, optimizers
from .config import ConfigError, LiveSettings, ModelSpec
from .data import MAX_INDEX_BYTES, Digits, zip_index
from .i18n import msg
from .trainer import Trainer

FORMAT = "gan-studio-checkpoint"
VERSION = 1
MAX_BYTES = 64 * 2**20  # the largest model here is ~10 MB with its optimizer state
MAX_RECORDS = 1000  # a checkpoint holds the pickle and one record per tensor: about a hundred
KEYS = {"format", "version", "step", "spec", "settings", "G", "D", "G_ema", "opt_g", "opt_d", "rng"}


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message says what is wrong."""


def to_dict(t: Trainer) -> dict[str, Any]:
    """The trainer's full state as a plain dict of tensors, numbers and strings."""
    return {
        "format": FORMAT, "version": VERSION, "step": t.step_count,
        "spec": dataclasses.asdict(t.spec), "settings": dataclasses.asdict(t.settings),
        "G": t.G.state_dict(), "D": t.D.state_dict(), "G_ema": t.G_ema.state_dict(),
        "opt_g": t.opt_g.state_dict(), "opt_d": t.opt_d.state_dict(),
        "rng": t.rng.get_state(),
    }


def copy_of(t: Trainer) -> dict[str, Any]:
    """to_dict(t) with nothing shared with t: a state kept aside while t trains on (a rewind point)."""
    return copy.deepcopy(to_dict(t))


def save(t: Trainer, dest: str | Path | BinaryIO) -> None:
    torch.save(to_dict(t), dest)


def to_bytes(t: Trainer) -> bytes:
    buf = io.BytesIO()
    save(t, buf)
    return buf.getvalue()


def read(source: str | Path | bytes, max_bytes: int = MAX_BYTES, *, name: str | None = None) -> dict[str, Any]:
    """Load and validate a checkpoint from a path or bytes; raise CheckpointError if unusable.

    Its size is checked before it is read, and its records before torch.load allocates them.
    `name` labels the file in refusals (default: a path's own name, else "the file").
    """
    label = name or (Path(source).name if isinstance(source, (str, Path)) else msg("the file"))
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(msg("{path}: no such file", path=path))
        size = path.stat().st_size
        if size > max_bytes:
            raise CheckpointError(msg("{label} is {mb:.1f} MB; the limit for a checkpoint is {limit_mb:.0f} MB", label=label, mb=size / 2 ** 20, limit_mb=max_bytes / 2 ** 20))
        with open(path, "rb") as f:
            source = f.read(max_bytes + 1)   # a file that grew since its size was read still stops here
    if len(source) == 0:
        raise CheckpointError(msg("{label} is empty", label=label))
    if len(source) > max_bytes:
        raise CheckpointError(msg("{label} is {mb:.1f} MB; the limit for a checkpoint is {limit_mb:.0f} MB", label=label, mb=len(source) / 2 ** 20, limit_mb=max_bytes / 2 ** 20))
    _check_records(source, label)
    try:
        ckpt = torch.load(io.BytesIO(source), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message is long; name the Python global it refused, or the unpickler's complaint
        code = re.search(r"GLOBAL ([\w.]+)", str(e), re.IGNORECASE)
        if code:
            raise CheckpointError(msg("refused: the file refers to Python code ({code}), which a checkpoint "
                                      "never holds; nothing in it was run", code=code.group(1))) from None
        detail = str(e).split("WeightsUnpickler error:")[-1].strip().splitlines()[0][:160]
        raise CheckpointError(msg("not a checkpoint: unreadable data ({detail})", detail=detail)) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError,
            AttributeError, TypeError, IndexError, UnicodeDecodeError) as e:
        raise CheckpointError(msg("corrupt or truncated file ({detail})", detail=_first_sentence(e))) from None
    validate(ckpt)
    return ckpt


def _check_records(blob: bytes, label: str) -> None:
    """torch.load allocates each record of the zip at the size its index claims: hold those to the file's bytes.

    torch.save stores records uncompressed, so together they fit in the file; anything else is refused
    here. An index zipfile cannot read goes on to torch.load, whose complaint names the fault.
    """
    if not blob.startswith(b"PK\x03\x04"):
        raise CheckpointError(msg("not a checkpoint: {label} is not in the zip format torch.save writes", label=label))
    f = io.BytesIO(blob)
    index_bytes, entries = zip_index(f, most=MAX_RECORDS)
    if index_bytes > MAX_INDEX_BYTES:
        raise CheckpointError(msg("not a checkpoint: {label} has an index of {mb:,.0f} MB, far more than {most:,} records need", label=label, mb=index_bytes / 2 ** 20, most=MAX_RECORDS))
    if entries > MAX_RECORDS:
        raise CheckpointError(msg("not a checkpoint: {label} holds more than {most:,} records", label=label, most=MAX_RECORDS))
    try:
        records = zipfile.ZipFile(f).infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, OverflowError, struct.error):
        return
    packed = next((r for r in records if r.compress_type != zipfile.ZIP_STORED or r.file_size != r.compress_size), None)
    if packed is not None:
        raise CheckpointError(msg("not a checkpoint: {label} holds a compressed record ({record}), which torch.save never writes", label=label, record=packed.filename))
    claimed = sum(r.file_size for r in records)
    if claimed > len(blob):
        raise CheckpointError(msg("not a checkpoint: {label} claims {claimed_mb:,.1f} MB of records in {file_mb:,.1f} MB", label=label, claimed_mb=claimed / 2 ** 20, file_mb=len(blob) / 2 ** 20))


def validate(ckpt: Any) -> None:
    if not isinstance(ckpt, dict):
        raise CheckpointError(msg("not a checkpoint: the file holds a {kind}, not a dict", kind=type(ckpt).__name__))
    if ckpt.get("format") != FORMAT:
        raise CheckpointError(msg("not a checkpoint of this studio (its 'format' field is missing or different)"))
    if ckpt.get("version") != VERSION:
        raise CheckpointError(msg("checkpoint version {version!r} is not supported (expected {expected})",
                                  version=ckpt.get("version"), expected=VERSION))
    missing = KEYS - set(ckpt)
    if missing:
        raise CheckpointError(msg("checkpoint lacks {keys}", keys=", ".join(sorted(missing))))
    if not isinstance(ckpt["step"], int) or ckpt["step"] < 0:
        raise CheckpointError(msg("step must be a non-negative whole number, got {value!r}", value=ckpt['step']))
    checked = {}
    for key, cls in (("spec", ModelSpec), ("settings", LiveSettings)):
        if not isinstance(ckpt[key], dict):
            raise CheckpointError(msg("{key} must be a dict of settings", key=key))
        try:
            checked[key] = config.validate(cls, **ckpt[key])
        except (ConfigError, TypeError) as e:
            raise CheckpointError(msg("{key}: {reason}", key=key, reason=e)) from None
    with torch.device("meta"):  # shapes only: no memory, no init
        g, d = models.build(checked["spec"])
    for key, model in (("G", g), ("D", d), ("G_ema", g)):
        _check_state(key, ckpt[key], model.state_dict())
    # each optimizer's state must be that of the optimizer its settings name (a checkpoint from before
    # the choice existed names none: Adam, as it was). Another's is refused, not started afresh: the
    # studio never writes such a file, so it was made or changed elsewhere, and it is not what it says
    settings = checked["settings"]
    for key, model, kind in (("opt_g", g, settings.optimizer_g), ("opt_d", d, settings.optimizer_d)):
        _check_optimizer(key, ckpt[key], list(model.parameters()), kind)
    rng = ckpt["rng"]
    if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8 or rng.dim() != 1:
        raise CheckpointError(msg("rng must be a uint8 vector"))
    cpu = torch.Generator()
    if rng.numel() == cpu.get_state().numel():   # a CPU generator's state: restore() on a CPU uses it
        try:
            cpu.set_state(rng)
        except RuntimeError:
            raise CheckpointError(msg("rng is not a valid generator state")) from None


def _first_sentence(e: Exception) -> str:
    """The reader's complaint, as far as its first full stop: its advice after that is for developers.
    torch's own readers raise RuntimeError with a message that speaks for itself; other errors keep their name."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = re.split(r"(?<=[a-z0-9)])\. ", text, maxsplit=1)[0][:160]
    return text if text and isinstance(e, RuntimeError) else f"{type(e).__name__}: {text}".rstrip(": ")


def _check_state(key: str, state: Any, expected: dict[str, torch.Tensor]) -> None:
    if not isinstance(state, dict):
        raise CheckpointError(msg("{key}: weights must be a dict of tensors", key=key))
    if set(state) != set(expected):
        extra, lack = sorted(set(state) - set(expected)), sorted(set(expected) - set(state))
        raise CheckpointError(msg("{key}: weights do not fit the architecture (unexpected {extra}, missing {lack})",
                                  key=key, extra=extra[:3], lack=lack[:3]))
    for name, ref in expected.items():
        t = state[name]
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(msg("{key}.{name}: not a tensor", key=key, name=name))
        if t.shape != ref.shape:
            raise CheckpointError(msg("{key}.{name}: shape {shape}, expected {expected}", key=key, name=name,
                                      shape=tuple(t.shape), expected=tuple(ref.shape)))
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(msg("{key}.{name}: holds NaN or infinite values", key=key, name=name))


def _check_optimizer(key: str, state: Any, params: list[torch.Tensor], kind: str) -> None:
    if not isinstance(state, dict) or not {"state", "param_groups"} <= set(state):
        raise CheckpointError(msg("{key}: not an optimizer state", key=key))
    groups = state["param_groups"]
    if not isinstance(groups, list) or sum(len(g.get("params", [])) for g in groups if isinstance(g, dict)) != len(params):
        raise CheckpointError(msg("{key}: optimizer state does not fit the model", key=key))
    if not all(isinstance(g, dict) and set(optimizers.GROUP_KEYS[kind]) <= set(g) for g in groups):
        raise CheckpointError(msg("{key}: the optimizer state is not {optimizer}'s, which the settings name",
                                  key=key, optimizer=kind))
    if not isinstance(state["state"], dict):
        raise CheckpointError(msg("{key}: optimizer state is malformed", key=key))
    names = optimizers.STATE[kind]
    for idx, s in state["state"].items():
        if not isinstance(idx, int) or not 0 <= idx < len(params) or not isinstance(s, dict):
            raise CheckpointError(msg("{key}: optimizer state refers to parameter {index!r}", key=key, index=idx))
        if set(s) != set(names):
            raise CheckpointError(msg("{key}: the optimizer state is not {optimizer}'s, which the settings name",
                                      key=key, optimizer=kind))
        for name in names:
            t = s[name]
            if not isinstance(t, torch.Tensor) or t.shape != (() if name == "step" else params[idx].shape):
                raise CheckpointError(msg("{key}: {name} of parameter {index} has the wrong shape", key=key, name=name,
                                          index=idx))
            if not bool(torch.isfinite(t).all()):
                raise CheckpointError(msg("{key}: {name} of parameter {index} holds NaN or infinite values", key=key,
                                          name=name, index=idx))


def restore(ckpt: dict[str, Any], digits: Digits, **spec_overrides: Any) -> Trainer:
    """A Trainer resumed from a validated checkpoint dict.

    The saved device says where it was trained, not where it must run: a checkpoint from a GPU
    machine opens on a CPU one. It runs on the best device here unless `device=` says otherwise.
    """
    spec = config.validate(ModelSpec, **{**ckpt["spec"], "device": "auto", **spec_overrides})
    settings = config.validate(LiveSettings, **ckpt["settings"])
    t = Trainer(spec, settings, digits=digits)
    t.G.load_state_dict(ckpt["G"])
    t.D.load_state_dict(ckpt["D"])
    t.G_ema.load_state_dict(ckpt["G_ema"])
    t.opt_g.load_state_dict(ckpt["opt_g"])
    t.opt_d.load_state_dict(ckpt["opt_d"])
    t.apply()  # the settings rule the optimizers, whatever their saved groups said
    # a CPU and a CUDA generator keep states of different sizes; from the other kind, draws start afresh
    if ckpt["rng"].numel() == t.rng.get_state().numel():
        t.rng.set_state(ckpt["rng"])
    t.step_count = ckpt["step"]
    return t


def load(source: str | Path | bytes, digits: Digits, **spec_overrides: Any) -> Trainer:
    return restore(read(source), digits, **spec_overrides)


# -- a trainer's state as one flat buffer (an engine's shared memory: engine.py) -----------------------------------------------------------
def state_tensors(t: Trainer) -> list[torch.Tensor]:
    """Every tensor a step changes, in a fixed order: weights and buffers, then the optimizers' state
    (its layout is that of the optimizers chosen: see `state_layout`)."""
    out = [x for m in (t.G, t.D, t.G_ema) for x in m.state_dict(keep_vars=True).values()]
    for opt in (t.opt_g, t.opt_d):
        # an optimizer makes its state at its first step: made here as it would, so a trainer
        # has the same tensors to send before its first step as after
        optimizers.ensure_state(opt)
        names = optimizers.STATE[optimizers.kind_of(opt)]
        for group in opt.param_groups:
            for p in group["params"]:
                out += [opt.state[p][name] for name in names]
    return [x.detach() for x in out]


def state_layout(t: Trainer) -> tuple[str, str]:
    # the optimizers whose state a packed trainer holds: another choice packs other tensors
    return t.settings.optimizer_g, t.settings.optimizer_d


def state_bytes(t: Trainer) -> int:
    return sum(x.numel() * x.element_size() for x in state_tensors(t))


@torch.no_grad()
def pack(t: Trainer, into: torch.Tensor) -> tuple[int, torch.Tensor]:
    """Write the trainer's state into `into` (uint8, state_bytes(t) long); returns what `unpack`
    needs besides those bytes: (its step count, its RNG state)."""
    torch.cat([x.reshape(-1).view(torch.uint8) for x in state_tensors(t)], out=into)
    return t.step_count, t.rng.get_state()


@torch.no_grad()
def unpack(t: Trainer, flat: torch.Tensor, meta: tuple[int, torch.Tensor], count: bool = True) -> None:
    """Copy a `pack`ed state into t (same spec): its tensors keep their identity, only values change.
    `count=False` leaves t.step_count to the caller (who sets it with the steps' rows)."""
    tensors = state_tensors(t)
    if (size := sum(x.numel() * x.element_size() for x in tensors)) != flat.numel():
        raise ValueError(f"a state of {flat.numel()} bytes for a trainer of {size}")
    at = 0
    for x in tensors:
        n = x.numel() * x.element_size()
        if x.is_contiguous():
            x.reshape(-1).view(torch.uint8).copy_(flat[at:at + n])
        else:       # (an optimizer state loaded with strides) written through a contiguous copy
            x.copy_(flat[at:at + n].clone().view(x.dtype).view(x.shape))
        at += n
    if count:
        t.step_count = meta[0]
    t.rng.set_state(meta[1])
