"""How many CPUs this process may actually use, and how the studio sizes itself from that.

`os.cpu_count()` (and torch's default thread count) report the host's cores. A container on a
shared host is held to far less: by CPU affinity (the cores it may run on) and by a cgroup quota
(a share of CPU time per period, e.g. 0.078 to 2 cores on Streamlit Community Cloud). Threads
beyond that quota don't run in parallel; they are throttled, and oversubscribed torch threads are
far slower than one each. So every count that follows the CPUs comes from `usable()`.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MAX_TRAINERS = 32      # trainers at once on a CPU host: one per usable CPU, one torch thread each
# On a GPU the trainers' Python loops (one GIL between them) feed it, not the CPU's cores: at most
# this many at once until benchmarks/gpu_load.py has measured where a lent GPU's total steps/s stops
# growing; GAN_STUDIO_MAX_RUNNING overrides it.
MAX_GPU_TRAINERS = 4
GPU_MB_PER_TRAINER = 512   # device memory allowed to each: the default model with Adam takes ~40 MB


@dataclass(frozen=True)
class CPUs:
    count: int    # whole CPUs this process may keep busy, at least 1
    source: str   # what limited it, for the server log


def usable(root: str | Path = "/") -> CPUs:
    """CPUs this process may use: the fewer of its affinity and its cgroup quota, at least 1.

    `root` is the filesystem root the cgroup files are read under (tests pass a folder of fakes).
    A fractional quota rounds down (1.5 CPUs -> 1), because a thread over the quota is throttled.
    """
    affinity = _affinity()
    quota = _quota(Path(root))
    if quota is None or math.floor(quota[0]) >= affinity:
        return CPUs(affinity, f"affinity, {affinity} of {os.cpu_count() or 1} on the host")
    cpus, where = quota
    return CPUs(max(1, math.floor(cpus)), f"{where} quota of {cpus:.3g} CPUs")


def trainers_at_once(cpus: CPUs | None = None, gpu_memory_mb: float | None = None) -> int:
    """Default for how many sessions train at once: on a CPU host one per usable CPU (at most
    MAX_TRAINERS), as one-thread trainers side by side outrun one trainer with every thread
    (benchmarks/class_load.py); on a GPU of `gpu_memory_mb`, what its memory holds at
    GPU_MB_PER_TRAINER each, at most MAX_GPU_TRAINERS and one per usable CPU."""
    count = (cpus or usable()).count
    if gpu_memory_mb is None:
        return min(MAX_TRAINERS, count)
    return max(1, min(MAX_GPU_TRAINERS, count, int(gpu_memory_mb // GPU_MB_PER_TRAINER)))


def threads_each(max_running: int, threads: int = 0, cpus: CPUs | None = None) -> int:
    """Torch threads for each trainer with every trainer at once running (a full house): `threads`
    when given, else the CPUs shared among them. The process starts so; a worker then takes what the
    runs training now leave it (threads_now, through host.fit_threads). Under load more threads are
    far slower: two gave the default model 0.1x of one on 2 cores at load 12 (0.8 against 7 steps/s),
    as each OpenMP thread of a step waits for the other whenever the other is descheduled.

    Says once on stderr (the server log) what it sized the process to, and again if that changes.
    """
    cpus = cpus or usable()
    n = threads or max(1, cpus.count // max(1, max_running))
    given = " (as configured)" if threads else ""
    _say_once(f"gan_core: CPUs usable: {cpus.count} ({cpus.source}); "
              f"trainers at once: {max_running}; torch threads each: {n}{given}")
    return n


def threads_now(running: int, threads: int = 0, cpus: CPUs | None = None, elsewhere: float = 0.0) -> int:
    """Torch threads for one of the `running` trainers training now: `threads` when given, else the
    usable CPUs that other processes leave free (`elsewhere`: the cores' worth they keep busy), shared
    among the runs. A run alone on a quiet host gets them all: two threads gave the default model
    1.7-1.9x the steps/s of one on 2 quiet cores (`python -m gan_core train --threads N`). Beside a
    process busy on one of 2 cores, two threads gave 0.4-0.85x of one: each OpenMP thread of a step
    waits for the other whenever the other is descheduled, so a busy host keeps one each."""
    free = (cpus or usable()).count - math.floor(elsewhere + 0.5)
    return threads or max(1, free // max(1, running))


class Elsewhere:
    """The CPU time that other processes use, in cores, over the last `every` seconds or more: the
    host's busy time (/proc/stat) less this process's (/proc/self/stat). 0 where /proc is missing
    (macOS, Windows). Read at most every `every` seconds, so a worker may ask at every step."""

    def __init__(self, every: float = 2.0, read=None, clock=None):
        self.every, self.value, self._last = every, 0.0, None
        self._read, self._clock = read or _cpu_ticks, clock or time.monotonic

    def __call__(self) -> float:
        now = self._clock()
        if self._last is not None and now - self._last[0] < self.every:
            return self.value
        ticks = self._read()
        if ticks is None:
            return 0.0
        if self._last is not None:
            busy, own = ticks[0] - self._last[1], ticks[1] - self._last[2]
            self.value = max(0.0, (busy - own) / _HZ / (now - self._last[0]))
        self._last = (now, *ticks)
        return self.value


_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_ticks() -> tuple[int, int] | None:
    # (the host's busy ticks, this process's ticks): /proc/stat's first line less idle and iowait, and
    # utime + stime of /proc/self/stat (fields 14 and 15, after the name in parentheses)
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    return sum(fields) - fields[3] - fields[4], int(own[11]) + int(own[12])


def _affinity() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):   # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def _quota(root: Path) -> tuple[float, str] | None:
    """(CPUs, 'cgroup v2'/'cgroup v1') from the tightest quota on this process's cgroup or its
    parents, or None when no quota is set (or no cgroup files exist, as off Linux)."""
    found = [q for q in (_v2(root), _v1(root)) if q is not None]
    return min(found) if found else None


def _v2(root: Path) -> tuple[float, str] | None:
    mount = root / "sys/fs/cgroup"
    quotas = []
    for d in _cgroup_dirs(root, mount, lambda controllers: controllers == ""):
        try:
            limit, period = (d / "cpu.max").read_text().split()[:2]   # "max 100000" or "150000 100000"
            if limit != "max":
                quotas.append(int(limit) / int(period))
        except (OSError, ValueError, ZeroDivisionError):
            continue
    return (min(quotas), "cgroup v2") if quotas else None


def _v1(root: Path) -> tuple[float, str] | None:
    quotas = []
    for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        mount = root / "sys/fs/cgroup" / name
        for d in _cgroup_dirs(root, mount, lambda controllers: "cpu" in controllers.split(",")):
            try:
                limit = int((d / "cpu.cfs_quota_us").read_text())   # -1 when there is no quota
                period = int((d / "cpu.cfs_period_us").read_text())
                if limit > 0 and period > 0:
                    quotas.append(limit / period)
            except (OSError, ValueError):
                continue
    return (min(quotas), "cgroup v1") if quotas else None


def _cgroup_dirs(root: Path, mount: Path, wanted) -> list[Path]:
    """The process's cgroup folder under `mount` and each parent up to `mount` itself.

    /proc/self/cgroup names the path ("0::/a/b" for v2, "4:cpu,cpuacct:/a/b" for v1); inside a
    container it is often a host path that isn't mounted, so the mount's root is always read too."""
    dirs = [mount]
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3 and wanted(parts[1]):
            d = mount / parts[2].strip("/")
            while d != mount and mount in d.parents:
                dirs.append(d)
                d = d.parent
    return [d for d in dirs if d.is_dir()]


_said = ""


def _say_once(line: str) -> None:
    global _said
    if line != _said:
        _said = line
        print(line, file=sys.stderr, flush=True)
