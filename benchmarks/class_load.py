"""A class presses Start at once: turn policies compared by first step, time to digits and steps/s.

    python benchmarks/class_load.py [--visitors 20] [--seconds 75] [--policies today,newcomers]

Two parts, each printing one line per figure:
  rates      one session alone (1 thread; 2 threads), and each of two at once (1 thread each),
             measured on real sessions: the steps/s the simulation below is fed.
  simulated  every policy on the real Scheduler with a fake clock: 20 visitors who each want to
             train from t = 0, trainers stepping at the measured rates, over the whole horizon until
             everyone has taken --digits-steps steps (the default model passes the quality bar
             after 2,068-2,428 steps in the runs of docs/performance.md). Per visitor: first step, time to digits,
             longest wait between two turns; total steps/s.
  real       the --policies chosen, on real TrainingSessions in this process (no browser):
             --visitors sessions started at once, watched for --seconds: first step of each,
             total steps/s against one alone, and the process's RSS before, with one, with all,
             and after they left. Time to digits is read where a session's own judge (every 10 s of
             its training) finds 80% of its samples legible with every digit at 2% or more.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import data, host, session  # noqa: E402
from gan_core.scheduler import Scheduler  # noqa: E402

# name -> (trainers at once, threads each, Scheduler keywords)
POLICIES = {
    "today": (2, 1, dict(slice_s=30.0)),                                    # 30 s turns, first come first served
    "newcomers": (2, 1, dict(slice_s=30.0, first_slice_s=3.0)),             # a short first turn, newcomers first
    "shrinking": (2, 1, dict(slice_s=30.0, cycle_s=60.0)),                  # everyone's turn within ~60 s
    "newcomers+shrinking": (2, 1, dict(slice_s=30.0, first_slice_s=3.0, cycle_s=120.0)),
    "newcomers_90s_turns": (2, 1, dict(slice_s=90.0, first_slice_s=3.0)),  # long turns after the first
    "one_at_a_time": (1, 2, dict(slice_s=30.0, first_slice_s=3.0)),         # one trainer with both threads
}


def rss_mb() -> float:
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024


def _trim() -> None:
    gc.collect()
    host.trim_memory()


# -- real sessions ------------------------------------------------------------------------------------
def sessions(n: int, sched: Scheduler) -> list[session.TrainingSession]:
    return [session.TrainingSession(scheduler=sched) for _ in range(n)]


def steps_per_s(group: list[session.TrainingSession], seconds: float, warm: float = 2.0) -> float:
    """Total steps/s of a group training together, after `warm` seconds."""
    for s in group:
        s.start()
    time.sleep(warm)
    a = sum(s.snapshot().step for s in group)
    time.sleep(seconds)
    return (sum(s.snapshot().step for s in group) - a) / seconds


def configure(trainers: int, threads: int) -> None:
    host.configure(max_running=trainers, threads=threads)


def measure_rates(seconds: float) -> dict:
    out = {}
    for name, trainers, threads, n in (("alone_1_thread", 1, 1, 1), ("alone_2_threads", 1, 2, 1),
                                       ("two_at_once_1_thread_each", 2, 1, 2)):
        configure(trainers, threads)
        group = sessions(n, Scheduler(trainers))
        out[name] = round(steps_per_s(group, seconds) / n, 1)   # per trainer
        host.stop_all()
        del group
    return out


def is_digits(report: dict) -> bool:
    return report["confident_share"] >= 0.8 and report["min_digit_share"] >= 0.02


def chosen() -> tuple[int, int, dict]:
    """The studio's own policy: what host.Limits says on this host."""
    lim = host.limits()
    return lim.max_running, lim.threads, dict(slice_s=lim.slice_s, first_slice_s=lim.first_slice_s)


def real_class(policy: str, n: int, seconds: float, alone_seconds: float) -> dict:
    """`policy` names one of POLICIES, or "studio" for the studio's own (chosen())."""
    kept = dataclasses.asdict(host.limits())
    try:
        return _real_class(policy, n, seconds, alone_seconds)
    finally:
        host.configure(**kept)


def _real_class(policy: str, n: int, seconds: float, alone_seconds: float) -> dict:
    trainers, threads, kw = chosen() if policy == "studio" else POLICIES[policy]
    configure(trainers, threads)
    # a visitor alone first (warms the process: torch, the judge), then leaves: the baseline
    one = sessions(1, Scheduler(trainers, **kw))
    one[0].measure()                                     # loads the judge and its reference figures
    alone = steps_per_s(one, alone_seconds, warm=3.0)
    rss_one = rss_mb()
    host.stop_all()
    del one
    _trim()
    rss_before = rss_mb()

    sched = Scheduler(trainers, **kw)
    group = sessions(n, sched)
    t0 = time.monotonic()
    for s in group:
        s.start()
    first: list[float | None] = [None] * n
    digits: list[float | None] = [None] * n
    while (now := time.monotonic() - t0) < seconds:
        for i, s in enumerate(group):
            snap = s.snapshot()
            if first[i] is None and snap.step > 0:
                first[i] = round(now, 1)
            if digits[i] is None and any(is_digits(q) for q in snap.quality):
                digits[i] = round(now, 1)
        time.sleep(0.25)
    wall = time.monotonic() - t0
    steps = [s.snapshot().step for s in group]
    rss_all = rss_mb()
    host.stop_all()
    del group, s, snap
    sched = None
    _trim()
    time.sleep(1)
    rss_after = rss_mb()
    started = [f for f in first if f is not None]
    return {
        "policy": policy, "visitors": n, "seconds": round(wall, 1),
        "first_step_s": {"max": max(started) if len(started) == n else None,
                         "median": statistics.median(started) if started else None,
                         "started": len(started)},
        "digits_within_window": sum(d is not None for d in digits),
        "steps_each": {"min": min(steps), "median": statistics.median(steps), "max": max(steps)},
        "alone_steps_per_s": round(alone, 1),
        "total_steps_per_s": round(sum(steps) / wall, 1),
        "total_vs_alone": round(sum(steps) / wall / max(alone, 1e-9), 2),
        "rss_mb": {"with_one": round(rss_one), "before": round(rss_before), "with_all": round(rss_all),
                   "after_all_left": round(rss_after)},
        "mb_per_further_visitor": round((rss_all - rss_one) / (n - 1), 1),
        "after_vs_before": round(rss_after / rss_before, 3),
    }


