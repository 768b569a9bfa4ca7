"""Turns across sessions: at most `max_running` train at once, the rest wait in a first-come queue.

When others are waiting, a session that has trained for `slice_s` goes to the back of the line, so
every visitor makes progress on a crowded server. The clock is injected, so tests need no sleeps.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Hashable


class Scheduler:
    def __init__(self, max_running: int, slice_s: float = 30.0, *,
                 clock: Callable[[], float] = time.monotonic):
        self.max_running, self.slice_s, self.clock = max(1, max_running), slice_s, clock
        self._lock = threading.Lock()
        self._running: dict[Hashable, float] = {}   # member -> when its turn began
        self._queue: deque[Hashable] = deque()

    def acquire(self, s: Hashable) -> bool:
        """Called by a member before each step: may it step now? If not, it waits in line.

        Members first in line who could start now are woken (their `wake()`, if they have one)."""
        with self._lock:
            now = self.clock()
            if s in self._running:
                if not self._queue or now - self._running[s] < self.slice_s:
                    return True
                del self._running[s]        # its turn is over and others wait: back of the line
                self._queue.append(s)
            elif len(self._running) < self.max_running and (not self._queue or self._queue[0] is s):
                if self._queue:
                    self._queue.popleft()
                self._running[s] = now
                return True
            elif s not in self._queue:
                self._queue.append(s)
            heads = self._heads()
        _wake(heads)
        return False

    def release(self, s: Hashable) -> None:
        """The member stops training (paused, stopped, reset): its place goes to the next in line."""
        with self._lock:
            self._running.pop(s, None)
            if s in self._queue:
                self._queue.remove(s)
            heads = self._heads()
        _wake(heads)

    def _heads(self) -> list[Hashable]:
        # under the lock: those first in line who could start now
        return list(self._queue)[:max(0, self.max_running - len(self._running))]

    def position(self, s: Hashable) -> int | None:
        """1 for the next in line; None when not waiting."""
        with self._lock:
            return self._queue.index(s) + 1 if s in self._queue else None

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)


def _wake(members: list) -> None:
    # outside the scheduler's lock: a member's wake takes its own lock
    for m in members:
        wake = getattr(m, "wake", None)
        if wake is not None:
            wake()
