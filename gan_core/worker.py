"""A thread that owns one object and runs jobs on it between steps: the one way in for commands.

`call(fn, *args)` queues fn(obj, *args) and waits for its result, or raises its exception, so only
the worker ever touches the object. A caller waits at most `_wait_s()`, then gets a CommandTimeout (a
job not begun by then is dropped). The thread starts with the first call and runs jobs first, then
a step whenever the subclass wants one, until `stop()`, until `_should_end()` says so, or until a
step raises; the next call starts it again. TrainingSession is the one subclass: its object is a
Trainer and its step a training step.
"""
from __future__ import annotations

import concurrent.futures
import threading
from collections import deque
from typing import Any, Callable

from .i18n import msg

_END = object()
JOB_S = 30.0    # a job's own work at most (a model built, a checkpoint read, on a loaded machine)


class CommandTimeout(RuntimeError):
    """A call's result did not come in the worker's wait; the message says whether it was dropped."""


class Worker:
    def __init__(self, name: str):
        self._cv = threading.Condition()                # guards the queue and the subclass's state
        # (the job, its future, whether it only reads the object)
        self._jobs: deque[tuple[Callable[[], Any], concurrent.futures.Future, bool]] = deque()
        self._thread: threading.Thread | None = None
        self._stopping = False                          # end once the queue is empty
        self._woken = False                             # wake() was called since the last look
        self._name = name

    # -- to override ----------------------------------------------------------------------------
    def _target(self) -> Any:
        """The object jobs run on (read on the worker)."""
        raise NotImplementedError

    def _wants_step(self) -> bool:
        """Under the lock: step now, rather than wait for a job?"""
        return False

    def _should_end(self) -> bool:
        """Under the lock, with no job waiting: end the thread?"""
        return False

    def _step(self) -> None:
        """One unit of work on the worker; an exception ends the thread after `_crashed`."""

    def _begin(self) -> None:
        """On the worker, as it starts."""

    def _before_job(self) -> None:
        """On the worker, before each job but a `look`; an exception fails the job and ends the
        thread as a step's would."""

    def _after_job(self, changed: bool) -> None:
        """On the worker, after each job; `changed`: it was a `call`, which may have changed the object."""

    def _crashed(self, e: Exception) -> None:
        """Under the lock: a step raised e."""

    def _ended(self) -> None:
        """On the worker, as it ends."""

    def _wait_s(self) -> float:
        """How long a caller waits for its job's result: the job's own work, and what may run on the
        worker before it (a subclass whose step can take longer adds that)."""
        return JOB_S

    # -- the one path -----------------------------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(obj, *args, **kwargs) on the worker, between two steps: its result, or its exception
        raised here."""
        return self._queue(False, fn, *args, **kwargs)

    def look(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """As `call`, for an fn that only reads the object (a drawing, a copy): work in flight
        elsewhere (an engine's steps) goes on meanwhile, and the object counts as unchanged."""
        return self._queue(True, fn, *args, **kwargs)

    def _queue(self, reads: bool, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._cv:
            if self._thread is threading.current_thread():    # a job that calls back in
                return fn(self._target(), *args, **kwargs)
            self._jobs.append((lambda: fn(self._target(), *args, **kwargs), future, reads))
            if self._thread is None:
                self._spawn()
            self._cv.notify_all()
        wait = self._wait_s()
        try:
            return future.result(timeout=wait)
        except concurrent.futures.TimeoutError:
            if future.done():       # the job's own TimeoutError, or its result came just now
                return future.result()
            if future.cancel():     # not begun: it never runs
                raise CommandTimeout(msg("The studio did not answer within {seconds:.0f} s, so nothing was "
                                         "done; try again in a moment.", seconds=wait)) from None
            raise CommandTimeout(msg("The studio did not answer within {seconds:.0f} s; what you asked is "
                                     "still under way and takes effect when it is done.", seconds=wait)) from None

    def stop(self, join: bool = True, timeout: float = 10.0) -> None:
        """End the thread once the step in flight, if any, is done."""
        with self._cv:
            self._stopping = True
            thread = self._thread
            self._cv.notify_all()
        if join and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None

    def wake(self) -> None:
        """Stop waiting now (something it waits for has changed); a wake that comes before the
        wait is kept in `_woken`, so it is not lost."""
        with self._cv:
            self._woken = True
            self._cv.notify_all()

    # -- the thread ---------------------------------------------------------------------------------
    def _spawn(self) -> None:
        # under the lock
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._begin()
        try:
            while (job := self._next()) is not _END:
                if job is None:
                    self._step()
                    continue
                fn, future, reads = job
                if not future.set_running_or_notify_cancel():
                    continue        # its caller stopped waiting (CommandTimeout) and was told so
                try:
                    if not reads:
                        self._before_job()
                except BaseException as e:
                    future.set_exception(e)
                    raise
                try:
                    future.set_result(fn())
                except BaseException as e:  # handed to the caller, who raises it
                    future.set_exception(e)
                self._after_job(not reads)
        except Exception as e:
            with self._cv:
                self._stopping = True
                self._crashed(e)
        finally:
            self._ended()
            with self._cv:
                self._thread = None
                if self._jobs:           # they came while this thread was ending: a new one serves them
                    self._spawn()

    def _next(self):
        # the next job; None to step; _END to end
        with self._cv:
            while True:
                if self._jobs:
                    return self._jobs.popleft()
                if self._stopping or self._should_end():
                    return _END
                if self._wants_step():
                    return None
                self._cv.wait(timeout=0.5)
