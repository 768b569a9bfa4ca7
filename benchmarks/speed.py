"""How fast does the studio train, against a bare PyTorch loop and the machine's matmul limit?

    python benchmarks/speed.py [--threads N] [--repeats 5] [--seconds 2] [--digits-budget 120]

For the seed model (batch 128) and the default model it measures, as medians over repeats:
  bare      a minimal PyTorch loop of the same GAN step, written here as the reference
  trainer   gan_core's Trainer.step() on the same model, batch and threads
  session   a TrainingSession in its thread while a poller reads snapshots at 4 Hz, as the page does
and prints their ratios, the FLOPs of one step (counted by torch's FlopCounterMode), the matmul
limit (the step's own matrix products, backward included, timed back to back) and the fraction of
it reached; then the wall time the default settings take to reach the quality bar, judged every
few seconds; and peak RSS. One JSON document, then a table.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import cpus, data, host, metrics, session  # noqa: E402
from gan_core.scheduler import Scheduler  # noqa: E402
from gan_core.__main__ import draw_samples  # noqa: E402
from gan_core.config import LiveSettings, ModelSpec  # noqa: E402
from gan_core.trainer import Trainer  # noqa: E402


def rate(step, seconds: float) -> float:
    """Steps per second of `step()` over a window of `seconds`, after a warm-up."""
    for _ in range(20):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - t0)


def bare_loop(spec: ModelSpec, s: LiveSettings, digits: data.Digits):
    """The GAN step with nothing else: no metrics, no EMA, no settings. The reference."""
    from gan_core import models
    torch.manual_seed(0)
    G, D = models.build(spec)
    opt_g = torch.optim.Adam(G.parameters(), lr=s.lr_g, betas=(s.beta1, s.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=s.lr_d, betas=(s.beta1, s.beta2))
    images, labels, B = digits.images, digits.labels.clamp(min=0), s.batch_size

    def fake_labels():  # a conditional G and D also see the digit; the seed's model ignores them
        return torch.randint(10, (B,)) if spec.conditional else None

    def step():
        idx = torch.randint(len(images), (B,))
        x, y = images[idx].unsqueeze(1).float().div_(255), labels[idx] if spec.conditional else None
        y_fake = fake_labels()
        with torch.no_grad():
            fake = G(torch.randn(B, spec.latent_dim), y_fake)
        real_logit, fake_logit = D(x, y), D(fake, y_fake)
        loss_d = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                  + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        y_fake = fake_labels()
        out = D(G(torch.randn(B, spec.latent_dim), y_fake), y_fake)
        loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return step


def alone(fn):
    """fn() run in a fresh thread; its result. OpenMP gives every thread that runs parallel torch
    ops a team of its own, alive as long as the thread. With more team threads than cores, every
    parallel op pays a slow wake-up (measured here: an elementwise add took 20 us alone, 40 us
    beside an idle team). So each contender runs in a thread that ends with it and the main
    thread runs no torch, as on the studio's server, where only trainer threads do."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # re-raised in the caller
            box["error"] = e
    th = threading.Thread(target=run, name="bench")
    th.start()
    th.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def session_rate(spec: ModelSpec, s: LiveSettings, seconds: float) -> float:
    """Steps/s of a live session while another thread polls snapshot() at 4 Hz."""
    sess = alone(lambda: session.TrainingSession(
        spec, s, scheduler=Scheduler(1),
        limits_=host.Limits(max_running=1, threads=torch.get_num_threads())))
    stop = threading.Event()

    def poll():
        while not stop.wait(0.25):
            sess.snapshot()
    poller = threading.Thread(target=poll)
    poller.start()
    sess.start()
    time.sleep(1.0)  # warm-up
    a, t0 = sess.snapshot().step, time.perf_counter()
    time.sleep(seconds)
    out = (sess.snapshot().step - a) / (time.perf_counter() - t0)
    stop.set()
    poller.join()
    sess.stop()
    return out


