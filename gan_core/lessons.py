"""A guided path through the lesson (backprop, D's step, G's step, repeat, what goes wrong), each stop
with one-click experiments that set the studio up to show it.

A Preset is a model spec and live settings, both validated by config like any visitor's, plus what it
promises: the diagnosis rule (diagnosis.py) that names its failure within `steps` training steps, or
None for a run that must not fail, and what the digit judge reads in G's samples after those steps
(a Quality: legible share, digits present), so a promise covers what the grid shows too. `rehearse()`
trains a preset's Trainer as the session would, reports the first step at which each rule spoke and
the judge's reading at the end; the tests hold every preset to its promise. `Outcome.of(trainer)` is
that reading with the grid beside it, for the page to show two experiments' ends side by side.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

import numpy as np

from . import build, config, diagnosis, judge, metrics, probe, render
from .config import LiveSettings, ModelSpec
from .data import Digits
from .history import MetricHistory
from .i18n import N_
from .trainer import DivergenceError, Trainer

CHECK_EVERY = 10   # steps between two readings of the diagnosis in a rehearsal (the page reads it every second)
PAGE_JUDGE_EVERY_S = 1.0   # on the page, a preset whose finding rests on the judge has G read this often
SEED_MODEL = dict(arch="mlp", conditional=False)   # the seed's own model: fast, and every failure shows on it
OUTCOME_N = 500    # samples the judge reads for an outcome: ~1 s on a busy core; shares to about ±2%


@dataclass(frozen=True)
class Outcome:
    """What a run has come to: G's fixed grid as the page draws it, and what the judge reads in n
    samples of G's EMA (fixed latents, so two runs are read on the same z)."""
    step: int
    mosaic: np.ndarray          # uint8 (H, W): render.grid_array of the fixed grid, 8 to a row
    counts: tuple[int, ...]     # samples the judge reads as each digit 0..9 (its most probable class)
    legible: tuple[int, ...]    # of those, the ones read with confidence over metrics.CONFIDENT

    @property
    def n(self) -> int:
        return sum(self.counts)

    @property
    def legible_share(self) -> float:
        return sum(self.legible) / max(self.n, 1)

    @property
    def classes(self) -> int:
        """How many different digits the legible samples are read as (0..10)."""
        return sum(c > 0 for c in self.legible)

    @property
    def top_share(self) -> float:
        """The share of the samples read as the most common digit (1.0: every sample one digit)."""
        return max(self.counts) / max(self.n, 1)

    @classmethod
    def of(cls, t: Trainer, n: int = OUTCOME_N, seed: int = 0) -> "Outcome":
        """Read a trainer's G (on the session's worker, between two steps: it only reads)."""
        z = torch.randn(n, t.spec.latent_dim, generator=torch.Generator().manual_seed(seed))   # (n, latent_dim)
        y = torch.arange(n) % 10 if t.spec.conditional else None
        probs = judge.predict(t.generate(z, y))                                               # (n, 10)
        read, sure = probs.argmax(dim=1), probs.max(dim=1).values > metrics.CONFIDENT         # (n,), (n,)
        return cls(t.step_count, render.grid_array(t.grid(), nrow=8),
                   tuple(torch.bincount(read, minlength=10).tolist()),
                   tuple(torch.bincount(read[sure], minlength=10).tolist()))


@dataclass(frozen=True)
class Quality:
    """What the judge must read in a preset's samples after its steps (bounds inclusive)."""
    min_legible: float = 0.0    # legible share at least
    max_legible: float = 1.0    # ... at most
    min_classes: int = 0        # digits present among the legible samples, at least
    min_top: float = 0.0        # share of the most common digit among all samples, at least (a collapse)

    def kept(self, o: Outcome) -> bool:
        return (self.min_legible <= o.legible_share <= self.max_legible and o.classes >= self.min_classes
                and o.top_share >= self.min_top)


@dataclass(frozen=True)
class Preset:
    key: str
    title: str                          # N_: translated where drawn
    what: str                           # N_: what to watch, in a sentence or two
    promise: str | None                 # the diagnosis rule that names the failure; None: no rule may fire
    steps: int                          # within this many steps
    spec: dict[str, Any] = field(default_factory=dict)       # ModelSpec fields (the rest: defaults)
    settings: dict[str, Any] = field(default_factory=dict)   # LiveSettings fields (the rest: defaults)
    quality_every: int = 0              # steps between judge readings in a rehearsal (0: none needed)
    quality: Quality | None = None      # what the judge reads in G's samples after `steps` (None: no promise)
    diagnosed: bool = True              # False: the diagnosis is no part of the promise (the judge's reading is)

    @property
    def judge_every_s(self) -> float | None:
        """How often the page's session has the judge read G for this preset (None: the server's default)."""
        return PAGE_JUDGE_EVERY_S if self.quality_every else None

    def configs(self, seed: int | None = None) -> tuple[ModelSpec, LiveSettings]:
        """The preset's ModelSpec and LiveSettings, validated (ConfigError), with another seed if given."""
        spec = {**self.spec, **({} if seed is None else {"seed": seed})}
        return config.validate(ModelSpec, **spec), config.validate(LiveSettings, **self.settings)


