"""The slow part of a server's start, done in the background: torch, the bundled digits, a first model.

Measured on 2 cores: importing torch takes 2-3 s, and the first optimizer another 2 (torch.optim
imports torch._dynamo on first use); the first step then initialises autograd and the fused Adam.
A page that waited for all of that showed nothing for 6-8 s. So the page starts `warm()` here on a
thread of its own at its first run and, until `ready()`, draws its layout from modules that do not
import torch (the controls disabled, a Start pressed meanwhile remembered). This module itself
imports nothing heavy; everything it loads is cached process-wide, so later visitors find it done.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import Callable

PACKAGES = ("torch", "numpy", "PIL", "pyarrow", "mlxtend")   # what the page needs, checked by deps


def warm() -> str | None:
    """Import and build what the first visitor's session needs, and take one step with it, so the
    first Start finds every lazy initialisation done. Returns deps' sentence when a package is
    missing (nothing else is loaded then)."""
    # torch's import, in this thread, sizes OpenMP from this: one thread for all but the trainers'
    # workers, which take their own (host.fit_threads; host._set_threads says why)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from . import deps
    if missing := deps.problem(*PACKAGES):
        return missing
    import pyarrow  # noqa: F401  (the charts' rows: charts.arrow_rows)

    from . import session
    s = session.TrainingSession()   # the data, G and D, their optimizers; sets torch's threads
    try:
        s.step_once()               # on a worker thread, as a visitor's steps are
    finally:
        s.stop()
    return None


def warm_judge() -> None:
    """The judge and its reference features, which the first quality measure needs (about 1 s of
    CPU): loaded after `ready()`, so a visitor's first measure does not stall their training."""
    from . import metrics, probe
    metrics.reference()
    probe.real_fid(probe.QUALITY_N)


class Loader:
    """Runs `load` once, on a thread of its own, then `after`; `ready()` is true once `load` has
    ended (its result in `problem`, or its exception in `error`)."""

    def __init__(self, load: Callable[[], str | None] = warm, after: Callable[[], None] | None = warm_judge):
        self._load, self._after = load, after
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.problem: str | None = None
        self.error: BaseException | None = None
        self.seconds: float | None = None   # how long `load` took

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                # not a daemon: the interpreter waits for it at exit, as a torch thread still running
                # then aborts the process ("terminate called without an active exception"). Said
                # outright: a thread started from a daemon thread (a page's script run) is one too
                self._thread = threading.Thread(target=self._run, name="gan-preload", daemon=False)
                self._thread.start()

    def ready(self, timeout: float = 0.0) -> bool:
        """Has loading ended? Waits up to `timeout` seconds for it."""
        return self._done.wait(timeout) if timeout > 0 else self._done.is_set()

    def _run(self) -> None:
        t0 = time.monotonic()
        try:
            self.problem = self._load()
        except BaseException as e:   # kept for whoever imports next: they meet it with its traceback
            self.error = e
        finally:
            self.seconds = time.monotonic() - t0
            self._done.set()
        if self._after is not None and self.problem is None and self.error is None:
            _lower_priority()
            try:
                self._after()
            except Exception:        # the quality probe reports its own failure when it runs
                pass


def _lower_priority() -> None:
    # this thread only (on Linux a thread is a task with its own nice value): what runs after the
    # loading must not take CPU from a trainer or a page drawing that wants it
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:
            pass


loader = Loader()


def start() -> Loader:
    """The process's loader, started (once)."""
    loader.start()
    return loader
