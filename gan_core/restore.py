"""Restoration by backprop into the input: find the latent vector whose image best matches what is
left of a damaged digit.

G is frozen (its EMA, no weight changes); the only thing that learns is z. Each step runs the seed's
four stages with the roles turned round: forward G(z), a loss on the visible pixels only,
backward to z (not to the weights), an Adam update of z. Several restarts from other z (and, for a
conditional G, every digit label) race, and the one with the least objective (the visible error,
plus the prior on z and, when asked, D's verdict) wins. The hidden pixels come out as G imagines
them: a GAN that learned digits fills the gap with strokes a digit has. Super-resolution (upscale)
is the same search with another error: the block means of G(z) against a 7x7 or 14x14 digit.

A mask is 1 where a pixel is visible and 0 where it is hidden; images are floats in [0, 1].
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import models
from .i18n import msg
from .trainer import Trainer

MASKS = ("bottom", "band", "pixels", "noise")
DEFAULT_HIDDEN = 0.4          # the share hidden (or the noise's standard deviation, for "noise")
STEPS = (1, 2000)             # gradient steps on z: the bounds the page and the CLI accept
RESTARTS = (1, 32)            # starts from other z that race; the least objective wins
MAX_IMAGES = 10_000           # per call: 10,000 x 784 floats64 is 63 MB
MAX_NPY_BYTES = 64 * 2**20    # a .npy file read by the CLI
CHUNK = 64                    # images searched at once: 64 x 40 starts of a conditional G, ~25 MB of G's activations
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
@dataclass(frozen=True)
class SearchSettings:
    """How the search runs: the one set of defaults the page, the CLI and the benchmark read."""
    steps: int = 200          # gradient steps on z
    restarts: int = 4         # starts from other z per image (times 10 digit labels for a conditional G)
    lr: float = LR            # Adam's step on z
    prior: float = PRIOR      # weight of mean(z²)
    realism: float = 0.0      # weight of D's "fake" loss softplus(-D(G(z))): D's taste for real digits


DEFAULTS = SearchSettings()


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


def pool(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 28, 28) -> (N, size, size): each pixel the mean of a block (size 7 or 14)."""
    return F.avg_pool2d(images.unsqueeze(1), 28 // size).squeeze(1)


def pooled_error(fake: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the block means of each image (N, 28, 28) and low (N, s, s): (N,)."""
    return ((pool(fake, low.shape[-1]) - low) ** 2).flatten(1).mean(1)


def search(G: torch.nn.Module, images: torch.Tensor, mask: torch.Tensor, *, latent_dim: int,
           conditional: bool, settings: SearchSettings = DEFAULTS, seed: int = 0, frames: int = 8,
           D: torch.nn.Module | None = None, **changes) -> Restoration:
    """Gradient descent on z through the frozen G: minimise each image's visible error, plus
    prior·mean z², plus realism·softplus(-D(G(z))) when D is given.

    Every image gets `restarts` starts (times 10 digit labels for a conditional G), all run as one
    batch; the start with the least objective at the end wins. `frames` snapshots of the winners'
    images are kept, evenly over the steps (the first and last included), for the page to show.
    Keyword `changes` replace fields of `settings` (steps=, restarts=, lr=, prior=, realism=)."""
    settings = dataclasses.replace(settings, **changes)
    _check_counts(settings.steps, settings.restarts, len(images))
    return _descend(G, visible_error, (images, mask), latent_dim=latent_dim, conditional=conditional,
                    settings=settings, seed=seed, frames=frames, D=D)


def _descend(G, error, targets: tuple[torch.Tensor, ...], *, latent_dim: int, conditional: bool,
             settings: SearchSettings, seed: int, frames: int, D) -> Restoration:
    # error(fake (B, 28, 28), *targets, each repeated for the k starts of its image) -> (B,). Images
    # go CHUNK at a time, so memory is bounded for any N; z is drawn chunk after chunk from one seed.
    gen = torch.Generator().manual_seed(seed)
    keep = sorted(set(np.linspace(0, settings.steps, min(frames, settings.steps + 1)).round().astype(int).tolist()))
    parts = [_descend_chunk(G, error, [t[c:c + CHUNK] for t in targets], gen, keep, latent_dim=latent_dim,
                            conditional=conditional, s=settings, D=D)
             for c in range(0, len(targets[0]), CHUNK)]
    n = [len(p[0]) for p in parts]
    curve = (torch.tensor([p[3] for p in parts]) * torch.tensor(n).unsqueeze(1)).sum(0) / sum(n)   # per image
    shots = [(step, torch.cat([p[4][j] for p in parts])) for j, step in enumerate(keep)]
    return Restoration(images=shots[-1][1], z=torch.cat([p[1] for p in parts]),
                       labels=None if parts[0][2] is None else torch.cat([p[2] for p in parts]),
                       loss=curve.tolist(), frames=shots)


def _descend_chunk(G, error, targets, gen, keep, *, latent_dim, conditional, s, D):
    device = next(G.parameters()).device
    n, labels = len(targets[0]), models.N_CLASSES if conditional else 1
    k = s.restarts * labels                                          # starts per image
    targets = [t.to(device).float().repeat_interleave(k, 0) for t in targets]   # each (n·k, ...)
    y = torch.arange(labels, device=device).repeat(n * s.restarts) if conditional else None   # (n·k,)
    z = torch.randn(n * k, latent_dim, generator=gen).to(device).requires_grad_(True)      # (n·k, latent_dim)
    opt = torch.optim.Adam([z], lr=s.lr)
    use_d = D is not None and s.realism > 0
    nets = [G, D] if use_d else [G]
    state = [(m.training, [p.requires_grad for p in m.parameters()]) for m in nets]
    for m in nets:
        m.eval().requires_grad_(False)        # backprop into z only: no weight gets a gradient
    curve, shots = [], []
    try:
        for step in range(s.steps + 1):
            fake = G(z, y).view(-1, 28, 28)                            # (n·k, 28, 28)
            err = error(fake, *targets)                                # (n·k,)
            objective = err + s.prior * z.pow(2).mean(1)               # (n·k,) each start's own
            if use_d:
                objective = objective + s.realism * F.softplus(-D(fake.unsqueeze(1), y))
            best = objective.detach().view(n, k).argmin(1)             # (n,) the leading start of each image
            lead = torch.arange(n, device=device) * k + best
            curve.append(float(err.detach()[lead].mean()))
            if step in keep:
                shots.append(fake.detach()[lead].cpu())
            if step == s.steps:
                break
            opt.zero_grad(set_to_none=True)
            objective.sum().backward()                                 # d/dz; the weights want no grad
            opt.step()
    finally:
        for m, (training, flags) in zip(nets, state):
            for p, req in zip(m.parameters(), flags):
                p.requires_grad_(req)
            m.train(training)
    return shots[-1], z.detach()[lead].cpu(), None if y is None else y[lead].cpu(), curve, shots


def upscale(G: torch.nn.Module, low: torch.Tensor, *, latent_dim: int, conditional: bool,
            settings: SearchSettings = DEFAULTS, seed: int = 0, frames: int = 8,
            D: torch.nn.Module | None = None, **changes) -> Restoration:
    """Super-resolution by the same search: the z whose image's block means match `low` (N, 7, 7) or
    (N, 14, 14), floats in [0, 1]. Restoration.images are (N, 28, 28); its loss is the pooled error."""
    low = check_low(low)
    settings = dataclasses.replace(settings, **changes)
    _check_counts(settings.steps, settings.restarts, len(low))
    return _descend(G, pooled_error, (low,), latent_dim=latent_dim, conditional=conditional,
                    settings=settings, seed=seed, frames=frames, D=D)


def _nets(t: Trainer) -> dict:
    # the trainer's G (its EMA when it keeps one) and D, as search and upscale take them
    G = t.G_ema if t.settings.ema_decay > 0 else t.G
    return dict(latent_dim=t.spec.latent_dim, conditional=t.spec.conditional, D=t.D, G=G)


def run(t: Trainer, images: torch.Tensor, mask: torch.Tensor, steps: int = DEFAULTS.steps,
        restarts: int = DEFAULTS.restarts, seed: int = 0, frames: int = 8,
        settings: SearchSettings = DEFAULTS) -> Restoration:
    """search() through the trainer's G and D, on the worker between two steps."""
    images, mask = check_arrays(images, mask)
    settings = dataclasses.replace(settings, steps=steps, restarts=restarts)
    nets = _nets(t)
    return search(nets.pop("G"), images, mask, settings=settings, seed=seed, frames=frames, **nets)


def run_upscale(t: Trainer, low, steps: int = DEFAULTS.steps, restarts: int = DEFAULTS.restarts,
                seed: int = 0, frames: int = 8, settings: SearchSettings = DEFAULTS) -> Restoration:
    """upscale() through the trainer's G and D, on the worker between two steps."""
    settings = dataclasses.replace(settings, steps=steps, restarts=restarts)
    nets = _nets(t)
    return upscale(nets.pop("G"), low, settings=settings, seed=seed, frames=frames, **nets)


# -- checks at the boundary -----------------------------------------------------------------------------
def _check_counts(steps: int, restarts: int, n: int) -> None:
    for name, value, (low, high) in (("steps", steps, STEPS), ("restarts", restarts, RESTARTS),
                                     ("images", n, (1, MAX_IMAGES))):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RestoreError(msg("{name} must be a whole number from {low} to {high}, got {value!r}",
                                   name=name, low=low, high=high, value=value))


LOW_SIZES = (7, 14)            # the small images super-resolution takes: blocks of 4x4 or 2x2 pixels


def _as_floats(name: str, a, sizes: tuple[int, ...]) -> torch.Tensor:
    # a float32 tensor (N, s, s) with s in sizes and 1 <= N <= MAX_IMAGES, all finite; or RestoreError
    a = torch.as_tensor(a)
    if not (a.is_floating_point() or a.dtype == torch.bool):
        raise RestoreError(msg("{name} must be floats, got {dtype}", name=name, dtype=str(a.dtype).removeprefix("torch.")))
    if a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[1] not in sizes or not 1 <= len(a) <= MAX_IMAGES:
        shapes = " or ".join(f"(N, {k}, {k})" for k in sizes)
        raise RestoreError(msg("{name} must have the shape {shapes} with N from 1 to {most}, got {shape}",
                               name=name, shapes=shapes, most=MAX_IMAGES, shape=tuple(a.shape)))
    a = a.float()
    if not bool(torch.isfinite(a).all()):
        raise RestoreError(msg("{name} holds values that are not finite numbers", name=name))
    return a


def _in_unit_range(name: str, a: torch.Tensor) -> torch.Tensor:
    if a.min() < 0 or a.max() > 1:
        raise RestoreError(msg("{name} must lie in [0, 1], got values from {low:.3g} to {high:.3g}",
                               name=name, low=float(a.min()), high=float(a.max())))
    return a


def check_low(low) -> torch.Tensor:
    """Small images for super-resolution as a float32 tensor (N, 7, 7) or (N, 14, 14), checked: floats,
    finite, in [0, 1], at most MAX_IMAGES. RestoreError says what is wrong."""
    return _in_unit_range("images", _as_floats("images", low, LOW_SIZES))


def check_arrays(images, mask) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and mask as float32 tensors (N, 28, 28), checked: same shape, finite, images in [0, 1],
    mask 0 or 1, at most MAX_IMAGES. RestoreError says what is wrong."""
    images, mask = _as_floats("images", images, (28,)), _as_floats("mask", mask, (28,))
    if images.shape != mask.shape:
        raise RestoreError(msg("images {a} and mask {b} must have the same shape", a=tuple(images.shape), b=tuple(mask.shape)))
    _in_unit_range("images", images)
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise RestoreError(msg("mask must hold only 0 (hidden) and 1 (visible)"))
    return images, mask


def read_npy(path: str | Path, what: str, sizes: tuple[int, ...] = (28,)) -> np.ndarray:
    """A .npy file's array (N, s, s) with s in `sizes`, read without pickles and in bounded memory: its
    header's shape and dtype are checked against the limits and the file's size before any data is read."""
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
            if (len(shape) != 3 or shape[1] != shape[2] or shape[1] not in sizes
                    or not 1 <= shape[0] <= MAX_IMAGES):
                raise RestoreError(msg("{what} {path}: shape {shape}; expected {shapes} with N from 1 to {most}",
                                       what=what, path=str(path), shape=tuple(shape), most=MAX_IMAGES,
                                       shapes=" or ".join(f"(N, {k}, {k})" for k in sizes)))
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
    kind: str = "bottom"          # the mask of MASKS, or the small size of LOW_KINDS

    def panels(self) -> list[tuple[str, torch.Tensor]]:
        """("original" | "damaged" | "restored", (1, 1, 28, 28)); the damaged one with its hidden pixels
        in gray, so the gap shows."""
        shown = self.damaged * self.mask + 0.35 * (1 - self.mask)
        return [(k, v.view(1, 1, 28, 28)) for k, v in
                (("original", self.original), ("damaged", shown), ("restored", self.result.images[0]))]

    def strip(self) -> tuple[list[int], torch.Tensor]:
        """The search's recorded steps and the leading image at each: (frames, 1, 28, 28)."""
        return [s for s, _ in self.result.frames], torch.stack([f[0] for _, f in self.result.frames]).unsqueeze(1)


LOW_KINDS = {"low7": 7, "low14": 14}   # the page's super-resolution choices beside the masks: the small size


def enlarge(low: torch.Tensor) -> torch.Tensor:
    """(N, s, s) -> (N, 28, 28), each pixel repeated over its block (nearest): how the small image is shown."""
    return low.repeat_interleave(28 // low.shape[-1], 1).repeat_interleave(28 // low.shape[-1], 2)


def demo(t: Trainer, image, kind: str, amount: float = DEFAULT_HIDDEN, steps: int = DEFAULTS.steps,
         restarts: int = DEFAULTS.restarts, seed: int = 0, frames: int = 8) -> Demo:
    """Damage one image (28, 28: uint8, or floats in [0, 1]) by a mask of MASKS, or shrink it to one of
    LOW_KINDS, restore it through the trainer's G, and ask the digit judge what it reads in the original,
    the damaged (or enlarged small) and the restored image."""
    from . import judge   # the judge's weights load on first use, here on the worker
    image = torch.as_tensor(np.asarray(image))
    image = image.float() / 255.0 if image.dtype == torch.uint8 else image.float()
    if kind in LOW_KINDS:    # super-resolution: G sees the block means only, shown enlarged
        low = pool(image.view(1, 28, 28), LOW_KINDS[kind])                                  # (1, s, s)
        result = run_upscale(t, low, steps, restarts, seed, frames)
        x, mask = enlarge(low), torch.ones(1, 28, 28)
    else:
        x, mask = damage(image.float().view(1, 28, 28), kind, amount, seed)
        result = run(t, x, mask, steps, restarts, seed, frames)
    probs = judge.predict(torch.stack([image.float().view(28, 28), x[0], result.images[0]]))   # (3, 10)
    conf, digit = probs.max(1)
    reads = {k: (int(d), float(c)) for k, d, c in zip(("original", "damaged", "restored"), digit, conf)}
    return Demo(image.float().view(28, 28), x[0], mask[0], result, reads, kind)
