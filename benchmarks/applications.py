"""What a trained G is good for, measured: restoration's identity rate and data augmentation's gain.

    python benchmarks/applications.py CHECKPOINT [--n 200] [--steps 200] [--restarts 2] [--seeds 5]

Restoration: N held-out digits (the bundled split's 1,000, which the judge never trained on) with
the bottom 40% hidden, restored by gradient descent on z through the checkpoint's G (EMA); the
judge's reading of each is compared with the digit's true label. Baselines: the judge on the
damaged digit itself, and on the undamaged one (the ceiling). Augmentation: augment.run with the
checkpoint's G (conditional) over --seeds seeds. One line per figure.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

# run as a file from the repository root, before gan_core is an installed package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import augment, checkpoint, data, judge, restore  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--n", type=int, default=200, help="held-out digits restored")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--restarts", type=int, default=2)
    p.add_argument("--seeds", type=int, default=augment.SEEDS)
    p.add_argument("--hidden", type=float, default=0.4)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    digits = data.load("bundled")[0]
    t = checkpoint.restore(checkpoint.read(a.checkpoint), digits, device="cpu", data="bundled")
    _, test_idx = data.held_out_split(digits)
    idx = test_idx[:a.n]
    x = digits.images[idx].float() / 255.0
    y = digits.labels[idx]
    damaged, mask = restore.damage(x, "bottom", a.hidden)
    start = time.perf_counter()
    r = restore.run(t, damaged, mask, steps=a.steps, restarts=a.restarts, frames=2)
    took = time.perf_counter() - start
    reads = {k: judge.predict(v).argmax(1) for k, v in (("original", x), ("damaged", damaged), ("restored", r.images))}
    print(f"checkpoint: step {t.step_count}, {t.spec.arch}, conditional {t.spec.conditional}")
    print(f"restore: {a.n} held-out digits, bottom {a.hidden:.0%} hidden, {a.steps} steps x {a.restarts} restarts"
          f"{' x 10 labels' if t.spec.conditional else ''}: {took:.1f} s")
    for k, v in reads.items():
        print(f"restore: judge reads the true digit in the {k}: {(v == y).float().mean():.1%}")
    print(f"restore: restored reads as the judge reads the original: {(reads['restored'] == reads['original']).float().mean():.1%}")
    if r.labels is not None:
        print(f"restore: winning label = true digit: {(r.labels == y).float().mean():.1%}")
    print(f"restore: visible error {r.loss[0]:.4f} -> {r.loss[-1]:.4f}")
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
