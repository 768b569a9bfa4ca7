"""A session's turns on the host's trainers: asking the Scheduler for one before each step, waiting in
line without polling, a turn on an engine (lease.py), what a turn sheds as it ends, and when a run
stops by itself.

These are functions of a TrainingSession's state (session.py), run on its worker; each says whether
it takes the session's lock or is called under it.
"""
from __future__ import annotations

import time
from typing import Any

from . import host
from .engine import Burst
from .i18n import msg
from .snapshot import PAUSED, RUNNING, WAITING

WAIT_FALLBACK_S = 5.0   # a waiting session's longest sleep between two asks for a turn


def take(s: Any) -> bool:
    """Before a step: True if session s has a turn now. Else it waits in line (WAITING), until woken
    or WAIT_FALLBACK_S, and the answer is False, as it is when s stopped meanwhile."""
    # ask for a turn outside the session's lock: the scheduler may wake other sessions
    with s._cv:
        s._woken = False
    granted = s.scheduler.acquire(s)
    if granted:
        host.fit_threads(s.scheduler.running)      # the CPUs shared among the runs training now
    else:
        s._lease.give_back(s.limits.max_running)   # for the run whose turn it is, before this one waits
    with s._cv:
        if s._state not in (RUNNING, WAITING):
            return False      # stopped meanwhile: the turn goes back as the worker ends
        now = time.monotonic()
        if granted and s._waiting_since is not None:
            # hooks count training time: without this, probes that fell due while the session
            # waited ran at once and ate a short turn (a 3 s first turn took one step under load)
            s._hooks.shift(now - s._waiting_since)
        s._waiting_since = None if granted else (s._waiting_since or now)
        if s._state != (new := RUNNING if granted else WAITING):
            s._state, s._version = new, s._version + 1
        if not granted:
            # woken by the scheduler when a place frees (kept if it came before this wait), by
            # a command or by the visitor leaving; the timeout is only a fallback. Twenty
            # sessions polling twice a second slowed the two that trained (one GIL between them)
            if not s._jobs and not s._stopping and not s._woken:
                s._cv.wait(timeout=WAIT_FALLBACK_S)
            s._last_end = time.monotonic()
    return granted


def on_engine(s: Any) -> bool:
    """As a step is due in a turn, with engines on: True once this turn's engine trains the run, or when
    a job waits (it runs first); False to take this step on the session's thread."""
    with s._cv:
        if s._jobs or s._stopping:
            return True
    if not s._lease.start(s._trainer, s.limits.update_every_steps, on=s.limits.engines):
        return False
    s._last_end = time.monotonic()
    return True


def goes_on(s: Any, out: Burst) -> bool:
    """An engine's report `out` came in: does the turn go on, the engine training on? Only with nothing
    to do before the next report: no job, no end, no divergence, and the turn still s's."""
    with s._cv:
        quiet = not s._jobs and not s._stopping and s._state == RUNNING
    return quiet and out.diverged is None and s.scheduler.acquire(s)


def shed(s: Any) -> None:
    """As a turn ends: what only a training trainer needs goes, so each waiting or paused visitor
    holds their models, Adam's moments and histories only (benchmarks/class_load.py)."""
    # the rewind point is taken again as the next turn begins; the gradients are rebuilt by each
    # step. The engine goes back to the pool with its steps collected
    s._lease.give_back(s.limits.max_running)
    t = s._trainer
    if not s._rewind.drop() and all(p.grad is None for p in t.D.parameters()):
        return
    for m in (t.G, t.D):
        for p in m.parameters():
            p.grad = None
    host.trim_memory()


def should_end(s: Any) -> bool:
    """Under the lock: does session s stop by itself? Its page closed and nobody watches (after the
    grace), or nobody touched anything for the idle limit; a run training then pauses, saying why."""
    now, lim = time.monotonic(), s.limits
    if s._audience.abandoned(now, lim.leave_grace_s):
        reason = msg("the page was closed")
    elif now - s._last_touch > lim.idle_limit_s:
        reason = msg("no interaction for {minutes:.0f} min", minutes=lim.idle_limit_s / 60)
    else:
        return False
    if s._state in (RUNNING, WAITING):
        s._state, s._message = PAUSED, msg("paused: {reason}", reason=reason)
        s._version += 1
    return True
