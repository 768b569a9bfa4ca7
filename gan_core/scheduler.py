"""Turns across sessions: at most `max_running` train at once, the rest wait in line.

The policy, chosen from `benchmarks/class_load.py` (see docs/deployment.md): a newcomer's first turn is short
(`first_slice_s`) and it queues ahead of those who have had a turn, so a class that presses Start
together sees every visitor's first steps within seconds; after that, turns are `slice_s` long and
rotate first come, first served, so the earlier visitors reach digits sooner instead of everyone
reaching them at the end. A turn ends only when others wait. A newcomer never passes one who has
waited a whole slice already, so a stream of newcomers cannot starve anyone. `cycle_s`, when set,
shrinks the slices as the line grows so that every member's turn comes round within about that long
(measured, not the default). The clock is injected, so tests need no sleeps.
"""
from __future__ import annotations

import heapq
import threading
import time
import weakref
from collections import deque
from typing import Callable, Hashable

MIN_SLICE_S = 1.0   # slices never shrink below this: a turn must take some steps


class Scheduler:
    def __init__(self, max_running: int, slice_s: float = 30.0, *, first_slice_s: float = 0.0,
                 cycle_s: float = 0.0, clock: Callable[[], float] = time.monotonic):
        self.max_running, self.slice_s, self.clock = max(1, max_running), slice_s, clock
        self.first_slice_s, self.cycle_s = first_slice_s, cycle_s
        self._lock = threading.Lock()
        self._running: dict[Hashable, tuple[float, bool]] = {}   # member -> (when its turn began, first turn?)
        self._queue: deque[Hashable] = deque()
        self._since: dict[Hashable, float] = {}                  # waiting member -> when it joined the line
        self._served: "weakref.WeakSet" = weakref.WeakSet()      # members that have had a turn

    def acquire(self, s: Hashable) -> bool:
        """Called by a member before each step: may it step now? If not, it waits in line.

        Members first in line who could start now are woken (their `wake()`, if they have one)."""
        with self._lock:
            now = self.clock()
            if s in self._running:
                began, _ = self._running[s]
                if not self._queue or now - began < self._turn(s):
                    return True
                del self._running[s]        # its turn is over and others wait: back of the line
                self._enqueue(s, now)
            elif len(self._running) < self.max_running and (not self._queue or self._queue[0] is s):
                if self._queue:
                    self._queue.popleft()
                    del self._since[s]
                self._running[s] = (now, self.first_slice_s > 0 and s not in self._served)
                self._served.add(s)
                return True
            elif s not in self._since:
                self._enqueue(s, now)
            heads = self._heads()
        _wake(heads)
        return False

    def release(self, s: Hashable) -> None:
        """The member stops training (paused, stopped, reset): its place goes to the next in line."""
        with self._lock:
            self._running.pop(s, None)
            if s in self._since:
                self._queue.remove(s)
                del self._since[s]
            heads = self._heads()
        _wake(heads)

    def position(self, s: Hashable) -> int | None:
        """1 for the next in line; None when not waiting."""
        with self._lock:
            return self._queue.index(s) + 1 if s in self._since else None

    def eta(self, s: Hashable) -> float | None:
        """Seconds until a waiting member's turn should begin, if every turn ahead runs its full
        length; None when not waiting. Free places count as free now."""
        with self._lock:
            if s not in self._since:
                return None
            now = self.clock()
            # when each place frees: a running turn at its end, a free place now
            frees = [max(0.0, began + self._turn(m) - now) for m, (began, _) in self._running.items()]
            frees += [0.0] * (self.max_running - len(frees))
            heapq.heapify(frees)
            for ahead in self._queue:
                if ahead is s:
                    return frees[0]
                first = self.first_slice_s > 0 and ahead not in self._served
                heapq.heapreplace(frees, frees[0] + (self.first_slice_s if first else self._slice()))
        return None

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- under the lock -----------------------------------------------------------------------------
    def _turn(self, s: Hashable) -> float:
        # how long a running member's turn lasts while others wait
        return self.first_slice_s if self._running[s][1] else self._slice()

    def _slice(self) -> float:
        if not self.cycle_s:
            return self.slice_s
        members = len(self._running) + len(self._queue)
        return min(self.slice_s, max(MIN_SLICE_S, self.cycle_s * self.max_running / max(1, members)))

    def _enqueue(self, s: Hashable, now: float) -> None:
        self._since[s] = now
        i = len(self._queue)
        if self.first_slice_s > 0 and s not in self._served:
            # a newcomer goes ahead of those who have had a turn, unless they have waited a slice already
            while i > 0 and self._queue[i - 1] in self._served and now - self._since[self._queue[i - 1]] < self.slice_s:
                i -= 1
        self._queue.insert(i, s)

    def _heads(self) -> list[Hashable]:
        # those first in line who could start now
        return list(self._queue)[:max(0, self.max_running - len(self._running))]


def _wake(members: list) -> None:
    # outside the scheduler's lock: a member's wake takes its own lock
    for m in members:
        wake = getattr(m, "wake", None)
        if wake is not None:
            wake()
