"""Periodic work on a session's worker, after a step: the grid, the rewind point, the probes.

Each hook runs about every `every` seconds of training, at most a `share` of the time, and never
less often than every `most` seconds: on a busy machine steps slow down, a hook on a clock does
not, and the probes took 30% of the worker's time under a load of 15 on 2 cores. A failing probe
turns the probes off until a new run; any other hook's failure is the run's.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable


@dataclasses.dataclass
class Hook:
    """fn(session) about every `every` seconds, at most a `share` of the time (a slow fn runs less
    often), but never less often than every `most` seconds."""
    every: float
    fn: Callable[[Any], None]   # a plain function, not a bound method: no cycle keeps a session alive
    share: float = 1.0
    probe: bool = False
    due: float = 0.0
    most: float = math.inf      # the longest wait for the next run
    name: str = ""              # a probe's name (TrainingSession.add_probe)

    def run(self, session: Any, now: float) -> None:
        try:
            self.fn(session)
        finally:
            took = time.monotonic() - now
            self.due = now + min(max(self.every, took / self.share), max(self.every, self.most))


class Hooks:
    """A session's hooks. Adding one makes a new list, never changes the old: the worker may be going
    through it. The session's worker runs them (`run_due`) and times them (`begin`, `shift`)."""

    def __init__(self, hooks: list[Hook]):
        self._all = list(hooks)
        self.probes_on = True       # off once a probe failed, until a new run

    def add(self, hook: Hook) -> None:
        """hook, in place of the one of the same name, if any."""
        self._all = [h for h in self._all if h.name != hook.name] + [hook]

    def copy(self) -> "Hooks":
        """The same hooks, timed alike, the probes on (a fork's)."""
        return Hooks([dataclasses.replace(h) for h in self._all])

    def begin(self, now: float) -> None:
        """Each hook due a period from now (the worker starts)."""
        for h in self._all:
            h.due = now + h.every

    def shift(self, seconds: float) -> None:
        """Every hook due `seconds` later: they count training time, not time waiting for a turn."""
        for h in self._all:
            h.due += seconds

    def cadence(self, name: str, every: float, share: float) -> None:
        """The named hook's period and share, the next run a period from now."""
        for h in self._all:
            if h.name == name:
                h.every, h.share, h.due = every, share, time.monotonic() + every

    def measure(self, session: Any, names: tuple[str, ...] = ()) -> None:
        """The probes run now, all of them or those named."""
        for h in self._all:
            if h.probe and (not names or h.name in names):
                h.fn(session)

    def run_due(self, session: Any, now: float) -> Exception | None:
        """The hooks that are due (the probes while on); a failing probe turns them off and is returned
        (the others still run), anything else raises."""
        failed = None
        for h in self._all if self.probes_on else [h for h in self._all if not h.probe]:
            if now >= h.due:
                try:
                    h.run(session, now)
                except Exception as e:
                    if not h.probe:
                        raise
                    failed = e
        if failed is not None:
            self.probes_on = False
        return failed
