"""Does D's advice view slow training? Steps/s of a training session with and without it.

    python benchmarks/advice.py [--arch mlp_wide] [--repeats 3] [--seconds 4] [--every 1.0 0.25]

A TrainingSession trains in its thread while a poller does what the live page does each refresh
(a snapshot, the grid's PNG); with the advice view on, the poller also asks for the advice
(computed on the worker between two steps through session.call, drawn here), as the page does at
most once per refresh (every 1 s; 0.25 s, the grid's own rate, as a harder case). Phases off and on
alternate, `--repeats` times each, and the medians and their ratio are printed with the machine's load,
and the worker's own time per advice (the share of its time it takes at that refresh rate: the
slowdown expected on a quiet machine, where the ratio itself is noisy). First, in this thread, the CPU
time of one step, one advice and its drawing.
One JSON document, then one line per figure.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import advice, data, render, session  # noqa: E402
from gan_core.config import LiveSettings, ModelSpec  # noqa: E402
from gan_core.trainer import Trainer  # noqa: E402


WORKER_S: list[float] = []          # seconds the worker spent computing advice, per call


def _timed(compute):
    # advice.compute as session.advice_pngs calls it on the worker, timed there
    def run(t):
        t0 = time.perf_counter()
        out = compute(t)
        WORKER_S.append(time.perf_counter() - t0)
        return out
    return run


def phase(s: session.TrainingSession, seconds: float, every: float, on: bool, costs: list[float]) -> float:
    """Steps per second over `seconds` while a poller refreshes every `every` s, with or without advice."""
    stop = threading.Event()

    def poll():
        while not stop.wait(every):
            snap = s.snapshot()
            render.mosaic_png(snap.grid)
            if on:
                t0 = time.perf_counter()
                s.advice_pngs()
                costs.append(time.perf_counter() - t0)
    poller = threading.Thread(target=poll)
    poller.start()
    step0, t0 = s.snapshot().step, time.monotonic()
    time.sleep(seconds)
    rate = (s.snapshot().step - step0) / (time.monotonic() - t0)
    stop.set()
    poller.join()
    return rate


def cpu_costs(arch: str, repeats: int = 15) -> dict[str, float]:
    """CPU milliseconds (this thread's, so a busy machine inflates them little) of one training step,
    one advice computation and its drawing: the load-independent side of the slowdown."""
    t = Trainer(ModelSpec(arch=arch), LiveSettings(), digits=data.load("bundled")[0])
    for _ in range(3):
        t.step()

    def ms(fn) -> float:
        out = []
        for _ in range(repeats):
            c = time.thread_time()
            fn()
            out.append(time.thread_time() - c)
        return round(1000 * statistics.median(out), 1)
    a = advice.compute(t)
    return {"step_ms": ms(t.step), "advice_ms": ms(lambda: advice.compute(t)),
            "drawing_ms": ms(lambda: (render.advice_png(a.images, a.grads, nrow=8, scale=1),
                                      render.advice_png(a.real, a.real_grads, nrow=8, scale=1)))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="mlp_wide")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--every", type=float, nargs="+", default=[1.0, 0.25])
    a = p.parse_args()
    load0 = os.getloadavg()[0]
    cpu = cpu_costs(a.arch)
    advice.compute = _timed(advice.compute)
    s = session.TrainingSession(ModelSpec(arch=a.arch), LiveSettings())
    s.start()
    time.sleep(1.0)                                             # warm-up
    rows = []
    for every in a.every:
        off, on, costs = [], [], []
        WORKER_S.clear()
        for i in range(a.repeats):
            order = (False, True) if i % 2 == 0 else (True, False)
            for with_advice in order:
                (on if with_advice else off).append(phase(s, a.seconds, every, with_advice, costs))
        rows.append({"every_s": every, "off_steps_per_s": round(statistics.median(off), 1),
                     "on_steps_per_s": round(statistics.median(on), 1),
                     "on_vs_off": round(statistics.median(on) / statistics.median(off), 3),
                     "advice_call_ms": round(1000 * statistics.median(costs), 1) if costs else None,
                     "advice_worker_ms": round(1000 * statistics.median(WORKER_S), 1) if WORKER_S else None,
                     # the share of the worker's time the advice takes at this refresh rate
                     "worker_share": round(statistics.median(WORKER_S) / every, 4) if WORKER_S else None,
                     "runs_off": [round(r, 1) for r in off], "runs_on": [round(r, 1) for r in on]})
    s.stop()
    report = {"arch": a.arch, "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2),
              "torch_threads": __import__("torch").get_num_threads(), "cpu_ms": cpu, "rows": rows}
    print(json.dumps(report, indent=2))
    print()
    for r in rows:
        print(f"refresh every {r['every_s']} s: {r['off_steps_per_s']} steps/s without advice, "
              f"{r['on_steps_per_s']} with; ratio {r['on_vs_off']}; advice {r['advice_worker_ms']} ms on the worker "
              f"({r['worker_share']:.1%} of its time), {r['advice_call_ms']} ms per page refresh with drawing and waiting")
    print(f"CPU time: a step {cpu['step_ms']} ms, the advice {cpu['advice_ms']} ms on the worker "
          f"({cpu['advice_ms'] / cpu['step_ms']:.2f} steps' work), drawing it {cpu['drawing_ms']} ms on the page's thread")
    print(f"load average {report['load_before']} before, {report['load_after']} after")


if __name__ == "__main__":
    main()