class _MatmulShapes(TorchDispatchMode):
    """Records (m, k, n) of every matrix product run under it, backward ones included."""

    def __init__(self):
        super().__init__()
        self.shapes: list[tuple[int, int, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.mm.default:
            a, b = args[0], args[1]
            self.shapes.append((a.shape[0], a.shape[1], b.shape[1]))
        elif func is torch.ops.aten.addmm.default:
            a, b = args[1], args[2]
            self.shapes.append((a.shape[0], a.shape[1], b.shape[1]))
        return func(*args, **(kwargs or {}))


def count_step(t: Trainer) -> tuple[int, list[tuple[int, int, int]]]:
    """One step's FLOPs (torch's FlopCounterMode) and the (m, k, n) of every matrix product in it,
    forward and backward."""
    with FlopCounterMode(display=False) as counter, _MatmulShapes() as rec:
        t.step()
    return counter.get_total_flops(), rec.shapes


def matmul_limit(shapes: list[tuple[int, int, int]], seconds: float) -> float:
    """FLOP/s of these matrix products run back to back on ready operands: what this CPU gives at
    the step's own shapes, with no overhead between them. The best of five slices of `seconds`: a
    limit is what the CPU gives at its best, and a slow spell of a shared machine in one slice
    (another process, a throttled core) must not make it look lower than a step that ran outside it."""
    if not shapes:
        return float("nan")
    mats = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in shapes]
    flop = sum(2 * m * k * n for m, k, n in shapes)
    for a, b in mats:
        a @ b
    best = 0.0
    for _ in range(5):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 5:
            for a, b in mats:
                a @ b
            n += 1
        best = max(best, n * flop / (time.perf_counter() - t0))
    return best


def time_to_digits(budget: float, every: float = 10.0) -> dict:
    """Wall time of training (judging excluded) until the default settings pass the quality bar."""
    digits, _ = data.load()
    t = Trainer(ModelSpec(), LiveSettings(), digits=digits)
    trained, best = 0.0, None
    while trained < budget:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < every:
            t.step()
        trained += time.perf_counter() - t0
        r = metrics.quality_report(draw_samples(t, 1000))
        best = {k: round(r[k], 3) for k in ("confident_share", "min_digit_share", "fid_ratio", "near_copies")}
        if all(metrics.passes(r).values()):
            return {"reached": True, "seconds": round(trained, 1), "steps": t.step_count, **best}
    return {"reached": False, "seconds": None, "budget_s": budget, "steps": t.step_count, "last": best}


def measure(name: str, spec: ModelSpec, s: LiveSettings, a: argparse.Namespace) -> dict:
    digits = alone(lambda: data.load()[0])
    trainer = alone(lambda: Trainer(spec, s, digits=digits))
    bare_step = alone(lambda: bare_loop(spec, s, digits))
    flop, shapes = alone(lambda: count_step(trainer))
    bares, trains, lives, limits = [], [], [], []
    for _ in range(a.repeats):  # interleaved, so a slow spell of a shared machine hits all of them
        bares.append(alone(lambda: rate(bare_step, a.seconds)))
        trains.append(alone(lambda: rate(trainer.step, a.seconds)))
        limits.append(alone(lambda: matmul_limit(shapes, a.seconds)))
        lives.append(session_rate(spec, s, a.seconds))
    bare, trained, live, limit = (statistics.median(r) for r in (bares, trains, lives, limits))
    # the share of the limit per repeat, each against the limit measured right after it
    share = statistics.median(r * flop / lim for r, lim in zip(trains, limits)) if limit == limit else None
    return {
        "model": name, "arch": spec.arch, "conditional": spec.conditional, "batch_size": s.batch_size,
        "threads": torch.get_num_threads(),
        "bare_steps_per_s": round(bare, 1), "trainer_steps_per_s": round(trained, 1),
        "session_steps_per_s": round(live, 1),
        "trainer_vs_bare": round(trained / bare, 3), "session_vs_bare": round(live / bare, 3),
        "gflop_per_step": round(flop / 1e9, 4), "matmul_limit_gflops": round(limit / 1e9, 1),
        "fraction_of_matmul_limit": None if share is None else round(share, 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=cpus.usable().count, help="default: the CPUs this process may use")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0, help="length of one timed window")
    p.add_argument("--digits-budget", type=float, default=120.0, help="0 skips the time-to-digits run")
    a = p.parse_args()
    host.configure(max_running=1, threads=a.threads)   # sets torch's threads for everything here
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [measure("seed", ModelSpec(arch="mlp", conditional=False), LiveSettings(batch_size=128), a),
            measure("default", ModelSpec(), LiveSettings(), a)]
    report = {"models": rows, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "rss_before_mb": round(rss0, 1)}
    if a.digits_budget > 0:
        report["time_to_digits"] = alone(lambda: time_to_digits(a.digits_budget))
    print(json.dumps(report, indent=2))
    print()
    cols = ["model", "bare_steps_per_s", "trainer_steps_per_s", "session_steps_per_s", "trainer_vs_bare",
            "session_vs_bare", "gflop_per_step", "matmul_limit_gflops", "fraction_of_matmul_limit"]
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r[c]) for c in cols))
    print(f"peak RSS {report['peak_rss_mb']} MB")
    if "time_to_digits" in report:
        print(f"time to digits: {report['time_to_digits']}")


if __name__ == "__main__":
    main()
