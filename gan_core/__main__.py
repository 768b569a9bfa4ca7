"""Command line: python -m gan_core train | sample | restore, on the same Trainer the studio drives.

Bad arguments or files exit with status 2 and one line saying what is wrong.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import sys
import time
from pathlib import Path

from . import deps

deps.exit_unless_importable("torch", "numpy", "PIL", "mlxtend")   # one line and exit 2, not a traceback

import numpy as np
import torch
import torch.distributed as dist

from . import checkpoint, config, cpus, data, render, restore, sampling, text
from .checkpoint import CheckpointError
from .config import ConfigError, LiveSettings, ModelSpec
from .data import DataError
from .restore import RestoreError
from .trainer import DivergenceError, Trainer, pick_device


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, instead of argparse's usage block
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m gan_core", description="Train and sample the studio's GAN headless.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train and write checkpoint.pt, samples.npy, grid.png, metrics.csv")
    t.add_argument("--out", required=True, type=Path, help="output folder")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, help="train for this many seconds (default 60)")
    budget.add_argument("--steps", type=int, help="train for this many steps")
    t.add_argument("--arch", default=config.DEFAULT_ARCH, help=f"one of {', '.join(config.ARCHS)}")
    t.add_argument("--threads", type=int, help="torch CPU threads (default: the CPUs this process may use)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--latent-dim", type=int, default=ModelSpec.latent_dim)
    t.add_argument("--conditional", action=argparse.BooleanOptionalAction, default=ModelSpec.conditional,
                   help=f"G and D see the digit label (default: {'on' if ModelSpec.conditional else 'off'}); "
                        "--no-conditional plays the seed's unconditional game")
    t.add_argument("--data", default="bundled", help="bundled, mnist, fashion, or a folder/zip")
    t.add_argument("--download", action="store_true", help="allow downloading mnist/fashion IDX files")
    t.add_argument("--device", default="auto", help="auto, cpu or cuda")
    t.add_argument("--log-every", type=int, default=10, help="steps between rows of metrics.csv")
    t.add_argument("--resume", type=Path, help="continue from this checkpoint (with its live settings, "
                                               "but for those given here)")
    _live_options(t)

    s = sub.add_parser("sample", help="draw samples from a checkpoint into a .npy file")
    s.add_argument("--checkpoint", required=True, type=Path)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--digit", type=int, help="0-9, for a conditional checkpoint")
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--truncation", type=float, default=0.0)

    r = sub.add_parser("restore", help="fill in the hidden pixels of damaged digits, or enlarge small ones, "
                                       "by gradient descent on z")
    r.add_argument("--checkpoint", required=True, type=Path)
    r.add_argument("--images", required=True, type=Path,
                   help="float .npy in [0, 1]: (N, 28, 28) with --mask, or (N, 7, 7) / (N, 14, 14) to enlarge "
                        f"(each pixel a block's mean); N at most {restore.MAX_IMAGES}")
    r.add_argument("--mask", type=Path, help="float .npy (N, 28, 28): 1 visible, 0 hidden")
    r.add_argument("--out", required=True, type=Path, help=".npy for the restored images (N, 28, 28)")
    r.add_argument("--steps", type=int, default=restore.DEFAULTS.steps,
                   help=f"gradient steps on z ({restore.STEPS[0]}-{restore.STEPS[1]}; default {restore.DEFAULTS.steps})")
    r.add_argument("--restarts", type=int, default=restore.DEFAULTS.restarts,
                   help=f"starts from other z (a conditional G tries each digit too; default {restore.DEFAULTS.restarts})")
    r.add_argument("--seed", type=int, default=0)
    return p


def _live_options(t: argparse.ArgumentParser) -> None:
    """Every live setting as an option (lr_g: --lr-g), its type, limits and default read from config's
    fields. One not given is absent from the parsed arguments: the default, or on --resume the checkpoint's."""
    live = t.add_argument_group("live settings (the page's sidebar; see gan_core/config.py)")
    for f in dataclasses.fields(LiveSettings):
        flag, limits = "--" + f.name.replace("_", "-"), f.metadata["limits"]
        if str(f.type) == "bool":
            live.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                              help=f"(default: {'on' if f.default else 'off'})")
            continue
        kind = {"float": float, "int": int, "str": str}[str(f.type)]
        allowed = f"one of {', '.join(limits)}" if kind is str else f"{limits[0]:g} to {limits[1]:g}"
        default = f.default if kind is str else f"{f.default:g}"
        live.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=f"{allowed} (default: {default})")


