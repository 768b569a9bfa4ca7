"""Reproduce gan_core/assets/judge.pt: train the digit judge on the 4,000 train-split bundled digits.

    python scripts/train_judge.py [--epochs 15] [--seed 0]

One CPU thread, fixed seed; prints the accuracy on the 1,000 held-out digits, which the judge never
sees in training. Random affine jitter (rotation, scale, shear, shift) stands in for the 55,000
digits that full MNIST would give. Synthetic junk (noise of several kinds, digits with their pixels
shuffled) is trained toward the uniform distribution ("outlier exposure", Hendrycks et al. 2019):
without it the judge called uniform noise an "8" with probability 0.99999, and a GAN's early noise
would have counted as confident digits.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

# run as a file from the repository root, before gan_core is an installed package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import data, judge as judge_lib  # noqa: E402


def random_affine(x: torch.Tensor, gen: torch.Generator, *, degrees: float = 12.0,
                  scale: float = 0.1, shear: float = 0.15, shift_px: float = 2.5) -> torch.Tensor:
    """Each image of x (B, 1, 28, 28) rotated, scaled, sheared and shifted by its own random amount."""
    b = x.shape[0]

    def uniform(bound: float) -> torch.Tensor:  # (B,) in [-bound, bound]
        return (torch.rand(b, generator=gen) * 2 - 1) * bound

    angle, s, sh = uniform(math.radians(degrees)), 1 + uniform(scale), uniform(shear)
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    # affine_grid maps output coords to input coords, in units where the image spans [-1, 1]
    theta = torch.stack([
        torch.stack([cos, -sin + sh, uniform(2 * shift_px / 28)], dim=1),
        torch.stack([sin, cos, uniform(2 * shift_px / 28)], dim=1),
    ], dim=1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, 28, 28, 2)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def junk(digits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """As many images that are no digit (B, 1, 28, 28) as `digits` holds, each of a random kind."""
    b = digits.shape[0]
    shape = (b, 1, 28, 28)
    kinds = torch.stack([
        torch.rand(shape, generator=gen),                                   # uniform noise
        (torch.rand(shape, generator=gen) < 0.2).float(),                   # salt: sparse bright pixels
        # a digit's ink with no shape: its pixels shuffled
        digits.reshape(b, 784)[:, torch.randperm(784, generator=gen)].reshape(shape),
    ])  # (3, B, 1, 28, 28); smooth blobs as a 4th kind made the features 5x touchier to slight blur
    contrast = 0.3 + 0.7 * torch.rand(b, 1, 1, 1, generator=gen)            # faint to full
    return kinds[torch.randint(len(kinds), (b,), generator=gen), torch.arange(b)] * contrast


def accuracy(judge: judge_lib.Judge, images: torch.Tensor, labels: torch.Tensor) -> float:
    return (judge_lib.predict(images, judge).argmax(dim=1) == labels).float().mean().item()


def train(images: torch.Tensor, labels: torch.Tensor, *, epochs: int, seed: int,
          batch_size: int = 64, lr: float = 1e-2,
          junk_every: int = 4, junk_weight: float = 0.5) -> judge_lib.Judge:
    """A Judge fit to images (N, 1, 28, 28) in [0, 1] with integer labels (N,)."""
    torch.manual_seed(seed)  # weights and dropout
    gen = torch.Generator().manual_seed(seed)  # batch order and augmentation
    model = judge_lib.Judge()
    steps_per_epoch = math.ceil(len(images) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    # one-cycle: a short warm-up, then a cosine anneal to ~0 that settles weights and BatchNorm statistics
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.15)
    for epoch in range(epochs):
        model.train()
        total, start = 0.0, time.perf_counter()
        for idx in torch.randperm(len(images), generator=gen).split(batch_size):
            x = random_affine(images[idx], gen)                             # (b, 1, 28, 28)
            x_junk = junk(x[: len(idx) // junk_every], gen)                 # (b / 4, 1, 28, 28)
            # one batch through BatchNorm, so its running statistics match what training saw
            logits = model(torch.cat([x, x_junk]))                          # (b + b / 4, 10)
            # objective: cross-entropy of the true digit, plus cross-entropy of junk against the
            # uniform distribution (-mean of log-probabilities), which teaches "no digit here"
            loss = (F.cross_entropy(logits[: len(idx)], labels[idx])
                    - junk_weight * logits[len(idx):].log_softmax(dim=1).mean())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1:2d}/{epochs}  loss {total / len(images):.4f}  "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=judge_lib.WEIGHTS_PATH)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the other core belongs to whoever else is working on this machine

    digits, _ = data.load("bundled")
    train_idx, test_idx = data.held_out_split(digits)
    x_train = judge_lib.to_input(digits.images[train_idx])  # (4000, 1, 28, 28)
    y_train = digits.labels[train_idx]                       # (4000,)
    start = time.perf_counter()
    model = train(x_train, y_train, epochs=args.epochs, seed=args.seed)
    seconds = time.perf_counter() - start

    # measure the weights as saved and reloaded, i.e. exactly what load_judge() will serve
    held_out = dict(images=digits.images[test_idx], labels=digits.labels[test_idx])
    acc_before = accuracy(model, **held_out)
    judge_lib.save_weights(model, args.out, held_out_accuracy=acc_before, epochs=args.epochs, seed=args.seed)
    acc = accuracy(judge_lib.read_weights(args.out), **held_out)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"trained in {seconds:.0f} s; {n_params:,} parameters; "
          f"{args.out.stat().st_size / 1024:.0f} KiB at {args.out}")
    print(f"train-split accuracy (no augmentation): {accuracy(model, x_train, y_train):.4f}")
    print(f"held-out accuracy (1,000 digits): {acc:.4f}")


if __name__ == "__main__":
    main()
