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