def _live_given(a: argparse.Namespace) -> dict:
    """The live settings given as options, by their names in config."""
    return {f.name: getattr(a, f.name) for f in dataclasses.fields(LiveSettings) if hasattr(a, f.name)}


def draw_samples(t: Trainer, n: int, seed: int = 0, digit: int | None = None,
                 temperature: float = 1.0, truncation: float = 0.0) -> np.ndarray:
    """n images as float32 (n, 28, 28) in [0, 1], with the default latent sampling."""
    if digit is not None and not t.spec.conditional:
        raise UsageError("--digit needs a conditional checkpoint (trained with --conditional)")
    z = sampling.sample_latent(n, t.spec.latent_dim, sampling.SamplingSettings(
        seed=seed, temperature=temperature, truncation=truncation, n=min(n, 1024)))
    y = sampling.digit_labels(n, digit) if t.spec.conditional else None   # ConfigError for a bad digit
    out = [t.generate(z[i:i + 500], None if y is None else y[i:i + 500]) for i in range(0, n, 500)]
    return torch.cat(out).squeeze(1).numpy().astype(np.float32)


def _backend(device: str) -> str:
    """The process group's backend for the device trained on: NCCL for CUDA, gloo for the CPU."""
    if pick_device(device).type != "cuda":
        return "gloo"
    here, gpus = int(os.environ.get("LOCAL_WORLD_SIZE", "1")), torch.cuda.device_count()
    if here > gpus:
        raise UsageError(f"{here} processes on this machine but {gpus} GPU(s): NCCL needs a GPU per process; "
                         f"start at most {gpus}, or train on the CPU with --device cpu")
    return "nccl"


def _init_distributed(device: str) -> int:
    """Join the process group when started by torchrun; returns this process's rank."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = _backend(device)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        # torch.distributed.nn's functions take the default group as a default argument when they are
        # imported after it exists (the first optimizer imports them, through torch's compiler). Such a
        # group outlives destroy_process_group(), and its threads run on into interpreter shutdown,
        # where a gloo thread that frees a tensor needs the GIL and aborts the process. Import them first.
        import torch.distributed.fsdp  # noqa: F401
        import torch.distributed.nn  # noqa: F401
        dist.init_process_group(backend)
    return dist.get_rank() if dist.is_initialized() else 0


def _leave_distributed() -> None:
    """Leave the process group: its threads end here, on every rank, before the interpreter shuts down."""
    if dist.is_initialized():
        dist.destroy_process_group()


def _all_done(done: bool, t: Trainer) -> bool:
    # every rank stops at the same step, or the next collective would wait forever
    if t.world == 1:
        return done
    flag = torch.tensor([float(done)], device=t.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def replica_difference(t: Trainer) -> float:
    """The largest difference between this rank's weights and rank 0's, over all ranks."""
    flat = torch.cat([p.detach().reshape(-1) for m in (t.G, t.D) for p in m.parameters()])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    diff = (flat - ref).abs().max().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return diff.item()


def _budget(a: argparse.Namespace) -> float | None:
    """Check the run's size; returns the seconds to train, or None when --steps bounds it."""
    if a.threads is not None:
        if not 1 <= a.threads <= 256:
            raise UsageError(f"--threads must be between 1 and 256, got {a.threads}")
        torch.set_num_threads(a.threads)
    elif "OMP_NUM_THREADS" not in os.environ:   # as torchrun sets; torch's own default counts the host's cores
        torch.set_num_threads(cpus.usable().count)
    if a.steps is not None and a.steps < 1:
        raise UsageError(f"--steps must be at least 1, got {a.steps}")
    seconds = a.seconds if a.seconds is not None or a.steps is not None else 60.0
    if seconds is not None and not 0 < seconds <= 7 * 86400:
        raise UsageError(f"--seconds must be positive, got {seconds}")
    if a.log_every < 1:
        raise UsageError(f"--log-every must be at least 1, got {a.log_every}")
    return seconds


