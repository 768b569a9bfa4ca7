"""Restoration by backprop into the input: find the latent vector whose image best matches what is
left of a damaged digit.

G is frozen (its EMA, no weight changes); the only thing that learns is z. Each step runs the seed's
four stages with the roles turned round: forward G(z), a loss on the visible pixels only,
backward to z (not to the weights), an Adam update of z. Several restarts from other z (and, for a
conditional G, every digit label) race, and the one with the least visible error wins. The hidden
pixels come out as G imagines them: a GAN that learned digits fills the gap with strokes a digit has.

A mask is 1 where a pixel is visible and 0 where it is hidden; images are floats in [0, 1].
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import models
from .i18n import msg
from .trainer import Trainer

MASKS = ("bottom", "band", "pixels", "noise")
DEFAULT_HIDDEN = 0.4          # the share hidden (or the noise's standard deviation, for "noise")
STEPS = (1, 2000)             # gradient steps on z: the bounds the page and the CLI accept
RESTARTS = (1, 32)            # starts from other z that race; the best visible error wins
MAX_IMAGES = 10_000           # per call: 10,000 x 784 floats64 is 63 MB
MAX_NPY_BYTES = 64 * 2**20    # a .npy file read by the CLI
PRIOR = 1e-3                  # weight of mean(z²): keeps z where G was trained, so hidden parts stay digit-like
LR = 0.05                     # Adam's step on z


class RestoreError(ValueError):
    """Images or masks that cannot be restored; the message says what is wrong."""


# -- damage: what a learner hides ---------------------------------------------------------------------
def damage(images: torch.Tensor, kind: str, amount: float = DEFAULT_HIDDEN,
           seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(damaged images, mask) for images (N, 28, 28) in [0, 1]: "bottom" hides the bottom `amount`
    of the rows, "band" a horizontal band of that height through the middle, "pixels" that share of
    the pixels at random; "noise" hides nothing and adds Gaussian noise of standard deviation
    `amount`. Hidden pixels are drawn black (0); the mask is 1 where a pixel is visible."""
    if kind not in MASKS:
        raise RestoreError(msg("mask must be one of {options}; got {value!r}", options=", ".join(MASKS), value=kind))
    if not 0.0 <= amount <= 1.0:
        raise RestoreError(msg("the hidden share must be between 0 and 1, got {value}", value=amount))
    n = len(images)
    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(n, 28, 28)
    rows = round(28 * amount)
    if kind == "bottom" and rows:
        mask[:, 28 - rows:] = 0
    elif kind == "band" and rows:
        top = (28 - rows) // 2
        mask[:, top:top + rows] = 0
    elif kind == "pixels":
        mask = (torch.rand(n, 28, 28, generator=gen) >= amount).float()
    if kind == "noise":
        noisy = images + amount * torch.randn(images.shape, generator=gen)
        return noisy.clamp(0, 1), mask
    return images * mask, mask


# -- the search ----------------------------------------------------------------------------------------
@dataclass
class Restoration:
    images: torch.Tensor          # (N, 28, 28) G's best image for each input
    z: torch.Tensor               # (N, latent_dim) the winning latent vectors
    labels: torch.Tensor | None   # (N,) the winning digit label (conditional G), else None
    loss: list[float]             # the winners' mean visible error at each recorded step
    frames: list[tuple[int, torch.Tensor]] = dataclasses.field(default_factory=list)  # (step, (N, 28, 28))


