"""What viewers of one run cost the server, and what they cost the run, on the real server.

    python benchmarks/viewers.py [--viewers 30] [--seconds 10] [--repeats 3] [--arch default]
    python benchmarks/viewers.py --paused ...      (the owner pauses first: the pages' cost, no trainer beside them)
    python benchmarks/viewers.py --engines ...     (the server's runs train in engine processes)
    python benchmarks/viewers.py --apptest ...     (the whole script per refresh: an upper bound)

Starts `streamlit run app.py` on 127.0.0.1 (tests/harness.Studio). Every page is a websocket client
speaking Streamlit's protocol as the browser does: it asks for a run of the script with its query
string, and when the server names a timed fragment (`auto_rerun`: interval and fragment id) it asks
for a rerun of that fragment every interval, as the browser's timer does, whether or not the last one
has finished. The owner opens the studio and presses Start (a trigger of the `start` button); its
Step counter gives the run's steps/s. The viewers open `?watch=<run id>` from the owner's link.

Phases of --seconds each: the owner alone, then with 1 viewer, then with --viewers (--repeats times;
each figure of that phase is the median of the repeats). A viewer's first
visit runs the whole script; each phase is measured after every page has drawn once, and the first
once the server's warm-up (data, the digit judge: threads named gan-preload) has gone quiet.

Server CPU comes from /proc of the server process: the whole process (dead script threads included)
less the trainer's threads (named in the OS through benchmarks/thread_names/sitecustomize.py), so
what is left is the server's own work: script threads, the event loop, sending. With --engines
(GAN_STUDIO_ENGINES=on) the steps run in processes below the server's: their CPU is engine_cores. A viewer's cost is
the server CPU of a phase beyond a smaller phase's, per extra viewer refresh done in it.
Prints one line per figure, then the figures as JSON:
  cpu_ms_per_refresh   server CPU per viewer per refresh: with N viewers, the N-viewer phase less the
                       1-viewer phase per extra refresh; with 1, that phase less the owner alone
  viewer_cores         the cores the viewers took: the per-refresh figure x the refreshes achieved;
                       cores_at_live_rate: the per-refresh figure x N x 1/LIVE_EVERY_S (the cores N
                       viewers would take if the server kept up with every refresh)
  steps_per_s          the run's rate with 1 viewer and with all of them, and their ratio
  engine_cores         the CPU of the server's child processes (the engines and their forkserver)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from harness import Studio  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
FINISHED = ForwardMsg.ScriptFinishedStatus
WATCH = re.compile(r"\?watch=([\w-]+)")


class Page:
    """One visitor's page over Streamlit's websocket, without a browser."""

    def __init__(self, url: str, query: str):
        self.url, self.query = url.replace("http://", "ws://") + "/_stcore/stream", query
        self.ws = None
        self.timers: dict[str, tuple[float, asyncio.Task]] = {}
        self.refreshes = 0          # fragment runs finished
        self.full_runs = 0          # whole-script runs finished
        self.cut_short = 0          # runs ended early for a newer rerun request
        self.step: tuple[float, int] | None = None       # (when seen, the Step counter)
        self.start_id = self.run_id = self.pause_id = None
        self.errors: list[str] = []
        self.received_bytes = 0
        self.deltas = 0             # deltas (elements and blocks) of the run in progress
        self.deltas_per_refresh: list[int] = []
        self.kinds: dict[str, int] = {}     # element kinds of the last refresh
        self._kinds: dict[str, int] = {}

    async def open(self) -> "Page":
        self.ws = await websockets.connect(self.url, subprotocols=["streamlit"], max_size=None)
        self.reader = asyncio.create_task(self._read())
        await self.rerun()
        return self

    async def rerun(self, fragment_id: str = "", auto: bool = False, trigger: str | None = None) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string, state.fragment_id, state.is_auto_rerun = self.query, fragment_id, auto
        if trigger:
            state.widget_states.widgets.add(id=trigger, trigger_value=True)
        await self.ws.send(msg.SerializeToString())

    async def _timer(self, fragment_id: str, interval: float) -> None:
        # the browser's setInterval: one rerun request per interval, finished or not
        while True:
            await asyncio.sleep(interval)
            await self.rerun(fragment_id, auto=True)

    async def _read(self) -> None:
        async for data in self.ws:
            self.received_bytes += len(data)
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "delta":
                self.deltas += 1
                d = msg.delta.WhichOneof("type")
                k = msg.delta.new_element.WhichOneof("type") if d == "new_element" else d
                self._kinds[k] = self._kinds.get(k, 0) + 1
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element)
            elif kind == "new_session" and not msg.metadata.run.fragment_ids:
                for fid in list(self.timers):   # a whole-page run: the browser drops its timers
                    self._stop(fid)
            elif kind == "auto_rerun":
                fid, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
                if fid in self.timers and self.timers[fid][0] == interval:
                    continue
                self._stop(fid)
                self.timers[fid] = (interval, asyncio.create_task(self._timer(fid, interval)))
            elif kind == "stop_auto_rerun":
                for fid in msg.stop_auto_rerun.fragment_ids:
                    self._stop(fid)
            elif kind == "script_finished":
                if msg.script_finished == FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                    self.refreshes += 1
                    self.deltas_per_refresh.append(self.deltas)
                    self.kinds = self._kinds
                elif msg.script_finished == FINISHED.FINISHED_SUCCESSFULLY:
                    self.full_runs += 1
                elif msg.script_finished == FINISHED.FINISHED_EARLY_FOR_RERUN:
                    self.cut_short += 1
                self.deltas, self._kinds = 0, {}

    def _element(self, e) -> None:
        which = e.WhichOneof("type")
        if which == "metric" and e.metric.label == "Step":
            self.step = (time.monotonic(), int(e.metric.body.replace(",", "")))
        elif which == "button" and e.button.id.endswith("-start"):
            self.start_id = e.button.id
        elif which == "button" and e.button.id.endswith("-pause"):
            self.pause_id = e.button.id
        elif which == "markdown" and WATCH.search(e.markdown.body):   # the owner's watch-link caption
            self.run_id = WATCH.search(e.markdown.body).group(1)
        elif which == "exception":
            self.errors.append(e.exception.message[:300])

    def _stop(self, fid: str) -> None:
        if fid in self.timers:
            self.timers.pop(fid)[1].cancel()

    async def close(self) -> None:
        for fid in list(self.timers):
            self._stop(fid)
        self.reader.cancel()
        await self.ws.close()


async def until(cond, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


class ServerCPU:
    """CPU seconds of the server process, less its trainer threads'."""

    def __init__(self, pid: int):
        self.pid = pid

    def _ticks(self, path: str) -> int:
        fields = open(path).read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])     # utime, stime

    def named(self, name: str) -> float:
        """CPU seconds of the server's threads of that name (benchmarks/thread_names gives Python's
        names to the OS; a thread a named one starts, such as torch's pool, inherits its name)."""
        total = 0
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                if open(f"/proc/{self.pid}/task/{tid}/comm").read().strip() == name:
                    total += self._ticks(f"/proc/{self.pid}/task/{tid}/stat")
            except OSError:
                continue
        return total / TICK

    def trainer(self) -> float:
        return self.named("gan-trainer")

    def children(self) -> float:
        """CPU seconds of the processes below the server's (engines, their forkserver), alive now."""
        parents = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    parents[int(name)] = int(open(f"/proc/{name}/stat").read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        below, total = {self.pid}, 0
        for _ in range(3):     # the server, its forkserver, the engines
            below |= {p for p, parent in parents.items() if parent in below}
        for p in below - {self.pid}:
            try:
                total += self._ticks(f"/proc/{p}/stat")
            except OSError:
                continue
        return total / TICK

    def now(self) -> tuple[float, float, float]:
        return self._ticks(f"/proc/{self.pid}/stat") / TICK, self.trainer(), self.children()


async def phase(owner: Page, viewers: list[Page], cpu: ServerCPU, seconds: float) -> dict:
    """Run for `seconds`: the server's cores (trainer left out), refreshes, and the run's steps/s."""
    refreshes0 = [p.refreshes for p in viewers]
    owner0, (proc0, trainer0, engines0) = owner.refreshes, cpu.now()
    client0, steps = time.process_time(), [owner.step]
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(0.25)
        if owner.step != steps[-1]:
            steps.append(owner.step)
    wall = time.monotonic() - t0
    proc1, trainer1, engines1 = cpu.now()
    (ta, sa), (tb, sb) = steps[0], steps[-1]
    return {"server_cores": ((proc1 - proc0) - (trainer1 - trainer0)) / wall,
            "trainer_cores": (trainer1 - trainer0) / wall,
            "engine_cores": (engines1 - engines0) / wall,
            "viewer_refreshes_per_s": sum(p.refreshes - r for p, r in zip(viewers, refreshes0)) / wall,
            "owner_refreshes_per_s": (owner.refreshes - owner0) / wall,
            "steps_per_s": (sb - sa) / max(tb - ta, 1e-9),
            "client_cores": (time.process_time() - client0) / wall}


async def measure(a: argparse.Namespace, studio: Studio) -> dict:
    cpu = ServerCPU(studio.proc.pid)
    owner = await Page(studio.url, f"arch={a.arch}").open()
    await until(lambda: owner.start_id and owner.full_runs, 120, "the owner's page did not draw Start")
    await owner.rerun(trigger=owner.start_id)
    await until(lambda: owner.run_id and owner.step and owner.step[1] > 20 and owner.refreshes > 1, 120,
                "the run did not train")
    watch = f"watch={owner.run_id}"
    if a.paused:   # the pages' own cost: no trainer beside them, and figures built once
        runs = owner.full_runs    # a click's whole run comes after its callback: the pause is done
        await owner.rerun(trigger=owner.pause_id)
        await until(lambda: owner.full_runs > runs, 30, "the run did not pause")
    await asyncio.sleep(a.seconds / 2)    # the first seconds of a server's first run import and build more
    # and the server's warm-up (data, the digit judge) is over: its seconds of CPU in a phase made a
    # later phase's cost per refresh come out negative
    for _ in range(60):
        before = cpu.named("gan-preload")
        await asyncio.sleep(1)
        if cpu.named("gan-preload") - before < 0.05:
            break
    alone = await phase(owner, [], cpu, a.seconds)
    viewers = []

    async def join(n: int) -> None:
        # each new page's first visit runs the whole script; measured once all have drawn, or (an
        # overloaded server) once the time is up: the refreshes achieved then say how far behind it is
        new = [await Page(studio.url, watch).open() for _ in range(n - len(viewers))]
        viewers.extend(new)
        try:
            await until(lambda: all(p.full_runs for p in new), 30 + 2 * n, "")
        except TimeoutError:
            pass

    await join(1)
    one = await phase(owner, viewers, cpu, a.seconds)
    await join(a.viewers)
    # the N-viewer phase --repeats times over: a shared machine's speed drifts by a third from one
    # minute to the next, so each figure is the median of its phases
    manys = [await phase(owner, viewers, cpu, a.seconds) for _ in range(a.repeats)]
    many = {k: statistics.median(m[k] for m in manys) for k in manys[0]}
    errors = owner.errors + [e for p in viewers for e in p.errors]
    kb = statistics.median(p.received_bytes / max(p.refreshes + p.full_runs, 1) for p in viewers) / 1024
    deltas = statistics.median(statistics.median(p.deltas_per_refresh) for p in viewers if p.deltas_per_refresh)
    kinds = next((p.kinds for p in viewers if p.kinds), {})
    for p in [owner, *viewers]:
        await p.close()
    return {"alone": alone, "1": one, "many": many, "manys": manys, "errors": errors, "kb_per_viewer_message": kb,
            "deltas_per_refresh": deltas, "kinds": kinds,
            "drawn": sum(p.full_runs > 0 for p in viewers), "cut_short": sum(p.cut_short for p in viewers)}


def per_refresh_ms(ph: dict, base: dict) -> float | None:
    """Server CPU per viewer refresh: what the phase took beyond `base`, per viewer refresh beyond it;
    None where hardly any refresh came through (an overloaded server: see refreshes_per_s)."""
    extra = ph["viewer_refreshes_per_s"] - base.get("viewer_refreshes_per_s", 0.0)
    return 1000 * (ph["server_cores"] - base["server_cores"]) / extra if extra >= 0.1 else None


def rounded(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--viewers", type=int, default=30)
    p.add_argument("--seconds", type=float, default=10.0, help="per phase")
    p.add_argument("--arch", default="default")
    p.add_argument("--repeats", type=int, default=3, help="phases with all the viewers; figures are their medians")
    p.add_argument("--paused", action="store_true",
                   help="the owner pauses the run once it has trained: what the pages cost with no trainer beside them")
    p.add_argument("--engines", action="store_true", help="GAN_STUDIO_ENGINES=on: runs train in processes of their own")
    p.add_argument("--apptest", action="store_true", help="the older upper bound: AppTest reruns the whole script")
    p.add_argument("--no-sharing", action="store_true", help="with --apptest: every page builds its own figures")
    a = p.parse_args()
    if a.apptest:
        import viewers_apptest
        return viewers_apptest.main(a)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "benchmarks" / "thread_names"),
                                                       os.environ.get("PYTHONPATH")])),
           "GAN_STUDIO_ENGINES": "on" if a.engines else "off"}
    with Studio(env=env, log_name="viewers.log") as studio:
        r = asyncio.run(measure(a, studio))
    load = os.getloadavg()
    alone, one, many, n = r["alone"], r["1"], r["many"], a.viewers
    every = 1.0     # app.LIVE_EVERY_S: a viewer's page refreshes once a second
    # the N viewers' figure against the 1-viewer phase (both in steady training: the owner-alone phase
    # follows the start closely and its own work varies more); the 1 viewer's against the owner alone
    ms_one = per_refresh_ms(one, alone)
    each = [per_refresh_ms(m, one) for m in r["manys"]]
    ms_many = statistics.median(each) if None not in each else None
    report = {
        "mode": "server", "engines": a.engines, "viewers": n, "arch": a.arch, "load_avg_1m": round(load[0], 2),
        "cpu_ms_per_refresh": {"1": rounded(ms_one, 1), str(n): rounded(ms_many, 1)},
        "server_cores": {"owner": round(alone["server_cores"], 3), "1": round(one["server_cores"], 3),
                         str(n): round(many["server_cores"], 3)},
        "viewer_cores": None if ms_many is None else round(ms_many * many["viewer_refreshes_per_s"] / 1000, 3),
        "cores_at_live_rate": None if ms_many is None else round(ms_many * n / every / 1000, 3),
        "refreshes_per_s_achieved": round(many["viewer_refreshes_per_s"], 2),
        "refreshes_per_s": {"1": round(one["viewer_refreshes_per_s"], 2), str(n): round(many["viewer_refreshes_per_s"], 2)},
        "steps_per_s": {"owner": round(alone["steps_per_s"], 1), "1": round(one["steps_per_s"], 1),
                        str(n): round(many["steps_per_s"], 1)},
        "steps_ratio": round(many["steps_per_s"] / max(one["steps_per_s"], 1e-9), 3),
        "phases": {"cpu_ms_per_refresh": [rounded(x, 1) for x in each],
                   "steps_per_s": [round(m["steps_per_s"], 1) for m in r["manys"]],
                   "refreshes_per_s": [round(m["viewer_refreshes_per_s"], 2) for m in r["manys"]]},
        "trainer_cores": {"1": round(one["trainer_cores"], 2), str(n): round(many["trainer_cores"], 2)},
        "engine_cores": {"1": round(one["engine_cores"], 2), str(n): round(many["engine_cores"], 2)},
        "client_cores": round(many["client_cores"], 2),
        "kb_per_viewer_message": round(r["kb_per_viewer_message"], 1),
        "deltas_per_viewer_refresh": r["deltas_per_refresh"], "delta_kinds": r["kinds"],
        "viewers_drawn": r["drawn"], "runs_cut_short": r["cut_short"], "page_errors": r["errors"][:5],
    }
    print(f"load average (1 min): {load[0]:.2f}")
    print(f"server CPU per viewer per refresh: {report['cpu_ms_per_refresh']['1']} ms (1 viewer), "
          f"{report['cpu_ms_per_refresh'][str(n)]} ms ({n} viewers)")
    print(f"{n} viewers: {report['viewer_cores']} cores measured at {report['refreshes_per_s_achieved']} refreshes/s; "
          f"{report['cores_at_live_rate']} cores at 1 refresh/s each")
    print(f"server cores in all: {report['server_cores']} (owner alone, 1 viewer, {n})")
    print(f"run's steps/s: {report['steps_per_s']['1']} with 1 viewer, {report['steps_per_s'][str(n)]} with {n}: "
          f"ratio {report['steps_ratio']}")
    print(f"the trainer's thread in the server: {report['trainer_cores'][str(n)]} cores; processes below the "
          f"server (engines): {report['engine_cores'][str(n)]} cores")
    print(f"a viewer's refresh: {r['deltas_per_refresh']} deltas (elements and blocks), "
          f"{report['kb_per_viewer_message']} kB")
    print(f"viewers whose page drew: {r['drawn']} of {n}; page errors: {len(r['errors'])}")
    print(f"each {n}-viewer phase (medians above): {report['phases']}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