def _trainer(a: argparse.Namespace, spec: ModelSpec, settings: LiveSettings, say) -> Trainer:
    """A new Trainer, or the one in --resume with the arguments' live settings."""
    digits, notice = data.load(spec.data, allow_download=a.download)
    if notice:
        say(notice, file=sys.stderr)
    if not a.resume:
        return Trainer(spec, settings, digits=digits)
    t = checkpoint.load(a.resume, digits, device=a.device)
    t.apply(**_live_given(a))   # an optimizer named here that differs from the checkpoint's starts fresh
    return t


def _steps(t: Trainer, a: argparse.Namespace, seconds: float | None, say) -> list[dict]:
    """Step until the budget is spent on every rank (or a step diverges); returns metrics.csv's rows."""
    rows, start, last_print = [], time.perf_counter(), 0.0
    tty = sys.stderr.isatty()
    first_step, stopped = t.step_count, False
    while True:
        elapsed = time.perf_counter() - start
        done = t.step_count - first_step
        finished = (a.steps is not None and done >= a.steps) or (a.steps is None and elapsed >= seconds)
        if _all_done(finished or stopped, t):
            break
        try:
            m = t.step()
        except DivergenceError as e:
            print(f"stopped: {e}; try a lower learning rate", file=sys.stderr)
            stopped = True   # the other ranks stop with this one, at the top of the loop
            continue
        if t.step_count % a.log_every == 0:
            rows.append({"step": t.step_count, "elapsed": round(elapsed, 3), **m})
        if elapsed - last_print >= (0.25 if tty else 0.5):
            last_print = elapsed
            line = (f"step {t.step_count:6d}  {elapsed:6.1f}s  {done / max(elapsed, 1e-9):6.1f} steps/s  "
                    f"L_D {m['loss_d']:.3f}  L_G {m['loss_g']:.3f}  D(x) {m['d_real']:.2f}  D(G(z)) {m['d_fake']:.2f}")
            say(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
    if tty:
        say(file=sys.stderr)
    say(f"{t.step_count - first_step} steps in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return rows


def _write_outputs(t: Trainer, out: Path, rows: list[dict], seed: int) -> None:
    checkpoint.save(t, out / "checkpoint.pt")
    np.save(out / "samples.npy", draw_samples(t, 1000, seed=seed))
    (out / "grid.png").write_bytes(render.png(t.grid()[:64], nrow=8, scale=2))
    with open(out / "metrics.csv", "w", newline="") as f:
        if rows:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    print(f"wrote {out}/checkpoint.pt, samples.npy, grid.png, metrics.csv", file=sys.stderr)


def _train(a: argparse.Namespace) -> None:
    seconds = _budget(a)
    spec = config.validate(ModelSpec, arch=a.arch, latent_dim=a.latent_dim, seed=a.seed,
                           data=a.data, conditional=a.conditional, device=a.device)
    settings = config.validate(LiveSettings, **_live_given(a))
    rank = _init_distributed(a.device)
    say = print if rank == 0 else (lambda *args, **kw: None)
    try:   # every rank leaves the group, whether it trained or failed, then rank 0 writes the files
        t = _trainer(a, spec, settings, say)
        a.out.mkdir(parents=True, exist_ok=True)
        say(f"training {t.spec.arch} on {t.digits.name}, device {t.device}, {torch.get_num_threads()} threads"
            + (f", {t.world} data-parallel processes" if t.world > 1 else ""), file=sys.stderr)
        rows = _steps(t, a, seconds, say)
        if t.world > 1:
            say(f"replicas: largest weight difference between ranks {replica_difference(t):.3g}", file=sys.stderr)
    finally:
        _leave_distributed()
    if rank == 0:
        _write_outputs(t, a.out, rows, a.seed)


def _sample(a: argparse.Namespace) -> None:
    if not 1 <= a.n <= 100_000:
        raise UsageError(f"--n must be between 1 and 100000, got {a.n}")
    if a.out.suffix != ".npy":
        raise UsageError(f"--out must name a .npy file, got {a.out}")
    ckpt = checkpoint.read(a.checkpoint)
    digits, _ = data.load("bundled")  # sampling needs no data; the trainer only wants some
    t = checkpoint.restore(ckpt, digits, device="cpu", data="bundled")
    samples = draw_samples(t, a.n, a.seed, a.digit, a.temperature, a.truncation)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(a.out, samples)
    print(f"wrote {a.out}: {samples.shape[0]} samples of 28x28", file=sys.stderr)


def _restore(a: argparse.Namespace) -> None:
    if a.out.suffix != ".npy":
        raise UsageError(f"--out must name a .npy file, got {a.out}")
    images = restore.read_npy(a.images, "--images", (28, *restore.LOW_SIZES))
    if images.shape[1] != 28 and a.mask is not None:
        raise UsageError(f"--images of {images.shape[1]}x{images.shape[2]} are enlarged, not masked: leave out --mask")
    if images.shape[1] == 28 and a.mask is None:
        raise UsageError("--images of 28x28 need a --mask (1 visible, 0 hidden); "
                         f"images of {' or '.join(f'{k}x{k}' for k in restore.LOW_SIZES)} are enlarged without one")
    if a.mask is None:
        low = restore.check_low(images)
    else:
        images, mask = restore.check_arrays(images, restore.read_npy(a.mask, "--mask"))
    ckpt = checkpoint.read(a.checkpoint)
    digits, _ = data.load("bundled")  # restoring needs no data; the trainer only wants some
    t = checkpoint.restore(ckpt, digits, device="cpu", data="bundled")
    if a.mask is None:
        result = restore.run_upscale(t, low, steps=a.steps, restarts=a.restarts, seed=a.seed, frames=2)
        what = f"{len(low)} images enlarged from {low.shape[1]}x{low.shape[2]}; block-mean error"
    else:
        result = restore.run(t, images, mask, steps=a.steps, restarts=a.restarts, seed=a.seed, frames=2)
        what = f"{len(images)} restored images; visible error"
    a.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(a.out, result.images.numpy().astype(np.float32))
    print(f"wrote {a.out}: {what} {result.loss[0]:.4f} -> {result.loss[-1]:.4f}", file=sys.stderr)


CLI_MAX_SHOWN = 2000    # a long path still fits; a 5,000-character value is cut


def _error(message: object) -> None:
    # messages quote file names, paths and values from files: on a terminal they must not move the
    # cursor, set colours, make links or reorder the line
    print(f"error: {text.printable(message, limit=CLI_MAX_SHOWN)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    # one write per line: under torchrun every rank shares one stderr, and an unbuffered print (the
    # text, then its newline) from two ranks at once ran their lines together
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(write_through=False, line_buffering=True)
    try:
        a = _parser().parse_args(argv)
        {"train": _train, "sample": _sample, "restore": _restore}[a.command](a)
    except (UsageError, ConfigError, DataError, CheckpointError, RestoreError) as e:
        _error(e)
        return 2
    except OSError as e:
        _error(f"{e.filename or ''} {e.strerror or e}".strip())
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
