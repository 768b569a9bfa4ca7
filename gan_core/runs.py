"""Runs shared live: a process-wide registry of runs by id, who watches each, and the figures they share.

A run is one TrainingSession. Its owner is the visitor whose session it is; anyone holding its link
(`?watch=<run_id>`) is a viewer, who sees the published snapshot and never steers. The registry holds
runs weakly: a run that nobody holds (owner gone, no viewer, worker ended) drops out, and its link
then says it has expired. Figures are built once per published snapshot version and shared by every
viewer through one small bounded cache.
"""
from __future__ import annotations

import secrets
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterator

ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
ID_LEN = 16           # token_urlsafe(12): 96 random bits, 16 characters of ID_CHARS

_lock = threading.Lock()
_runs: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()


def register(run: Any) -> str:
    """A new unguessable id for run, findable by `find` while the run is alive."""
    with _lock:
        while (run_id := secrets.token_urlsafe(12)) in _runs:
            pass
        _runs[run_id] = run
    return run_id


def find(run_id: str) -> Any | None:
    """The run with this id, or None (unknown, or ended and dropped)."""
    with _lock:
        return _runs.get(run_id)


def all_runs() -> Iterator[tuple[str, Any]]:
    with _lock:
        return iter(list(_runs.items()))


class Audience:
    """Who is there for a run: its owner's page, and its viewers' pages, each counted once.

    Times are given by the caller (the session's clock), so the rule is tested without sleeps:
    a run is abandoned `grace` seconds after the last page went, the owner's or the last viewer's,
    whichever went later; while any viewer watches it is not abandoned."""

    def __init__(self) -> None:
        self._viewers: set[object] = set()
        self._owner_left: float | None = None
        self._last_viewer_left: float | None = None

    def owner_left(self, now: float) -> None:
        self._owner_left = now

    def owner_back(self) -> None:
        self._owner_left = None

    def join(self) -> object:
        """A viewer's page came: a token for `leave`."""
        token = object()
        self._viewers.add(token)
        return token

    def leave(self, token: object, now: float) -> None:
        """A viewer's page went (at most once per token: a second leave is ignored)."""
        if token in self._viewers:
            self._viewers.discard(token)
            if not self._viewers:
                self._last_viewer_left = now

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def abandoned(self, now: float, grace: float) -> bool:
        if self._owner_left is None or self._viewers:
            return False
        gone = max(self._owner_left, self._last_viewer_left or self._owner_left)
        return now - gone > grace


class Watched:
    """A run's pages, for a session (TrainingSession is one): its owner's page leaving and coming
    back, viewers' pages coming and going, each told to its Audience under the session's lock. A
    change in who watches wakes the worker (it may end the run) and the viewer count is published."""

    def release(self) -> None:
        """The visitor's page went away: stop after the grace period unless they come back, or
        while anyone watches the run."""
        self._tell(lambda a: a.owner_left(time.monotonic()), publish=False, wake=True)

    def returned(self) -> None:
        """The visitor's page is connected again (a reconnect within the grace period)."""
        self._tell(Audience.owner_back, publish=False)

    def watch(self) -> object:
        """A viewer's page opened this run: a token for `unwatch`. Viewers never steer it."""
        return self._tell(Audience.join)

    def unwatch(self, token: object) -> None:
        """A viewer's page went (or forked); counted once per token. The last viewer gone after the
        owner stops the run after the grace period, as the owner's leaving does."""
        self._tell(lambda a: a.leave(token, time.monotonic()), wake=True)

    def _tell(self, fn: Callable[[Audience], Any], publish: bool = True, wake: bool = False) -> Any:
        # publish: the viewer count changed (the owner's page shows it); wake: the worker may end the run
        with self._cv:
            out = fn(self._audience)
            self._version += publish
            if wake:
                self._cv.notify_all()
            return out


class _Slot:
    def __init__(self) -> None:
        self.lock, self.done, self.value = threading.Lock(), False, None


class SharedCache:
    """A small LRU shared by every page: `get(key, build)` builds a value once per key.

    Pages asking for the same key at once wait for one build instead of each making their own;
    builds of different keys run side by side (a drawing may wait for a trainer's step)."""

    def __init__(self, maxsize: int = 64):
        self.maxsize, self.builds = maxsize, 0
        self._items: OrderedDict[Hashable, _Slot] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            slot = self._items.get(key)
            if slot is None:
                slot = self._items[key] = _Slot()
                while len(self._items) > self.maxsize:
                    self._items.popitem(last=False)
            else:
                self._items.move_to_end(key)
        with slot.lock:
            if not slot.done:           # a build that raised leaves the slot empty: the next asker tries again
                slot.value, slot.done = build(), True
                with self._lock:
                    self.builds += 1
            return slot.value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


figures = SharedCache(maxsize=32)   # figures per (run, version, language, smoothing): ~0.4 MB each at most
