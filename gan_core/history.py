"""Bounded histories, thinned as they grow: memory stays flat however long training runs."""
from __future__ import annotations

import copy
from typing import Any


class Thinned:
    """Keeps every `stride`-th item; past `cap` items it drops every other one and doubles the stride.

    So a run of any length is held as at most `cap` points spread evenly over it, the newest
    always kept in `last`.
    """

    def __init__(self, cap: int = 1000):
        self.cap, self.stride, self.count = cap, 1, 0
        self.steps: list[int] = []
        self.items: list[Any] = []
        self.last: tuple[int, Any] | None = None

    def append(self, step: int, item: Any) -> None:
        self.last = (step, item)
        if step % self.stride:
            return
        self.steps.append(step)
        self.items.append(item)
        if len(self.steps) > self.cap:
            self.stride *= 2
            keep = [i for i, s in enumerate(self.steps) if s % self.stride == 0]
            self.steps = [self.steps[i] for i in keep]
            self.items = [self.items[i] for i in keep]

    def push(self, item: Any) -> None:
        """Append keyed by arrival order: for items that come at irregular steps (a grid every
        0.25 s, a probe every few seconds), so thinning keeps every 2^k-th one, evenly spread."""
        self.append(self.count, item)
        self.count += 1

    def __len__(self) -> int:
        return len(self.steps)

    def view(self) -> list[Any]:
        """The items kept, oldest first, and the newest one even between strides (at most cap + 1)."""
        items = list(self.items)
        if self.last is not None and (not items or items[-1] is not self.last[1]):
            items.append(self.last[1])
        return items

    def copy(self) -> "Thinned":
        """An independent copy; the items themselves are shared (they are never changed once pushed)."""
        new = copy.copy(self)
        new.steps, new.items = list(self.steps), list(self.items)
        return new

    def clear(self) -> None:
        self.__init__(self.cap)


class MetricHistory:
    """Step metrics as columns (name -> list of floats), thinned together."""

    def __init__(self, cap: int = 1000):
        self._rows = Thinned(cap)

    def append(self, metrics: dict[str, float]) -> None:
        self._rows.append(int(metrics["step"]), metrics)

    def columns(self) -> dict[str, list[float]]:
        rows = self._rows.items
        if self._rows.last and (not rows or rows[-1] is not self._rows.last[1]):
            rows = rows + [self._rows.last[1]]   # the newest step, even between strides
        names = list(rows[-1]) if rows else []
        return {n: [r.get(n, float("nan")) for r in rows] for n in names}

    def __len__(self) -> int:
        return len(self._rows)

    def copy(self) -> "MetricHistory":
        new = copy.copy(self)
        new._rows = self._rows.copy()
        return new

    def clear(self) -> None:
        self._rows.clear()


class RunRecord:
    """A run's records: its step metrics, its grids over time, each probe's history, the markers of
    its settings' changes, and its clock (seconds trained, steps a second). A session touches it under
    its lock only. A copy shares the items (metric rows, grid mosaics, reports: never changed once in)."""

    def __init__(self, cap: int = 1000):
        self.history = MetricHistory(cap)
        self.frames = Thinned(cap=60)                   # (step, grid mosaic) over time, for scrubbing
        # each probe's history (add_probe); the weight-update ratios come with the steps (one_step)
        self.probes: dict[str, Thinned | MetricHistory] = {"updates": MetricHistory(cap=300)}
        self.markers: list[tuple[int, str]] = []        # (step, what changed), the newest 50
        self.elapsed, self.rate = 0.0, 0.0              # seconds trained; steps a second, smoothed

    def add(self, rows: list[dict], updates: list[dict], seconds: float | None = None, dt: float = 0.0) -> None:
        """Steps taken: their metrics and weight-update ratios. `seconds`: the training they took, which
        counts in the clock, and with dt (seconds since the last steps were added) in the rate."""
        for m in rows:
            self.history.append(m)
        for u in updates:
            self.probes["updates"].append(u)
        if seconds is not None and rows:
            self.elapsed += seconds
            self.rate = smoothed(self.rate, dt, len(rows))

    @property
    def grid_step(self) -> int | None:
        """The step of the newest grid; None before any."""
        return None if self.frames.last is None else self.frames.last[1][0]

    def add_probe(self, name: str, cap: int) -> None:
        # a new dict, not a changed one: the worker may be going through the old
        self.probes = {**self.probes, name: Thinned(cap)}

    def report(self, name: str, step: int, report: dict) -> None:
        """A probe's report, made at `step`, into its history."""
        self.probes[name].push({"step": step, **report})

    def mark(self, step: int, label: str) -> None:
        """A change of settings at `step`, as the curves' marker says it."""
        self.markers = [*self.markers, (step, label)][-50:]

    def clear(self, frame: tuple[int, Any]) -> None:
        """A new run: every history empty but for its first grid, the clock at zero."""
        for h in (self.history, self.frames, *self.probes.values()):
            h.clear()
        self.frames.push(frame)
        self.markers, self.elapsed, self.rate = [], 0.0, 0.0

    def copy(self) -> "RunRecord":
        """Independent histories and clock (a fork's); its rate starts at zero, as it has not stepped."""
        new = copy.copy(self)
        new.history, new.frames = self.history.copy(), self.frames.copy()
        new.probes = {k: h.copy() for k, h in self.probes.items()}
        new.markers, new.rate = list(self.markers), 0.0
        return new


def smoothed(rate: float, dt: float, steps: int = 1) -> float:
    """Steps a second, smoothed over about a second of steps: `steps` of them took dt seconds."""
    a, now = min(1.0, dt), steps / max(dt, 1e-9)
    return (1 - a) * rate + a * now if rate else now
