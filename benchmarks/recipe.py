"""How soon does the default model's grid read as digits, and how good are its samples later?

    python benchmarks/recipe.py [--arch mlp_wide] [--seeds 0 1 2] [--max-steps 1200] [--every 50]
                                [--budget-steps 2400] [--steps-per-s 40] [--threads 1]
                                [--set lr_g=2e-3 ...] [--bias-init trainer|random|mean]
                                [--warmup-steps 0]

For each seed it trains the model `--arch` (the default model unless given) and, every `--every`
steps, judges the 64 images of the fixed grid the page shows (G's EMA, and G's own weights beside
it): the steps to digits are the first step at which at least 90% of them read as legible digits
(metrics.legibility) and the legible ones cover all ten. Then it trains on to `--budget-steps` and reports metrics.quality_report of 1,000 samples, as the CLI writes
them. It counts steps, not seconds: on a shared machine the speed of one run varies threefold within
minutes, the number of steps a seed needs does not. Seconds are steps / `--steps-per-s`, the CLI
trainer's own rate on a quiet machine (docs/performance.md). One line per figure, medians last.

Recipe candidates: `--arch mlp_mid` (a model defined here, not offered by the page), `--bias-init`
(G's output bias: the Trainer's start at the logit of each pixel's mean, or the layer's random init
as before that, or one logit of the mean of all pixels), `--warmup-steps N`
(both learning rates ramped linearly from 1/N of their value to it over the first N steps).
`--rates ARCH ...` instead times Trainer.step() of each arch, interleaved in one process (medians of
`--repeats` windows of `--seconds`), and prints each rate and its ratio to the first arch's.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import config, data, metrics, models  # noqa: E402
from gan_core.__main__ import draw_samples  # noqa: E402
from gan_core.config import LiveSettings, ModelSpec  # noqa: E402
from gan_core.trainer import Trainer  # noqa: E402
from speed import alone, rate  # noqa: E402

LEGIBLE_SHARE, ALL_DIGITS = 0.9, 10   # the grid "reads as digits": 90% legible, all ten among them


def _mlp_mid(latent_in: int) -> tuple[torch.nn.Sequential, torch.nn.Sequential, int]:
    # the seed's one hidden layer, twice as wide, with mlp_wide's LeakyReLU: about half mlp_wide's FLOPs
    g = torch.nn.Sequential(
        torch.nn.Linear(latent_in, 256), torch.nn.LeakyReLU(0.2),  # (B, 256)
        torch.nn.Linear(256, 784), torch.nn.Sigmoid(),             # (B, 784)
    )
    d = torch.nn.Sequential(
        torch.nn.Flatten(),                                        # (B, 784)
        torch.nn.Linear(784, 256), torch.nn.LeakyReLU(0.2),        # (B, 256)
    )
    return g, d, 256


# architectures measured here and not adopted: they stay out of config.ARCHS (the page's names)
CANDIDATES = {"mlp_mid": _mlp_mid}
models.ARCHITECTURES.update(CANDIDATES)
ARCHS = (*config.ARCHS, *CANDIDATES)


def set_output_bias(t: Trainer, how: str, digits: data.Digits) -> None:
    """Replace the Trainer's own start of G's output bias (models.init_background, "trainer"):
    "random" puts back the layer's random init as models.build drew it, "mean" one logit of the
    mean of all pixels for every pixel."""
    if how == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(t.spec.seed)
            value = models.output_layer(models.build(t.spec)[0]).bias.detach()
    else:
        value = torch.logit(digits.mean_pixels.mean().clamp(0.01, 0.99)).expand(784)
    with torch.no_grad():
        models.output_layer(t.G).bias.copy_(value)
    t.G_ema.load_state_dict(t.G.state_dict())


def run(seed: int, settings: LiveSettings, digits: data.Digits, a: argparse.Namespace) -> dict:
    t = Trainer(ModelSpec(arch=a.arch, seed=seed), settings, digits=digits)
    if a.bias_init != "trainer":
        set_output_bias(t, a.bias_init, digits)
    to_digits, raw_to_digits, curve, report = None, None, [], {}
    while t.step_count < a.budget_steps or (to_digits is None and t.step_count < a.max_steps):
        if a.warmup_steps and t.step_count <= a.warmup_steps:
            f = min(1.0, (t.step_count + 1) / a.warmup_steps)
            t.apply(lr_g=settings.lr_g * f, lr_d=settings.lr_d * f)
        t.step()
        if t.step_count % a.every == 0 and t.step_count <= a.max_steps and to_digits is None:
            share, covered = metrics.legibility(t.grid())
            # G's own weights, as if the EMA were off: how much the average brings the digits forward
            raw_share, raw_covered = metrics.legibility(t.generate(t.fixed_z, t.fixed_y if t.spec.conditional else None,
                                                                   ema=False))
            if raw_to_digits is None and raw_share >= LEGIBLE_SHARE and raw_covered == ALL_DIGITS:
                raw_to_digits = t.step_count
            curve.append((t.step_count, round(share, 3), covered, round(raw_share, 3)))
            if share >= LEGIBLE_SHARE and covered == ALL_DIGITS:
                to_digits = t.step_count
        if t.step_count == a.budget_steps:
            report = metrics.quality_report(draw_samples(t, 1000))
    return {"seed": seed, "steps_to_digits": to_digits, "raw": raw_to_digits, "curve": curve, "steps": a.budget_steps, **{
        k: report[k] for k in ("confident_share", "min_digit_share", "fid_ratio", "near_copies") if k in report}}


def rates(archs: list[str], settings: LiveSettings, digits: data.Digits, repeats: int, seconds: float) -> dict:
    """Median steps/s of Trainer.step() for each arch, the contenders interleaved in one process, so
    a change of load hits them all alike; each timed in a fresh thread (speed.py's alone())."""
    trainers = {arch: Trainer(ModelSpec(arch=arch), settings, digits=digits) for arch in archs}
    runs = {arch: [] for arch in archs}
    for _ in range(repeats):
        for arch, t in trainers.items():
            runs[arch].append(alone(lambda t=t: rate(t.step, seconds)))
    return {arch: statistics.median(r) for arch, r in runs.items()}


def _setting(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    kind = {f.name: f.type for f in dataclasses.fields(LiveSettings)}.get(name)
    return name, {"int": int, "float": float}.get(str(kind), str)(value)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default=config.DEFAULT_ARCH, choices=ARCHS)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--bias-init", default="trainer", choices=("trainer", "random", "mean"),
                   help="G's output bias at the start: the Trainer's (the mean image), random, or one mean")
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-steps", type=int, default=1200, help="give up on the grid after this many steps")
    p.add_argument("--every", type=int, default=50, help="steps between two judgements of the grid")
    p.add_argument("--budget-steps", type=int, default=2400, help="steps before the sample report (0: none)")
    p.add_argument("--steps-per-s", type=float, default=40.0, help="to convert steps to seconds")
    p.add_argument("--rates", nargs="+", choices=ARCHS, help="instead: time these archs' steps, interleaved")
    p.add_argument("--repeats", type=int, default=5, help="with --rates: timed windows per arch")
    p.add_argument("--seconds", type=float, default=1.0, help="with --rates: length of one window")
    p.add_argument("--set", type=_setting, nargs="*", default=[], help="live settings, e.g. lr_g=2e-3")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    settings = config.validate(LiveSettings, **dict(a.set))
    digits = data.load()[0]
    if a.rates:
        measured = rates(a.rates, settings, digits, a.repeats, a.seconds)
        for arch, r in measured.items():
            print(f"{arch}: {r:.1f} steps/s on {a.threads} thread(s), {r / measured[a.rates[0]]:.2f}x {a.rates[0]}")
        return
    rows = [run(seed, settings, digits, a) for seed in a.seeds]
    for r in rows:
        print(f"seed {r['seed']}: grid legibility (step, share, digits, share without EMA) {r['curve']}")
        when = r["steps_to_digits"]
        print(f"seed {r['seed']}: steps to digits {when if when else f'> {a.max_steps}'}"
              + (f" ({when / a.steps_per_s:.1f} s at {a.steps_per_s:g} steps/s)" if when else "")
              + f"; without EMA {r['raw'] or f'> {a.max_steps}'}")
        if "fid_ratio" in r:
            print(f"seed {r['seed']}: after {r['steps']} steps: confident {r['confident_share']:.3f}, "
                  f"smallest digit {r['min_digit_share']:.3f}, Fréchet ratio {r['fid_ratio']:.2f}, "
                  f"near copies {r['near_copies']:.3f}")
    reached = [r["steps_to_digits"] for r in rows if r["steps_to_digits"]]
    print(f"seeds reaching digits within {a.max_steps} steps: {len(reached)} of {len(rows)}")
    # a seed that never got there counts as the budget, so the median does not flatter
    print(f"median steps to digits: {statistics.median(r['steps_to_digits'] or a.max_steps for r in rows):g}")
    if a.budget_steps:
        print(f"median Fréchet ratio after {a.budget_steps} steps: "
              f"{statistics.median(r['fid_ratio'] for r in rows):.2f}")
        print(f"median confident share after {a.budget_steps} steps: "
              f"{statistics.median(r['confident_share'] for r in rows):.3f}")


if __name__ == "__main__":
    main()
