"""How soon does the default model's grid read as digits, and how good are its samples later?

    python benchmarks/recipe.py [--seeds 0 1 2] [--max-steps 1200] [--every 50]
                                [--budget-steps 2400] [--steps-per-s 40] [--set lr_g=2e-3 ...]

For each seed it trains the default model (on one thread) and, every `--every` steps, judges the 64
images of the fixed grid the page shows: the steps to digits are the first step at which at least
90% of them read as legible digits (metrics.legibility) and the legible ones cover all ten. Then it
trains on to `--budget-steps` and reports metrics.quality_report of 1,000 samples, as the CLI writes
them. It counts steps, not seconds: on a shared machine the speed of one run varies threefold within
minutes, the number of steps a seed needs does not. Seconds are steps / `--steps-per-s`, the CLI
trainer's own rate on a quiet machine (README, "Measured"). One line per figure, medians last.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import config, data, metrics  # noqa: E402
from gan_core.__main__ import draw_samples  # noqa: E402
from gan_core.config import LiveSettings, ModelSpec  # noqa: E402
from gan_core.trainer import Trainer  # noqa: E402

LEGIBLE_SHARE, ALL_DIGITS = 0.9, 10   # the grid "reads as digits": 90% legible, all ten among them


def run(seed: int, settings: LiveSettings, digits: data.Digits, a: argparse.Namespace) -> dict:
    t = Trainer(ModelSpec(seed=seed), settings, digits=digits)
    to_digits, curve, report = None, [], {}
    while t.step_count < a.budget_steps or (to_digits is None and t.step_count < a.max_steps):
        t.step()
        if t.step_count % a.every == 0 and t.step_count <= a.max_steps and to_digits is None:
            share, covered = metrics.legibility(t.grid())
            curve.append((t.step_count, round(share, 3), covered))
            if share >= LEGIBLE_SHARE and covered == ALL_DIGITS:
                to_digits = t.step_count
        if t.step_count == a.budget_steps:
            report = metrics.quality_report(draw_samples(t, 1000))
    return {"seed": seed, "steps_to_digits": to_digits, "curve": curve, "steps": a.budget_steps, **{
        k: report[k] for k in ("confident_share", "min_digit_share", "fid_ratio", "near_copies") if k in report}}


def _setting(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    kind = {f.name: f.type for f in dataclasses.fields(LiveSettings)}.get(name)
    return name, {"int": int, "float": float}.get(str(kind), str)(value)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-steps", type=int, default=1200, help="give up on the grid after this many steps")
    p.add_argument("--every", type=int, default=50, help="steps between two judgements of the grid")
    p.add_argument("--budget-steps", type=int, default=2400, help="steps before the sample report (0: none)")
    p.add_argument("--steps-per-s", type=float, default=40.0, help="to convert steps to seconds")
    p.add_argument("--set", type=_setting, nargs="*", default=[], help="live settings, e.g. lr_g=2e-3")
    a = p.parse_args()
    torch.set_num_threads(1)
    settings = config.validate(LiveSettings, **dict(a.set))
    digits = data.load()[0]
    rows = [run(seed, settings, digits, a) for seed in a.seeds]
    for r in rows:
        print(f"seed {r['seed']}: grid legibility (step, share, digits) {r['curve']}")
        when = r["steps_to_digits"]
        print(f"seed {r['seed']}: steps to digits {when if when else f'> {a.max_steps}'}"
              + (f" ({when / a.steps_per_s:.1f} s at {a.steps_per_s:g} steps/s)" if when else ""))
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