# -- the same policies on a fake clock ----------------------------------------------------------------
class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class _Visitor:
    def __init__(self, i: int):
        self.i, self.steps, self.first, self.digits, self.waited, self.last = i, 0.0, None, None, 0.0, None


def simulate(policy: str, n: int, rates: dict, digits_steps: int, dt: float = 0.25) -> dict:
    trainers, threads, kw = POLICIES[policy]
    rate = rates["alone_2_threads"] if trainers == 1 else rates["two_at_once_1_thread_each"]
    horizon = 2 * n * digits_steps / (rate * trainers) + 600     # twice what the work needs
    clock = _Clock()
    sched = Scheduler(trainers, clock=clock, **kw)
    visitors = [_Visitor(i) for i in range(n)]
    while clock.now < horizon and any(v.digits is None for v in visitors):
        on = {v.i for v in visitors if sched.acquire(v)}
        on |= {v.i for v in visitors if v.i not in on and sched.acquire(v)}   # woken heads ask again
        for v in visitors:
            if v.digits is not None:
                continue
            if v.i in on:
                if v.first is None:
                    v.first = clock.now
                if v.last is not None:
                    v.waited = max(v.waited, clock.now - v.last)
                v.last = clock.now + dt
                v.steps += rate * dt
                if v.steps >= digits_steps:
                    v.digits = clock.now + dt
                    sched.release(v)
        clock.now += dt
    done = [v.digits for v in visitors if v.digits is not None]
    return {
        "policy": policy, "steps_per_s_each": rate, "trainers": trainers,
        "first_step_s": {"max": round(max(v.first for v in visitors), 1),
                         "median": round(statistics.median(v.first for v in visitors), 1)},
        "digits_s": {"first": round(min(done)), "median": round(statistics.median(done)),
                     "mean": round(statistics.mean(done)), "last": round(max(done)),
                     "reached": len(done)},
        "longest_wait_between_turns_s": round(max(v.waited for v in visitors), 1),
        "total_steps_per_s": round(rate * trainers, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--visitors", type=int, default=20)
    p.add_argument("--seconds", type=float, default=75.0, help="each real class run")
    p.add_argument("--rate-seconds", type=float, default=6.0)
    p.add_argument("--digits-steps", type=int, default=2400)
    p.add_argument("--policies", default="today,newcomers", help="run on real sessions; 'none' for none")
    p.add_argument("--rates", default="", help="steps/s as alone1,alone2,pair (skip measuring them)")
    a = p.parse_args()
    data.load()
    if a.rates:
        r = [float(x) for x in a.rates.split(",")]
        rates = {"alone_1_thread": r[0], "alone_2_threads": r[1], "two_at_once_1_thread_each": r[2]}
    else:
        rates = measure_rates(a.rate_seconds)
        print(f"rates: {rates}", file=sys.stderr, flush=True)
    report = {"rates": rates, "simulated": [simulate(k, a.visitors, rates, a.digits_steps) for k in POLICIES],
              "real": [real_class(k, a.visitors, a.seconds, a.rate_seconds)
                       for k in a.policies.split(",") if k != "none"]}
    print(json.dumps(report, indent=1))
    print()
    for k, v in rates.items():
        print(f"rate {k}: {v} steps/s")
    for s in report["simulated"]:
        print(f"simulated {s['policy']}: first step max {s['first_step_s']['max']} s (median "
              f"{s['first_step_s']['median']}), digits first/median/last {s['digits_s']['first']}/"
              f"{s['digits_s']['median']}/{s['digits_s']['last']} s (mean {s['digits_s']['mean']}), longest wait "
              f"{s['longest_wait_between_turns_s']} s, total {s['total_steps_per_s']} steps/s")
    for r in report["real"]:
        print(f"real {r['policy']}: {r['first_step_s']['started']}/{r['visitors']} started, first step max "
              f"{r['first_step_s']['max']} s (median {r['first_step_s']['median']}), total "
              f"{r['total_steps_per_s']} steps/s = {r['total_vs_alone']}x one alone ({r['alone_steps_per_s']}), "
              f"steps each {r['steps_each']}, digits within {r['seconds']} s: {r['digits_within_window']}")
        print(f"real {r['policy']} memory: RSS {r['rss_mb']} MB, {r['mb_per_further_visitor']} MB per "
              f"further visitor, after/before {r['after_vs_before']}")


if __name__ == "__main__":
    main()