PRESETS = {p.key: p for p in (
    Preset("d_strong", N_("D too strong"),
           N_("D learns ten times faster than G and takes three steps to its one. Within a few dozen steps D says "
              "1 to every real digit and 0 to every generated one: the curves of D(x) and D(G(z)) split apart "
              "and G's gradients have nothing useful to say."),
           "d_winning", 100, SEED_MODEL, dict(lr_d=1e-2, lr_g=1e-4, d_steps=3, batch_size=64)),
    Preset("g_strong", N_("G too strong"),
           N_("D barely learns (its learning rate is a thousandth of G's), so G learns to please a judge that no "
              "longer changes: D(G(z)) climbs above D(x), while the grid shows no digits at all."),
           "g_winning", 150, SEED_MODEL, dict(lr_d=1e-5, lr_g=1e-2, batch_size=64)),
    Preset("collapse", N_("Mode collapse"),
           N_("G learns two hundred times faster than D, with long momentum: G finds one image that D likes and draws "
              "it for every z. Watch the grid's 64 cells turn into copies of one blot."),
           "mode_collapse", 100, SEED_MODEL, dict(lr_d=1e-4, lr_g=2e-2, beta1=0.9, batch_size=64), quality_every=25,
           quality=Quality(min_top=0.9)),   # the judge reads (nearly) every sample as one digit
    Preset("oscillation", N_("Oscillation"),
           N_("Both learning rates are thirty times the default and Adam's momentum is long: each player "
              "overshoots the other's last move, and the losses swing up and down instead of settling."),
           "oscillation", 150, SEED_MODEL, dict(lr_d=5e-2, lr_g=5e-2, beta1=0.9, batch_size=64)),
    Preset("divergence", N_("Divergence"),
           N_("The Wasserstein loss without its gradient penalty, at a huge learning rate: nothing bounds D's "
              "scores, so they run away, and the losses reach the thousands within a few dozen steps."),
           "divergence", 50, SEED_MODEL, dict(lr_d=1e-1, lr_g=1e-1, loss="wgan-gp", gp_weight=0.0, batch_size=64)),
    Preset("cure", N_("The cure: WGAN-GP"),
           N_("The Wasserstein loss with its gradient penalty (λ = 10), on the same networks: D becomes a critic "
              "whose slope is held near 1, so its scores cannot run away and G always gets a useful gradient, "
              "even at ten times the collapse's D rate. No failure should be diagnosed, and within 1,500 steps "
              "(about half a minute) the grid shows most of the ten digits."),
           None, 1500, SEED_MODEL, dict(lr_d=1e-3, lr_g=1e-3, beta1=0.5, beta2=0.9, loss="wgan-gp", gp_weight=10.0,
                                        batch_size=64),
           # docs/lesson.md "The cure, measured": seeds 0-4 at 1,500 steps read 30-40% legible, 9 digits
           quality=Quality(min_legible=0.2, min_classes=8)),
    Preset("sgd_d", N_("D on SGD, G on Adam"),
           N_("The seed's first answer to unstable training is the optimizer. Here D takes plain SGD steps at "
              "G's learning rate, while G keeps Adam. Adam scales each step to the gradient's size, SGD does not, "
              "so D's steps are tiny: D falls behind, and G learns to please a judge that barely changes. Switch "
              "D back to Adam in the sidebar and watch D catch up."),
           # benchmarks/cure.py sgd_d, seeds 0 and 1: G is winning from step 40, 0% legible at 300 and 1,000 steps
           "g_winning", 150, SEED_MODEL,
           dict(optimizer_d="sgd", optimizer_g="adam", momentum=0.0, lr_d=1.5e-3, lr_g=1.5e-3, batch_size=64)),
    Preset("seed_mlp", N_("The seed's MLP"),
           N_("The seed's own networks (one hidden layer of 128 each) with the studio's usual settings, "
              "unconditional. Compare its grid after the same steps with the wider MLP's and the conv net's."),
           None, 1500, SEED_MODEL, {}, quality=Quality(max_legible=0.55), diagnosed=False),
    Preset("wide_mlp", N_("A wider MLP"),
           N_("The same settings and steps with G and D two layers deep and up to 512 wide: "
              "more capacity to draw strokes, at about a quarter of the speed."),
           None, 1500, dict(arch="mlp_wide", conditional=False), {}, quality=Quality(min_legible=0.45, min_classes=8),
           diagnosed=False),
    Preset("conv_net", N_("A small conv net"),
           N_("The same settings and steps with convolutions: G paints 7x7, then 14x14, then 28x28 "
              "maps, and D looks at local strokes first."),
           None, 1500, dict(arch="conv", conditional=False), {}, quality=Quality(min_legible=0.45, min_classes=8),
           diagnosed=False),
)}


