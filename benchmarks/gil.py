"""What the page's Python work costs a trainer in the same process: the GIL, not the cores.

    python benchmarks/gil.py [--seconds 6] [--busy 0.5] [--repeats 3]

A Trainer (the default model, one torch thread) steps for --seconds beside a busy loop that holds a
core for --busy of each 5 ms and sleeps the rest, the loop run in three ways, interleaved:
  alone      nothing beside it
  process    the loop in another process: it takes a core, not the GIL
  thread     the loop in a thread of the trainer's own process, as a server's page runs are: it holds
             the GIL while busy, and every torch op the trainer calls gives the GIL up and waits for it back
  thread_fast_switch  the same thread with sys.setswitchinterval(0.0002): a waiting thread asks the
             holder to let go after 0.2 ms instead of 5 ms
Prints the median steps/s of each and its ratio to alone, then one JSON document. On 2 cores the
process costs the trainer nothing and the thread costs it a share: a page's work for its viewers is
paid in the trainer's steps by how long it holds the GIL, whatever cores are free.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import data  # noqa: E402
from gan_core.config import LiveSettings, ModelSpec  # noqa: E402
from gan_core.trainer import Trainer  # noqa: E402

PERIOD_S = 0.005


def busy_loop(share: float, stop) -> None:
    """Hold the CPU (and in a thread, the GIL) for `share` of every 5 ms."""
    while not stop.is_set():
        t = time.perf_counter()
        while time.perf_counter() - t < PERIOD_S * share:
            pass
        time.sleep(PERIOD_S * (1 - share))


def steps_per_s(trainer: Trainer, seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        trainer.step()
        n += 1
    return n / (time.perf_counter() - t0)


def measure(trainer: Trainer, how: str, a: argparse.Namespace) -> float:
    stop = mp.Event() if how == "process" else threading.Event()
    beside = None
    if how == "process":
        beside = mp.Process(target=busy_loop, args=(a.busy, stop), daemon=True)
    elif how.startswith("thread"):
        beside = threading.Thread(target=busy_loop, args=(a.busy, stop), daemon=True)
    interval = sys.getswitchinterval()
    if how == "thread_fast_switch":
        sys.setswitchinterval(0.0002)
    if beside is not None:
        beside.start()
    try:
        return steps_per_s(trainer, a.seconds)
    finally:
        stop.set()
        if beside is not None:
            beside.join()
        sys.setswitchinterval(interval)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--busy", type=float, default=0.5, help="share of each 5 ms the loop holds a core")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(1)
    trainer = Trainer(ModelSpec(), LiveSettings(), digits=data.load()[0])
    for _ in range(20):
        trainer.step()
    ways = ["alone", "process", "thread", "thread_fast_switch"]
    rates: dict[str, list[float]] = {w: [] for w in ways}
    for _ in range(a.repeats):
        for w in ways:
            rates[w].append(measure(trainer, w, a))
    median = {w: statistics.median(r) for w, r in rates.items()}
    load = os.getloadavg()[0]
    print(f"load average (1 min): {load:.2f}; the loop busy {a.busy:.0%} of each {PERIOD_S * 1000:g} ms")
    for w in ways:
        print(f"{w:>19}: {median[w]:5.1f} steps/s  ({median[w] / median['alone']:.2f} of alone)")
    print(json.dumps({"load_avg_1m": round(load, 2), "busy": a.busy, "steps_per_s": {w: round(v, 2) for w, v in median.items()},
                      "ratio": {w: round(median[w] / median["alone"], 3) for w in ways}, "runs": rates}))


if __name__ == "__main__":
    main()