def visible_error(fake: torch.Tensor, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the visible pixels of each image: (N,). 0 for an image with none visible."""
    se = ((fake - images) ** 2 * mask).flatten(1).sum(1)     # (N,)
    return se / mask.flatten(1).sum(1).clamp(min=1.0)


def search(G: torch.nn.Module, images: torch.Tensor, mask: torch.Tensor, *, latent_dim: int,
           conditional: bool, steps: int = 200, restarts: int = 4, seed: int = 0, frames: int = 8,
           lr: float = LR, prior: float = PRIOR) -> Restoration:
    """Gradient descent on z through the frozen G: minimise each image's visible error (+ prior·mean z²).

    Every image gets `restarts` starts (times 10 digit labels for a conditional G), all run as one
    batch; the start with the least visible error at the end wins. `frames` snapshots of the winners'
    images are kept, evenly over the steps (the first and last included), for the page to show."""
    _check_counts(steps, restarts, len(images))
    device = next(G.parameters()).device
    n, labels = len(images), models.N_CLASSES if conditional else 1
    k = restarts * labels                                            # starts per image
    x = images.to(device).float().repeat_interleave(k, 0)           # (N·k, 28, 28)
    m = mask.to(device).float().repeat_interleave(k, 0)             # (N·k, 28, 28)
    y = torch.arange(labels, device=device).repeat(n * restarts) if conditional else None   # (N·k,)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n * k, latent_dim, generator=gen).to(device).requires_grad_(True)      # (N·k, latent_dim)
    opt = torch.optim.Adam([z], lr=lr)
    was_training, frozen = G.training, [p.requires_grad for p in G.parameters()]
    G.eval().requires_grad_(False)            # backprop into z only: G's weights get no gradient
    keep = set(np.linspace(0, steps, min(frames, steps + 1)).round().astype(int).tolist())
    loss_curve, shots = [], []
    try:
        for i in range(steps + 1):
            fake = G(z, y).view(-1, 28, 28)                            # (N·k, 28, 28)
            err = visible_error(fake, x, m)                            # (N·k,)
            best = err.detach().view(n, k).argmin(1)                   # (N,) the leading start of each image
            lead = torch.arange(n, device=device) * k + best
            loss_curve.append(float(err.detach()[lead].mean()))
            if i in keep:
                shots.append((i, fake.detach()[lead].cpu()))
            if i == steps:
                break
            loss = (err + prior * z.pow(2).mean(1)).sum()              # each start's own objective, summed
            opt.zero_grad(set_to_none=True)
            loss.backward()                                            # dloss/dz; G's weights want no grad
            opt.step()
    finally:
        for p, req in zip(G.parameters(), frozen):
            p.requires_grad_(req)
        G.train(was_training)
    return Restoration(images=shots[-1][1], z=z.detach()[lead].cpu(),
                       labels=None if y is None else y[lead].cpu(), loss=loss_curve, frames=shots)


def run(t: Trainer, images: torch.Tensor, mask: torch.Tensor, steps: int = 200, restarts: int = 4,
        seed: int = 0, frames: int = 8) -> Restoration:
    """search() through the trainer's G (its EMA when it keeps one), on the worker between two steps."""
    images, mask = check_arrays(images, mask)
    G = t.G_ema if t.settings.ema_decay > 0 else t.G
    return search(G, images, mask, latent_dim=t.spec.latent_dim, conditional=t.spec.conditional,
                  steps=steps, restarts=restarts, seed=seed, frames=frames)


# -- checks at the boundary -----------------------------------------------------------------------------
def _check_counts(steps: int, restarts: int, n: int) -> None:
    for name, value, (low, high) in (("steps", steps, STEPS), ("restarts", restarts, RESTARTS),
                                     ("images", n, (1, MAX_IMAGES))):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RestoreError(msg("{name} must be a whole number from {low} to {high}, got {value!r}",
                                   name=name, low=low, high=high, value=value))


def check_arrays(images, mask) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and mask as float32 tensors (N, 28, 28), checked: same shape, finite, images in [0, 1],
    mask 0 or 1, at most MAX_IMAGES. RestoreError says what is wrong."""
    out = []
    for name, a in (("images", images), ("mask", mask)):
        a = torch.as_tensor(a)
        if not (a.is_floating_point() or a.dtype == torch.bool):
            raise RestoreError(msg("{name} must be floats, got {dtype}", name=name, dtype=str(a.dtype).removeprefix("torch.")))
        if a.ndim != 3 or tuple(a.shape[1:]) != (28, 28) or not 1 <= len(a) <= MAX_IMAGES:
            raise RestoreError(msg("{name} must have the shape (N, 28, 28) with N from 1 to {most}, got {shape}",
                                   name=name, most=MAX_IMAGES, shape=tuple(a.shape)))
        a = a.float()
        if not bool(torch.isfinite(a).all()):
            raise RestoreError(msg("{name} holds values that are not finite numbers", name=name))
        out.append(a)
    images, mask = out
    if images.shape != mask.shape:
        raise RestoreError(msg("images {a} and mask {b} must have the same shape", a=tuple(images.shape), b=tuple(mask.shape)))
    if images.min() < 0 or images.max() > 1:
        raise RestoreError(msg("images must lie in [0, 1], got values from {low:.3g} to {high:.3g}",
                               low=float(images.min()), high=float(images.max())))
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise RestoreError(msg("mask must hold only 0 (hidden) and 1 (visible)"))
    return images, mask


def read_npy(path: str | Path, what: str) -> np.ndarray:
    """A .npy file's array, read without pickles and in bounded memory: its header's shape and dtype
    are checked against the limits and the file's size before any data is read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_NPY_BYTES:
            raise RestoreError(msg("{what} {path}: {mb:.0f} MB; the limit is {limit:.0f} MB", what=what, path=str(path),
                                   mb=size / 2**20, limit=MAX_NPY_BYTES / 2**20))
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            shape, _, dtype = _header(f, version)
            if dtype.hasobject:
                raise RestoreError(msg("{what} {path}: holds Python objects, which are never read", what=what, path=str(path)))
            if len(shape) != 3 or tuple(shape[1:]) != (28, 28) or not 1 <= shape[0] <= MAX_IMAGES:
                raise RestoreError(msg("{what} {path}: shape {shape}; expected (N, 28, 28) with N from 1 to {most}",
                                       what=what, path=str(path), shape=tuple(shape), most=MAX_IMAGES))
            if f.tell() + int(np.prod(shape)) * dtype.itemsize != size:
                raise RestoreError(msg("{what} {path}: the header's shape does not match the file's size (truncated?)",
                                       what=what, path=str(path)))
        return np.load(path, allow_pickle=False)
    except RestoreError:
        raise
    except (ValueError, OSError, EOFError, TypeError) as e:
        raise RestoreError(msg("{what} {path}: not a readable .npy file ({reason})", what=what, path=str(path),
                               reason=str(e).splitlines()[0][:160] if str(e) else type(e).__name__)) from None


def _header(f, version: tuple[int, int]) -> tuple[tuple[int, ...], bool, np.dtype]:
    # numpy's public header readers, one per format version
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    raise ValueError(f"unsupported .npy version {version}")


# -- the page's experiment, as one job on the session's worker ---------------------------------------------
@dataclass
class Demo:
    original: torch.Tensor        # (28, 28)
    damaged: torch.Tensor         # (28, 28), hidden pixels black
    mask: torch.Tensor            # (28, 28), 1 visible
    result: Restoration
    reads: dict[str, tuple[int, float]]   # "original" / "damaged" / "restored" -> the judge's (digit, confidence)

    def panels(self) -> list[tuple[str, torch.Tensor]]:
        """("original" | "damaged" | "restored", (1, 1, 28, 28)); the damaged one with its hidden pixels
        in gray, so the gap shows."""
        shown = self.damaged * self.mask + 0.35 * (1 - self.mask)
        return [(k, v.view(1, 1, 28, 28)) for k, v in
                (("original", self.original), ("damaged", shown), ("restored", self.result.images[0]))]

    def strip(self) -> tuple[list[int], torch.Tensor]:
        """The search's recorded steps and the leading image at each: (frames, 1, 28, 28)."""
        return [s for s, _ in self.result.frames], torch.stack([f[0] for _, f in self.result.frames]).unsqueeze(1)


def demo(t: Trainer, image, kind: str, amount: float = DEFAULT_HIDDEN, steps: int = 150,
         restarts: int = 4, seed: int = 0, frames: int = 8) -> Demo:
    """Damage one image (28, 28: uint8, or floats in [0, 1]), restore it through the trainer's G, and
    ask the digit judge what it reads in the original, the damaged and the restored image."""
    from . import judge   # the judge's weights load on first use, here on the worker
    image = torch.as_tensor(np.asarray(image))
    image = image.float() / 255.0 if image.dtype == torch.uint8 else image.float()
    x, mask = damage(image.float().view(1, 28, 28), kind, amount, seed)
    result = run(t, x, mask, steps, restarts, seed, frames)
    probs = judge.predict(torch.stack([image.float().view(28, 28), x[0], result.images[0]]))   # (3, 10)
    conf, digit = probs.max(1)
    reads = {k: (int(d), float(c)) for k, d, c in zip(("original", "damaged", "restored"), digit, conf)}
    return Demo(image.float().view(28, 28), x[0], mask[0], result, reads)
