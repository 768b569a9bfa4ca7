"""A session's engine during a turn (engine.py): leased from the pool as the turn begins, given back
as it ends, and the engine's reports taken in on the way.

The session says how to take a report in (`took`: the state into its trainer, the steps into its
histories; False when the steps diverged and the run rewound) and whether nothing else waits
(`quiet`); the lease starts the engine, keeps it training while the session is quiet, and stops it,
every report taken in, before a job, as the turn ends, or when the engine is lost. An engine lost is
closed here, said on stderr, and the run goes on from its last report: then the lease answers None
or False, and the step runs on the session's thread.
"""
from __future__ import annotations

import sys
import weakref
from typing import Callable

import torch

from . import engine
from .engine import Burst, EngineLost
from .trainer import Trainer


class Lease:
    def __init__(self, took: Callable[[Burst], bool]):
        self.engine: engine.Engine | None = None
        self.changed = True     # the session's trainer changed since the engine's copy was made
        self._took_ref = weakref.WeakMethod(took)   # the session's: a weak one, so no cycle keeps it alive

    @property
    def flying(self) -> bool:
        return self.engine is not None and self.engine.flying

    @property
    def pid(self) -> int | None:
        return None if self.engine is None else self.engine.pid

    def start(self, t: Trainer, every: int, on: bool = True) -> bool:
        """Set an engine training t (its state sent first if it changed); False when engines are off
        (`on`), unavailable here or for t's device, when none is free yet (one is starting) or the
        engine failed: this step runs on the session's thread."""
        if not on or not engine.available() or t.device.type != "cpu":
            return False
        try:
            if self.engine is None:
                self.engine = engine.pool.lease(torch.get_num_threads())
            if self.engine is None:
                return False
            self.engine.start(t, self.changed, every)
        except Exception as e:      # the engine ended, or its copy could not be made
            self.drop(e, t.step_count)
            return False
        self.changed = False
        return True

    def fly(self, quiet: Callable[[Burst], bool]) -> bool | None:
        """While the engine trains: its next report taken in. True: it trains on (`quiet(report)` said
        nothing else waits); False: it stopped, every report in, the turn goes on; None: nothing to go
        on with (the engine lost, or the steps diverged and the run rewound)."""
        if (out := self._ask(self.engine.receive, None)) is None:
            return None
        if not out.final and quiet(out) and self._ask(lambda: self.engine.go_on() or True, False):
            return True if self._took(out) else None
        return False if self._took(out) and self.collect() else None

    def collect(self) -> bool:
        """Stop the engine and take in what it did since its last report: False when there is nothing
        to go on with (it diverged and the run rewound, or the engine was lost)."""
        outs = self._ask(self.engine.finish, None) if self.flying else []
        return outs is not None and all([self._took(out) for out in outs])     # each one taken in

    def give_back(self, keep: int) -> None:
        """As the run stops training (a turn ends, a pause, a new trainer): the engine's steps taken in
        (or, if it fails meanwhile, the run as its last report left it), and the engine back to the
        pool (keeping at most `keep` idle), for a run that trains."""
        if self.engine is None:
            return
        try:
            self.collect()
        except Exception as e:       # the engine's own error: it is closed
            self.drop(e)
        if self.engine is not None:
            engine.pool.give_back(self.engine, keep=keep)
            self.engine = None

    def drop(self, why: Exception | None = None, step: int | None = None) -> None:
        """Close an engine that failed; the run is as its last report left it (at `step`)."""
        if self.engine is not None:
            self.engine.close()
            self.engine, self.changed = None, True
        if why is not None:
            at = " from its last report" if step is None else f" from step {step}"
            print(f"gan_core: an engine was lost ({why}); the run goes on{at}", file=sys.stderr, flush=True)

    def _took(self, out: Burst) -> bool:
        return self._took_ref()(out)

    def _ask(self, fn, lost):
        try:
            return fn()
        except EngineLost as e:
            self.drop(e)
            return lost
