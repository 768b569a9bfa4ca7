"""An upper bound of what viewers of one run cost: whole-script reruns under AppTest.

    python benchmarks/viewers.py --apptest [--viewers 30] [--seconds 10] [--arch default] [--no-sharing]

benchmarks/viewers.py measures the real server, whose viewers rerun only the live panel each second;
this mode reruns the whole page for each refresh, in one process with the run.

One run trains (a TrainingSession, torch on 1 thread, as with two trainers on 2 cores). Its viewers
are pages of the real app.py driven by Streamlit's AppTest with `?watch=<run id>`: each refresh runs
the whole script (sidebar and all, so more than the live panel's timed rerun: an upper bound) and
builds its elements as the server would. Each second every viewer refreshes once, one after another
(the live rate); a round that takes longer than a second is followed by the next at once.

AppTest compiles app.py afresh for every run, where the server compiles it once for all sessions:
the benchmark gives every page one compiled copy, as the server has.

Server CPU is read per thread from /proc: the script threads' CPU, leaving out the trainer's and the
main thread's (AppTest's own work there, reading the page's messages back, is the browser's side).
Prints one line per figure, then the figures as JSON:
  cpu_ms_per_refresh   server CPU per viewer per refresh (median over rounds)
  cores_at_live_rate   that × viewers × 1 refresh/s: the server's share of cores the viewers take
  steps_per_s          the run's rate with 1 viewer and with all of them, and their ratio
  figure_builds_per_s  shared figure builds (once per snapshot version, not per page)
`--no-sharing` keys the figure cache by page as well, to show what sharing saves.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from streamlit.runtime.scriptrunner import script_cache  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from gan_core import host, runs, session  # noqa: E402
from gan_core.config import ModelSpec  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process, by native id."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def cpu_now(exclude: set[int]) -> tuple[float, float]:
    """(this process's CPU seconds, those of the threads in exclude); script threads come and go,
    so the server's share is the process's less the excluded threads'."""
    t = os.times()
    threads = thread_cpu()
    return t.user + t.system, sum(threads.get(tid, 0.0) for tid in exclude)


def server_cpu(before: tuple[float, float], after: tuple[float, float]) -> float:
    return (after[0] - before[0]) - (after[1] - before[1])


def steps_per_s(run: session.TrainingSession, seconds: float, pages: list[AppTest], exclude: set[int]) -> dict:
    """Refresh every page once a second for `seconds`; the run's rate and the pages' server CPU."""
    step0, t0, builds0 = run.step, time.perf_counter(), runs.figures.builds
    per_refresh, rounds = [], 0
    while time.perf_counter() - t0 < seconds:
        start = time.perf_counter()
        for page in pages:
            before = cpu_now(exclude)
            page.run()
            assert not page.exception, page.exception
            per_refresh.append(server_cpu(before, cpu_now(exclude)))
        rounds += 1
        time.sleep(max(0.0, 1.0 - (time.perf_counter() - start)))
    wall = time.perf_counter() - t0
    return {"steps_per_s": (run.step - step0) / wall, "cpu_ms_per_refresh": 1000 * statistics.median(per_refresh),
            "refreshes_per_s": len(per_refresh) / wall, "rounds": rounds,
            "figure_builds_per_s": (runs.figures.builds - builds0) / wall}


def compile_once() -> None:
    # the server's ScriptCache is one per process; AppTest makes one per run
    compiled, get = {}, script_cache.ScriptCache.get_bytecode

    def get_bytecode(self, path):
        if path not in compiled:
            compiled[path] = get(self, path)
        return compiled[path]
    script_cache.ScriptCache.get_bytecode = get_bytecode


def main(a: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    compile_once()
    host.configure(threads=1)
    if a.no_sharing:   # every page builds its own figures: the cache keyed by page too
        shared = runs.figures.get
        runs.figures.get = lambda key, build: shared((key, threading.get_ident()), build)
    run = session.TrainingSession(ModelSpec(arch=a.arch))
    run.start()
    while run.step < 20:
        time.sleep(0.1)

    def page() -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["watch"] = run.run_id
        return at.run()

    trainer = {t.native_id for t in threading.enumerate() if t.name == "gan-trainer"}
    exclude = trainer | {threading.main_thread().native_id}
    one = steps_per_s(run, a.seconds, [page()], exclude)
    pages = [page() for _ in range(a.viewers)]
    assert run.snapshot().viewers == 1     # AppTest pages share one session id: counted as one page
    many = steps_per_s(run, a.seconds, pages, exclude)
    host.stop_all()
    load = os.getloadavg()
    report = {
        "viewers": a.viewers, "arch": a.arch, "sharing": not a.no_sharing, "load_avg_1m": load[0],
        "cpu_ms_per_refresh": {"1": round(one["cpu_ms_per_refresh"], 1), str(a.viewers): round(many["cpu_ms_per_refresh"], 1)},
        "cores_at_live_rate": round(many["cpu_ms_per_refresh"] * a.viewers / 1000, 3),
        "refreshes_per_s_achieved": round(many["refreshes_per_s"], 1),
        "steps_per_s": {"1": round(one["steps_per_s"], 1), str(a.viewers): round(many["steps_per_s"], 1)},
        "steps_ratio": round(many["steps_per_s"] / max(one["steps_per_s"], 1e-9), 3),
        "figure_builds_per_s": {"1": round(one["figure_builds_per_s"], 2), str(a.viewers): round(many["figure_builds_per_s"], 2)},
    }
    print(f"load average (1 min): {load[0]:.2f}")
    print(f"server CPU per viewer per refresh: {report['cpu_ms_per_refresh']['1']} ms (1 viewer), "
          f"{report['cpu_ms_per_refresh'][str(a.viewers)]} ms ({a.viewers} viewers), median")
    print(f"{a.viewers} viewers at 1 refresh/s: {report['cores_at_live_rate']} cores "
          f"(achieved {report['refreshes_per_s_achieved']} refreshes/s)")
    print(f"run's steps/s: {report['steps_per_s']['1']} with 1 viewer, {report['steps_per_s'][str(a.viewers)]} "
          f"with {a.viewers}: ratio {report['steps_ratio']}")
    print(f"shared figure builds/s: {report['figure_builds_per_s']}")
    print(json.dumps(report))

