"""The host process: its limits (environment and configure()), its CPUs and threads, its name among
replicas, the scheduler every session shares, and what happens at exit.

A session asks here for what is process-wide; nothing here knows what a session does beyond `stop()`.
`configure()` is how a server's secrets set the limits (it returns a sentence per bad key, never
raises); `limits()`, `scheduler()` and `replica()` read them; `stop_all()` ends every session.
"""
from __future__ import annotations

import atexit
import ctypes
import dataclasses
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import torch

from . import config, cpus, engine
from .config import ConfigError
from .scheduler import Scheduler


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _env_bool(name: str) -> bool:
    return _truthy(os.environ.get(name, ""))


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "on", "true", "yes")


def _trainers_at_once() -> int:
    # sessions train on the GPU when there is one (Trainer's device "auto"): then the cap follows it
    if torch.cuda.is_available():
        return cpus.trainers_at_once(gpu_memory_mb=torch.cuda.get_device_properties(0).total_memory / 2**20)
    return cpus.trainers_at_once()


SECONDS = (0.01, 7 * 24 * 3600.0)   # what a host may set a duration of Limits to


def _limit(default: Any, allowed: tuple) -> Any:
    # what configure() accepts beside the default: (low, high), as config.py's fields say it
    return dataclasses.field(default=default, metadata={"limits": allowed})


@dataclass
class Limits:
    """Host-wide defaults, overridable by environment variables (GAN_STUDIO_*) and configure()."""
    # trainers at once
    max_running: int = _limit(int(_env_float("GAN_STUDIO_MAX_RUNNING", _trainers_at_once())), (1, 1024))
    # torch threads each; 0 = the usable CPUs / max_running
    threads: int = _limit(int(_env_float("GAN_STUDIO_THREADS", 0)), (0, 1024))
    # a turn's length when others wait: about the default model's time to digits
    slice_s: float = _limit(_env_float("GAN_STUDIO_SLICE_S", 90), SECONDS)
    first_slice_s: float = _limit(_env_float("GAN_STUDIO_FIRST_SLICE_S", 3), SECONDS)  # a newcomer's first turn
    idle_limit_s: float = _limit(_env_float("GAN_STUDIO_IDLE_LIMIT_S", 15 * 60), SECONDS)  # pause without interaction
    # after the visitor's tab closes
    leave_grace_s: float = _limit(_env_float("GAN_STUDIO_LEAVE_GRACE_S", 30), (0.0, SECONDS[1]))
    grid_every_s: float = _limit(0.5, SECONDS)          # fixed-noise grid: twice per page refresh
    rewind_every_s: float = _limit(5.0, SECONDS)        # last good state kept for NaN
    game_every_s: float = _limit(1.0, SECONDS)          # D's output histograms
    quality_every_s: float = _limit(10.0, SECONDS)      # judge report, at most this often
    update_every_steps: int = _limit(20, (1, 10**5))    # weight-update ratios
    # runs train in engine processes (engine.py): for a class's host
    engines: bool = _limit(_env_bool("GAN_STUDIO_ENGINES"), (False, True))


def _new_scheduler() -> Scheduler:
    return Scheduler(_limits.max_running, _limits.slice_s, first_slice_s=_limits.first_slice_s)


_limits = Limits()
_usable: cpus.CPUs | None = None     # the CPUs this process may use, read once (cgroup files), not at every step
_elsewhere = cpus.Elsewhere()        # the cores' worth other processes keep busy, read every 2 s at most
_scheduler = _new_scheduler()
_sessions: weakref.WeakSet = weakref.WeakSet()   # every live session, for stop_all
_started = threading.Lock()
_exit_registered = False


def configure(**limits: Any) -> list[str]:
    """Change the process-wide limits (e.g. from st.secrets) before sessions start: every valid key
    is applied, and a sentence (an i18n Message) is returned for each bad one. It never raises: a
    host's slip in the secrets is said, not a traceback on every page."""
    global _scheduler
    problems = []
    for k, v in limits.items():
        try:
            # one key at a time, checked as config.py checks a visitor's settings (ConfigError)
            setattr(_limits, k, getattr(config.validate(Limits, **{k: _from_text(k, v)}), k))
        except ConfigError as e:
            problems.append(e.args[0])
    _scheduler = _new_scheduler()
    _set_threads()
    _warm_engines()
    return problems


