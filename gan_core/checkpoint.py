"""A checkpoint is one plain dict: models, optimizers, step, config, RNG, format version.

Loading never unpickles code: `torch.load(..., weights_only=True)` admits only tensors and plain
containers, and everything it returns is validated (keys, config values, shapes, finiteness)
before a model sees it.
"""
from __future__ import annotations

import dataclasses
import io
import pickle
import re
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import torch

from . import config, models
from .config import ConfigError, LiveSettings, ModelSpec
from .data import MAX_INDEX_BYTES, Digits, zip_index
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
    label = name or (Path(source).name if isinstance(source, (str, Path)) else "the file")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such file")
        size = path.stat().st_size
        if size > max_bytes:
            raise CheckpointError(f"{label} is {size / 2**20:.1f} MB; the limit for a checkpoint is {max_bytes / 2**20:.0f} MB")
        with open(path, "rb") as f:
            source = f.read(max_bytes + 1)   # a file that grew since its size was read still stops here
    if len(source) == 0:
        raise CheckpointError(f"{label} is empty")
    if len(source) > max_bytes:
        raise CheckpointError(f"{label} is {len(source) / 2**20:.1f} MB; the limit for a checkpoint is {max_bytes / 2**20:.0f} MB")
    _check_records(source, label)
    try:
        ckpt = torch.load(io.BytesIO(source), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message is long; name the Python global it refused, or the unpickler's complaint
        code = re.search(r"GLOBAL ([\w.]+)", str(e), re.IGNORECASE)
        if code:
            raise CheckpointError(f"refused: the file refers to Python code ({code.group(1)}), which a "
                                  "checkpoint never holds; nothing in it was run") from None
        detail = str(e).split("WeightsUnpickler error:")[-1].strip().splitlines()[0][:160]
        raise CheckpointError(f"not a checkpoint: unreadable data ({detail})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError,
            AttributeError, TypeError, IndexError, UnicodeDecodeError) as e:
        raise CheckpointError(f"corrupt or truncated file ({_first_sentence(e)})") from None
    validate(ckpt)
    return ckpt


def _check_records(blob: bytes, label: str) -> None:
    """torch.load allocates each record of the zip at the size its index claims: hold those to the file's bytes.

    torch.save stores records uncompressed, so together they fit in the file; anything else is refused
    here. An index zipfile cannot read goes on to torch.load, whose complaint names the fault.
    """
    if not blob.startswith(b"PK\x03\x04"):
        raise CheckpointError(f"not a checkpoint: {label} is not in the zip format torch.save writes")
    f = io.BytesIO(blob)
    index_bytes, entries = zip_index(f, most=MAX_RECORDS)
    if index_bytes > MAX_INDEX_BYTES:
        raise CheckpointError(f"not a checkpoint: {label} has an index of {index_bytes / 2**20:,.0f} MB, far more than {MAX_RECORDS:,} records need")
    if entries > MAX_RECORDS:
        raise CheckpointError(f"not a checkpoint: {label} holds more than {MAX_RECORDS:,} records")
    try:
        records = zipfile.ZipFile(f).infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, OverflowError, struct.error):
        return
    packed = next((r for r in records if r.compress_type != zipfile.ZIP_STORED or r.file_size != r.compress_size), None)
    if packed is not None:
        raise CheckpointError(f"not a checkpoint: {label} holds a compressed record ({packed.filename}), which torch.save never writes")
    claimed = sum(r.file_size for r in records)
    if claimed > len(blob):
        raise CheckpointError(f"not a checkpoint: {label} claims {claimed / 2**20:,.1f} MB of records in {len(blob) / 2**20:,.1f} MB")


