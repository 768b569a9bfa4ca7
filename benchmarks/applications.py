"""What a trained G is good for, measured: restoration's identity rate, super-resolution's, and data
augmentation's gain.

    python benchmarks/applications.py CHECKPOINT [--n 200] [--masks bottom,band,pixels,noise]
        [--upscale 7,14] [--steps S] [--restarts R] [--lr LR] [--prior P] [--realism W] [--seeds 5]

Restoration: N held-out digits (the bundled split's 1,000, which the judge never trained on), each
damaged by every mask in --masks (--hidden of it hidden, or noise of that spread), restored by gradient
descent on z through the checkpoint's G (EMA) with restore.DEFAULTS unless an option says otherwise.
The judge reads the original, the damaged and the restored digit: "identity kept" is the share whose
restored digit reads as the original does; "legible" the share the judge reads with confidence above
metrics.CONFIDENT. Super-resolution: the same digits average-pooled to 7x7 or 14x14 and restored by
restore.upscale, against enlarging the small image (nearest and bilinear). "one digit" is the median
time of restoring one digit (the page's job) over 3 tries. Augmentation: augment.run with the
checkpoint's G (conditional) over --seeds seeds (0 skips it). One line per figure.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

# run as a file from the repository root, before gan_core is an installed package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import augment, checkpoint, data, judge, metrics, restore  # noqa: E402


def _reads(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # the judge's digit and whether it reads one with confidence: (N,), (N,) bool
    conf, digit = judge.predict(images).max(1)
    return digit, conf > metrics.CONFIDENT


def _line(name: str, original: torch.Tensor, out: torch.Tensor, extra: str = "") -> None:
    digit, legible = _reads(out)
    print(f"{name:<24} identity kept {(digit == original).float().mean():6.1%}   legible {legible.float().mean():6.1%}{extra}")


def _one_digit_seconds(job) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    d = restore.DEFAULTS
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--n", type=int, default=200, help="held-out digits restored")
    p.add_argument("--masks", default=",".join(restore.MASKS), help="comma-separated; empty for none")
    p.add_argument("--upscale", default="7,14", help="low-res sizes for super-resolution; empty for none")
    p.add_argument("--hidden", type=float, default=restore.DEFAULT_HIDDEN)
    for name in ("steps", "restarts", "lr", "prior", "realism"):
        p.add_argument(f"--{name}", type=type(getattr(d, name)), default=getattr(d, name))
    p.add_argument("--seeds", type=int, default=augment.SEEDS)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    settings = dataclasses.replace(d, **{k: getattr(a, k) for k in ("steps", "restarts", "lr", "prior", "realism")})
    digits = data.load("bundled")[0]
    t = checkpoint.restore(checkpoint.read(a.checkpoint), digits, device="cpu", data="bundled")
    _, test_idx = data.held_out_split(digits)
    idx = test_idx[:a.n]
    x = digits.images[idx].float() / 255.0                                  # (N, 28, 28)
    original, _ = _reads(x)
    print(f"checkpoint: step {t.step_count}, {t.spec.arch}, conditional {t.spec.conditional}; {a.n} held-out digits")
    print(f"search: {settings}")
    print(f"{'original':<24} judge reads the true digit {(original == digits.labels[idx]).float().mean():6.1%}")
    for kind in filter(None, a.masks.split(",")):
        damaged, mask = restore.damage(x, kind, a.hidden)
        start = time.perf_counter()
        r = restore.run(t, damaged, mask, settings.steps, settings.restarts, frames=2, settings=settings)
        took = time.perf_counter() - start
        one = _one_digit_seconds(lambda: restore.run(t, damaged[:1], mask[:1], settings.steps, settings.restarts,
                                                     frames=2, settings=settings))
        _line(f"{kind} {a.hidden:g}: damaged", original, damaged)
        _line(f"{kind} {a.hidden:g}: restored", original, r.images,
              f"   visible error {r.loss[0]:.4f} -> {r.loss[-1]:.4f}, {took:.0f} s, one digit {one:.2f} s")
    for size in (int(s) for s in filter(None, a.upscale.split(","))):
        low = restore.pool(x, size)                                          # (N, size, size)
        for mode in ("nearest", "bilinear"):
            big = F.interpolate(low.unsqueeze(1), size=28, mode=mode, **({} if mode == "nearest" else
                                                                         {"align_corners": False})).squeeze(1)
            _line(f"{size}x{size}: {mode}", original, big)
        start = time.perf_counter()
        r = restore.run_upscale(t, low, settings.steps, settings.restarts, frames=2, settings=settings)
        took = time.perf_counter() - start
        one = _one_digit_seconds(lambda: restore.run_upscale(t, low[:1], settings.steps, settings.restarts,
                                                             frames=2, settings=settings))
        _line(f"{size}x{size}: search in z", original, r.images,
              f"   pooled error {r.loss[0]:.4f} -> {r.loss[-1]:.4f}, {took:.0f} s, one digit {one:.2f} s")
    if t.spec.conditional and a.seeds:
        start = time.perf_counter()
        res = augment.run(*augment.generated_digits(t, augment.GENERATED), seeds=a.seeds, digits=digits)
        m = res.summary()
        print(f"augment: k={res.k} real per class, +{res.generated} generated per class, {a.seeds} seeds, "
              f"{time.perf_counter() - start:.1f} s")
        print(f"augment: real only {m['without']:.1%} ± {m['without_sd']:.1%} (sd)")
        print(f"augment: with G {m['with']:.1%} ± {m['with_sd']:.1%} (sd)")
        print(f"augment: gain {m['gain']:+.1%} ± {m['gain_se']:.1%} (se), verdict {res.verdict()}")


if __name__ == "__main__":
    main()
