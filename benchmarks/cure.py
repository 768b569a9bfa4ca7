"""What a guided experiment's grid shows after N steps, by the digit judge, over seeds.

    python benchmarks/cure.py PRESET [--set lr_g=1e-3 lr_d=1e-3 ...] [--spec arch=mlp_wide ...]
                              [--seeds 0 1 2 3 4] [--at 500 1000 1500] [--n 1000]

Trains the preset's model and settings (with the changes given) as the studio builds them
(build.trainer, Trainer.step), reads the diagnosis every 10 steps as a rehearsal does, and at each
step of `--at` reads n samples of G's EMA with the judge (lessons.Outcome) and their Fréchet distance
to the held-out digits. One line per seed and reading, then the medians per reading.
"""
from __future__ import annotations

import argparse
import ast
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import build, data, diagnosis, lessons, metrics  # noqa: E402
from gan_core.history import MetricHistory  # noqa: E402
from gan_core.trainer import DivergenceError  # noqa: E402


def _pairs(items: list[str]) -> dict:
    out = {}
    for item in items:
        k, v = item.split("=", 1)
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out


def run(p: lessons.Preset, seed: int, at: list[int], n: int, digits) -> list[dict]:
    spec, settings = p.configs(seed)
    t, _ = build.trainer(spec, settings, digits)
    history, quality, gen = MetricHistory(1000), [], torch.Generator().manual_seed(seed)
    findings: dict[str, int] = {}
    rows, start = [], time.process_time()
    for i in range(1, max(at) + 1):
        try:
            history.append(t.step())
        except DivergenceError:
            rows.append(dict(seed=seed, step=i, nan=True))
            return rows
        if p.quality_every and i % p.quality_every == 0:
            from gan_core import probe
            quality.append({"step": i, **probe.quality(t, gen, n=128)})
        if i % lessons.CHECK_EVERY == 0:
            for f in diagnosis.diagnose(history.columns(), quality):
                findings.setdefault(f.name, i)
        if i in at:
            cpu = time.process_time() - start
            o = lessons.Outcome.of(t, n=n)
            fid = metrics.quality_report(t.generate(torch.randn(n, spec.latent_dim,
                                                                generator=torch.Generator().manual_seed(1))))["fid"]
            rows.append(dict(seed=seed, step=i, legible=round(o.legible_share, 3), classes=o.classes,
                             top=round(o.top_share, 3), fid=round(fid), findings=dict(findings),
                             train_cpu_s=round(cpu, 1)))
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("preset")
    ap.add_argument("--set", nargs="*", default=[], help="live settings to change, name=value")
    ap.add_argument("--spec", nargs="*", default=[], help="model spec fields to change, name=value")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--at", nargs="*", type=int, default=[500, 1000, 1500])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    base = lessons.PRESETS[a.preset]
    p = lessons.Preset(base.key, base.title, base.what, base.promise, max(a.at),
                       {**base.spec, **_pairs(a.spec)}, {**base.settings, **_pairs(a.set)}, base.quality_every)
    print(f"{a.preset} spec={p.spec} settings={p.settings}", flush=True)
    digits = data.load("bundled")[0]
    rows = [r for seed in a.seeds for r in run(p, seed, a.at, a.n, digits)]
    for step in a.at:
        got = [r for r in rows if r.get("step") == step and not r.get("nan")]
        if got:
            med = {k: statistics.median(r[k] for r in got) for k in ("legible", "classes", "top", "fid", "train_cpu_s")}
            clean = sum(not r["findings"] for r in got)
            print(f"median at {step}: {med}; runs without a finding: {clean}/{len(got)}", flush=True)


if __name__ == "__main__":
    main()