def validate(ckpt: Any) -> None:
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"not a checkpoint: the file holds a {type(ckpt).__name__}, not a dict")
    if ckpt.get("format") != FORMAT:
        raise CheckpointError("not a checkpoint of this studio (its 'format' field is missing or different)")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(f"checkpoint version {ckpt.get('version')!r} is not supported (expected {VERSION})")
    missing = KEYS - set(ckpt)
    if missing:
        raise CheckpointError(f"checkpoint lacks {', '.join(sorted(missing))}")
    if not isinstance(ckpt["step"], int) or ckpt["step"] < 0:
        raise CheckpointError(f"step must be a non-negative whole number, got {ckpt['step']!r}")
    checked = {}
    for key, cls in (("spec", ModelSpec), ("settings", LiveSettings)):
        if not isinstance(ckpt[key], dict):
            raise CheckpointError(f"{key} must be a dict of settings")
        try:
            checked[key] = config.validate(cls, **ckpt[key])
        except (ConfigError, TypeError) as e:
            raise CheckpointError(f"{key}: {e}") from None
    with torch.device("meta"):  # shapes only: no memory, no init
        g, d = models.build(checked["spec"])
    for key, model in (("G", g), ("D", d), ("G_ema", g)):
        _check_state(key, ckpt[key], model.state_dict())
    for key, model in (("opt_g", g), ("opt_d", d)):
        _check_optimizer(key, ckpt[key], list(model.parameters()))
    rng = ckpt["rng"]
    if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8 or rng.dim() != 1:
        raise CheckpointError("rng must be a uint8 vector")
    cpu = torch.Generator()
    if rng.numel() == cpu.get_state().numel():   # a CPU generator's state: restore() on a CPU uses it
        try:
            cpu.set_state(rng)
        except RuntimeError:
            raise CheckpointError("rng is not a valid generator state") from None


def _first_sentence(e: Exception) -> str:
    """The reader's complaint, as far as its first full stop: its advice after that is for developers.
    torch's own readers raise RuntimeError with a message that speaks for itself; other errors keep their name."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = re.split(r"(?<=[a-z0-9)])\. ", text, maxsplit=1)[0][:160]
    return text if text and isinstance(e, RuntimeError) else f"{type(e).__name__}: {text}".rstrip(": ")


def _check_state(key: str, state: Any, expected: dict[str, torch.Tensor]) -> None:
    if not isinstance(state, dict):
        raise CheckpointError(f"{key}: weights must be a dict of tensors")
    if set(state) != set(expected):
        extra, lack = sorted(set(state) - set(expected)), sorted(set(expected) - set(state))
        raise CheckpointError(f"{key}: weights do not fit the architecture "
                              f"(unexpected {extra[:3]}, missing {lack[:3]})")
    for name, ref in expected.items():
        t = state[name]
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"{key}.{name}: not a tensor")
        if t.shape != ref.shape:
            raise CheckpointError(f"{key}.{name}: shape {tuple(t.shape)}, expected {tuple(ref.shape)}")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{key}.{name}: holds NaN or infinite values")


def _check_optimizer(key: str, state: Any, params: list[torch.Tensor]) -> None:
    if not isinstance(state, dict) or not {"state", "param_groups"} <= set(state):
        raise CheckpointError(f"{key}: not an optimizer state")
    groups = state["param_groups"]
    if not isinstance(groups, list) or sum(len(g.get("params", [])) for g in groups if isinstance(g, dict)) != len(params):
        raise CheckpointError(f"{key}: optimizer state does not fit the model")
    if not isinstance(state["state"], dict):
        raise CheckpointError(f"{key}: optimizer state is malformed")
    for idx, s in state["state"].items():
        if not isinstance(idx, int) or not 0 <= idx < len(params) or not isinstance(s, dict):
            raise CheckpointError(f"{key}: optimizer state refers to parameter {idx!r}")
        for name in ("exp_avg", "exp_avg_sq"):
            t = s.get(name)
            if not isinstance(t, torch.Tensor) or t.shape != params[idx].shape:
                raise CheckpointError(f"{key}: {name} of parameter {idx} has the wrong shape")
            if not bool(torch.isfinite(t).all()):
                raise CheckpointError(f"{key}: {name} of parameter {idx} holds NaN or infinite values")


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