def _from_text(key: str, value: Any) -> Any:
    # secrets and the environment may say a limit as text: "on", "3", "2.5"; anything else as it came
    kinds = {f.name: str(f.type) for f in dataclasses.fields(Limits)}
    if not isinstance(value, str) or key not in kinds:
        return value
    if kinds[key] == "bool":
        word = value.strip().lower()
        return True if _truthy(word) else False if word in ("0", "off", "false", "no") else value
    try:
        return float(value)
    except ValueError:
        return value


def limits() -> Limits:
    """The process-wide limits (configure() changes them in place)."""
    return _limits


def scheduler() -> Scheduler:
    """The scheduler new sessions share (configure() makes a new one for the limits it sets)."""
    return _scheduler


def replica() -> str | None:
    """This server's name among replicas behind a load balancer (GAN_STUDIO_REPLICA), or None when it
    runs alone. A link to a run names it, so the balancer can send the link to the process holding the run."""
    name = os.environ.get("GAN_STUDIO_REPLICA", "").strip()
    return name if name and len(name) <= 32 and all(c.isalnum() or c in "-_" for c in name) else None


def prepare() -> None:
    """Before the process's first session builds anything: the exit hook (torch threads still alive at
    interpreter exit abort the process), torch's threads, malloc, a warm engine. Once per process."""
    global _exit_registered
    with _started:
        if not _exit_registered:
            atexit.register(stop_all)
            _set_threads()
            _tune_malloc()
            _warm_engines()
            _exit_registered = True


def register(session: Any) -> None:
    """A new session (it has called prepare() before building its model): stopped by stop_all()."""
    _sessions.add(session)


def stop_all(timeout: float = 10.0) -> None:
    """Stop and join every session's worker (at exit, and in tests)."""
    sessions = list(_sessions)
    for s in sessions:
        s.stop(join=False)
    for s in sessions:
        s.stop(join=True, timeout=timeout)


def _set_threads() -> None:
    # Every thread but a trainer's runs torch on one thread: the page's script threads, the loader, a
    # caller's main thread. A live thread that ran one op on two OpenMP threads keeps its team, and a
    # trainer on two threads beside it fell from ~100 to ~70 steps/s (as with OMP_WAIT_POLICY=passive:
    # its barriers stop spinning); a session built its model on its caller's thread before this was
    # set. A worker takes its own count as its run trains: fit_threads().
    global _usable
    _usable = cpus.usable()
    cpus.threads_each(_limits.max_running, _limits.threads, _usable)   # says the full house's count
    torch.set_num_threads(1)


def fit_threads(running: int) -> int:
    """On a worker's thread, as its run takes a turn's step: torch's threads for it, the usable CPUs
    that other processes leave free, shared among the `running` runs that train now (a run alone on a
    quiet host gets them all). OpenMP keeps the count per thread, so each worker sets its own, and
    only when it changes."""
    n = cpus.threads_now(running, _limits.threads, _usable, _elsewhere())
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def _warm_engines() -> None:
    # with engines on, the first visitor's run finds one ready, not a process importing torch
    if _limits.engines and engine.available():
        engine.pool.warm(cpus.threads_each(_limits.max_running, _limits.threads, _usable))


def _tune_malloc() -> None:
    # glibc: a few arenas, not 8 per core (each trainer thread would fragment one of its own): without
    # it a class of 20 left the server 38% above its RSS before they came (benchmarks/class_load.py).
    # Blocks under 4 MB come from the arenas and stay there between steps: a step of the default model
    # frees and takes again a few of 1.6 MB (its 512x784 layers' gradients), and with those mapped on
    # their own each step faulted in ~680 fresh pages, at 0.7x the steps/s (docs/performance.md, "A
    # lone visitor's threads"). Free memory at the heap's top is kept up to 64 MB; trim_memory()
    # hands it back as a run ends.
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)            # M_ARENA_MAX
        libc.mallopt(-3, 4 << 20)      # M_MMAP_THRESHOLD (fixed: no longer raised as blocks are freed)
        libc.mallopt(-1, 64 << 20)     # M_TRIM_THRESHOLD (a fixed mmap threshold leaves it at 128 kB)
    except (OSError, AttributeError):
        pass


def trim_memory() -> None:
    """Hand memory glibc keeps in its arenas back to the system, so a server's RSS falls when visitors go."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