@dataclass(frozen=True)
class Stop:
    key: str
    title: str          # N_
    text: str           # N_: the lesson at this stop, in Markdown
    presets: tuple[str, ...]


STOPS = (
    Stop("backprop", N_("1 · Backprop"),
         N_("Every update is the same four stages: **forward** (run the network), **loss** (one number saying how "
            "wrong it was), **backward** (the gradient of that number with respect to every weight, by the chain "
            "rule), **update** (each weight takes a small step against its gradient)."), ()),
    Stop("d_step", N_("2 · D's step"),
         N_("D sees a real batch and a generated one and descends L_D: it learns to say 1 to real digits and 0 to "
            "G's. G is frozen here. If D learns far faster than G, it wins outright."), ("d_strong",)),
    Stop("g_step", N_("3 · G's step"),
         N_("G draws a fresh batch and descends L_G: the gradient flows back through D, whose weights stay "
            "frozen, into G. D's judgement is G's only teacher: if D stops learning, G learns to fool it, not "
            "to draw."), ("g_strong",)),
    Stop("repeat", N_("4 · Repeat"),
         N_("The two steps alternate thousands of times. It is a game, not a descent: each player's step changes "
            "the other's landscape, so it can circle or settle on a single answer."), ("collapse", "oscillation")),
    Stop("wrong", N_("5 · What goes wrong, and the cure"),
         N_("With steps too large the game runs away. The seed's cure is the Wasserstein loss: D becomes a critic "
            "with a bounded slope (here kept by a gradient penalty), which keeps the game stable."),
         ("divergence", "cure")),
    Stop("questions", N_("6 · The seed's questions"),
         N_("Three things go wrong in practice, and each has an experiment here. **Training is unstable?** A "
            "learning rate too high: Oscillation and Divergence; lower the rates. Or the optimizer: D on SGD "
            "against G on Adam. **Mode collapse?** Run Mode "
            "collapse, then the cure, and compare their ends below: one blot read as one digit against most of "
            "the ten. **The images are poor?** Give the networks room: the seed's MLP, a wider MLP and a small "
            "conv net, the same settings for the same steps; the digit judge reads the bigger ones better."),
         ("oscillation", "divergence", "sgd_d", "collapse", "cure", "seed_mlp", "wide_mlp", "conv_net")),
)


@dataclass
class Rehearsal:
    first: dict[str, int]        # rule name -> the first step at which it spoke
    steps: int                   # steps trained
    nan_at: int | None = None    # a step that produced NaN (the session would rewind there)
    outcome: Outcome | None = None   # the judge's reading after the last step (when the preset promises one)

    def kept(self, p: Preset) -> bool:
        """Did the run keep the preset's promise within its steps, the judge's part included?"""
        if p.quality is not None and (self.outcome is None or not p.quality.kept(self.outcome)):
            return False
        if not p.diagnosed:
            return self.nan_at is None
        if p.promise is None:
            return not self.first and self.nan_at is None
        return self.first.get(p.promise, p.steps + 1) <= p.steps


def rehearse(p: Preset, seed: int, digits: Digits, steps: int | None = None) -> Rehearsal:
    """Train the preset's model as a session would (build.trainer, Trainer.step, the session's history
    cap) for `steps` (default: the preset's) and read the diagnosis every CHECK_EVERY steps, with a
    judge report every `quality_every` steps when the preset needs one, and an Outcome at the end
    when the preset promises a Quality."""
    spec, settings = p.configs(seed)
    t, _ = build.trainer(spec, settings, digits)
    history, quality, gen = MetricHistory(1000), [], torch.Generator().manual_seed(seed)
    first: dict[str, int] = {}
    steps = p.steps if steps is None else steps
    for i in range(1, steps + 1):
        try:
            history.append(t.step())
        except DivergenceError:
            return Rehearsal(first, i, nan_at=i)
        if p.quality_every and i % p.quality_every == 0:
            quality.append({"step": i, **probe.quality(t, gen, n=128)})
        if i % CHECK_EVERY == 0:
            for f in diagnosis.diagnose(history.columns(), quality):
                first.setdefault(f.name, i)
    return Rehearsal(first, steps, outcome=None if p.quality is None else Outcome.of(t))
