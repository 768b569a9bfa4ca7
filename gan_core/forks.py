"""A fork: a viewer's own session made from a run as it is now, its checkpoint and its histories.

It trains if the run trains (waiting for a trainer like any run), else it is paused. Asked twice by
the same page (the same key) while the first fork lives, the run answers with that fork instead of
making a second: Streamlit can cut a page's callback short after the fork is made and before the
page holds it, then run the callback again.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any

from . import checkpoint
from .snapshot import IDLE, PAUSED, RUNNING, WAITING
from .trainer import Trainer


class Forks:
    """The forks made of one run, by who asked (a page's watch token): each key's fork lives
    weakly, and one page's forks wait for each other while other pages' do not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[Any, list] = {}        # key -> [lock, weak ref to the fork made]

    def get(self, run: Any, key: Any = None) -> Any:
        """The fork of `run` made for key, made now if none lives (a new one each time for key None)."""
        if key is None:
            return fork(run)
        with self._lock:
            for k in [k for k, (_, ref) in self._slots.items() if ref is not None and ref() is None]:
                del self._slots[k]
            slot = self._slots.setdefault(key, [threading.Lock(), None])
        with slot[0]:
            made = slot[1]() if slot[1] is not None else None
            if made is None:
                made = fork(run)
                slot[1] = weakref.ref(made)
            return made


def fork(run: Any) -> Any:
    """A new session of run's class from run as it is now: its trainer's state, its histories,
    its probes' timing and its markers; training if run trains, else paused (idle at step 0)."""
    ckpt, kept, digits, spec = run.look(_fork_state, run)    # one consistent copy, between two steps
    trainer = checkpoint.restore(ckpt, digits, data=spec.data, device=spec.device)
    new = type(run)(trainer.spec, trainer.settings, scheduler=run.scheduler, limits_=run.limits, trainer=trainer)
    with new._cv:
        new._records, new._hooks = kept
        new._state = PAUSED if ckpt["step"] else IDLE
        new._version += 1
    if run.state in (RUNNING, WAITING):
        new.start()
    return new


def _fork_state(t: Trainer, run: Any) -> tuple[dict[str, Any], tuple, Any, Any]:
    # on the worker: the trainer's state and copies of the histories, consistent with each other.
    # The items themselves (metric rows, grid mosaics, reports) are never changed once pushed: shared
    with run._cv:
        kept = run._records.copy(), run._hooks.copy()
    return checkpoint.copy_of(t), kept, t.digits, t.spec   # the digits are shared read-only, as everywhere
