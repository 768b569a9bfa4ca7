"""Data augmentation, as an experiment a learner can read honestly: does adding G's digits help a
small classifier that has seen only a few real ones?

For each seed: k real digits per class from the train split, a classifier trained on them alone,
and the same classifier (same init, same steps) trained on them plus n generated digits per class
from a conditional G (its label is the class asked for); both are scored on the held-out digits.
The verdict compares the paired differences with their spread, so a gain within the noise is
called what it is.
"""
from __future__ import annotations

import concurrent.futures
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import data, models
from .config import ConfigError
from .i18n import msg
from .trainer import Trainer

K = 10              # real digits per class: few, so that more data could matter
GENERATED = 50      # generated digits per class
SEEDS = 5           # paired runs; the spread comes from these
STEPS = 100         # full-batch Adam steps of the classifier (the same with and without)
HIDDEN = 64         # 784 -> 64 -> 10: small, trained in well under a second
LIMITS = dict(k=(1, 100), generated=(0, 500), seeds=(1, 10))


@dataclass(frozen=True)
class Result:
    k: int
    generated: int
    without: list[float]      # held-out accuracy per seed, real digits only
    with_g: list[float]       # the same seeds, real plus generated digits

    @property
    def gains(self) -> list[float]:
        return [b - a for a, b in zip(self.without, self.with_g)]

    def summary(self) -> dict[str, float]:
        """Means, spreads (sample standard deviation) and the paired gain's mean and standard error."""
        g = self.gains
        return {"without": _mean(self.without), "without_sd": _sd(self.without),
                "with": _mean(self.with_g), "with_sd": _sd(self.with_g),
                "gain": _mean(g), "gain_se": _sd(g) / math.sqrt(len(g))}

    def verdict(self) -> str:
        """"helped", "hurt" or "unclear": a mean gain beyond twice its standard error, either way."""
        s = self.summary()
        if len(self.gains) < 2:
            return "unclear"
        if s["gain"] > 2 * s["gain_se"]:
            return "helped"
        if s["gain"] < -2 * s["gain_se"]:
            return "hurt"
        return "unclear"


def _mean(v: list[float]) -> float:
    return sum(v) / len(v)


def _sd(v: list[float]) -> float:
    if len(v) < 2:
        return 0.0
    m = _mean(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def generated_digits(t: Trainer, per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """per_class images of each digit (10·per_class, 28, 28) from a conditional G's EMA, and their
    labels: run on the session's worker."""
    if not t.spec.conditional:
        raise ConfigError(msg("this model is not conditional: turn on Conditional and Reset"))
    n = models.N_CLASSES * per_class
    z = torch.randn(n, t.spec.latent_dim, generator=torch.Generator().manual_seed(seed))
    y = torch.arange(models.N_CLASSES).repeat_interleave(per_class)          # (n,)
    return t.generate(z, y).view(n, 28, 28), y


def _pick(labels: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    # k indices of each class, at random
    return torch.cat([idx[torch.randperm(len(idx), generator=gen)[:k]]
                      for idx in (torch.nonzero(labels == c).flatten() for c in range(models.N_CLASSES))])


def classifier_accuracy(x: torch.Tensor, y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                        seed: int, steps: int = STEPS) -> float:
    """Train 784 -> HIDDEN -> 10 on (x, y) with full-batch Adam from a seeded init; its accuracy on the test set."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, models.N_CLASSES))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    for _ in range(steps):
        loss = F.cross_entropy(net(x), y)                      # x (n, 28, 28) in [0, 1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((net(test_x).argmax(1) == test_y).float().mean())


def run(fake: torch.Tensor, fake_labels: torch.Tensor, *, k: int = K, seeds: int = SEEDS,
        digits: data.Digits | None = None, steps: int = STEPS) -> Result:
    """The experiment on the bundled digits' split (data.held_out_split): train on k real digits per
    class with and without `fake` (its labels in fake_labels), score on the 1,000 held-out digits."""
    for name, value in (("k", k), ("seeds", seeds), ("generated", len(fake) // models.N_CLASSES)):
        low, high = LIMITS[name]
        if not low <= value <= high:
            raise ConfigError(msg("{name} must be between {low} and {high}, got {value}", name=name, low=low,
                                  high=high, value=value))
    digits = digits or data.load("bundled")[0]
    train_idx, test_idx = data.held_out_split(digits)
    images = digits.images.float() / 255.0                                     # (N, 28, 28)
    test_x, test_y = images[test_idx], digits.labels[test_idx]
    fake = fake.float().view(-1, 28, 28)
    without, with_g = [], []
    for seed in range(seeds):
        pick = train_idx[_pick(digits.labels[train_idx], k, torch.Generator().manual_seed(seed))]
        x, y = images[pick], digits.labels[pick]
        without.append(classifier_accuracy(x, y, test_x, test_y, seed, steps))
        with_g.append(classifier_accuracy(torch.cat([x, fake]), torch.cat([y, fake_labels]), test_x, test_y, seed, steps))
    return Result(k, len(fake) // models.N_CLASSES, without, with_g)


# -- off the page's thread and off the trainer's ------------------------------------------------------
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="gan-augment")


def start(fake: torch.Tensor, fake_labels: torch.Tensor, **kw) -> concurrent.futures.Future:
    """run() on a background thread of its own (one experiment at a time per process, the others
    queue), so neither the page nor the trainer waits for it; the Future holds the Result."""
    return _pool.submit(run, fake, fake_labels, **kw)


def sampler(per_class: int = GENERATED, seed: int = 0):
    """A job for TrainingSession.call: the generated digits and their labels."""
    return lambda t: generated_digits(t, per_class, seed)

