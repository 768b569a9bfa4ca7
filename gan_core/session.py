"""A TrainingSession: one Trainer, one worker thread that runs it, and the snapshot the page reads.

Every command (start, pause, a setting, a step, a reset, a drawing) is a job on the worker's queue:
the worker runs jobs between two steps, so only it ever touches the trainer, and the caller waits for
the job's result or its exception. The worker starts with the first command and runs until the
session stops (the visitor left, the idle limit, exit, a crash); the next command starts it again.
Periodic work (the grid, D's histograms, the judge, the rewind point) hangs on the loop as
`(every, fn)` hooks. The page reads `snapshot()` (snapshot.Reading), a copy made under a lock that never
waits for a step, of the run's records: its histories, grids, probes' reports and clock (history.RunRecord).

The host's Scheduler (host.scheduler(), scheduler.py) caps how many sessions train at once; the
others wait in line: a session's turns, on its thread or an engine (lease.py), follow turns.py, and a
run that diverges goes back to its rewind point (rewind.py). Everything about the host process
(limits, threads, exit) is in host.py.

A session is a run others can watch (runs.py): it has an unguessable `run_id`, an Audience (its
owner's page and its viewers' pages), and a snapshot `version` bumped whenever the worker publishes,
so figures are built once per version for every page. A run whose owner left trains on while anyone
watches it; `fork()` makes a viewer a session of their own from the run as it is now.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any, Callable

import numpy as np
import torch

from . import build, drawings, engine, forks, hooks, host, lease, probe, render, rewind, runs, slow_motion, snapshot, turns
from .config import LiveSettings, ModelSpec
from .data import Digits
from .history import RunRecord
from .hooks import Hook
from .snapshot import FAILED, IDLE, PAUSED, RUNNING, STOPPED, WAITING, Snapshot
from .i18n import msg
from .scheduler import Scheduler
from .trainer import DivergenceError, Trainer, one_step
from .worker import Worker

GRID_MOST_S = 2.0             # the fixed-noise grid is drawn again at least this often while training
QUALITY_SHARE = 0.05          # the judge's reading (~0.4 s of CPU) takes at most this share of a trainer
JUDGE_CLOSELY_SHARE = 0.3     # ... and this much while a lesson's finding rests on it (reset(judge_every_s=))


class TrainingSession(Worker, snapshot.Reading, runs.Watched, drawings.Drawings):
    def __init__(self, spec: ModelSpec = ModelSpec(), settings: LiveSettings = LiveSettings(), *,
                 scheduler: Scheduler | None = None, limits_: host.Limits | None = None, history_cap: int = 1000,
                 trainer: Trainer | None = None):
        super().__init__("gan-trainer")
        host.prepare()                                  # torch's threads set before a model is built
        self.limits, self.scheduler = limits_ or host.limits(), scheduler or host.scheduler()
        self._state = IDLE
        self._records = RunRecord(history_cap)          # the run's histories and clock, under the lock
        self._probe_rng = torch.Generator().manual_seed(spec.seed)  # probes never draw from the trainer's RNG
        self._last_end = 0.0                            # when the last steps, or a job, ended
        self._last_touch, self._audience, self._version = time.monotonic(), runs.Audience(), 0
        self._waiting_since: float | None = None       # when it last began to wait for a turn (turns.py)
        self._published: Snapshot | None = None         # the last snapshot made: reused until a publish
        self._forks = forks.Forks()
        # a trainer given (a fork) is used as it is; else one is built from the spec
        self._trainer, self._message = (trainer, None) if trainer is not None else build.trainer(spec, settings)
        self._rewind = rewind.Rewind()                  # held only during a turn (turns.shed)
        self._lease = lease.Lease(self._took)           # the engine process that steps this run during a turn
        lim, cls = self.limits, TrainingSession
        # each hook at most a share of the time (hooks.py). The grid, what every page watches, waits at
        # most GRID_MOST_S: under load (two runs on engines, three browsers on two cores) one that took
        # 0.26 s waited 13 s for the next, 150 steps behind
        self._hooks = hooks.Hooks([Hook(lim.grid_every_s, cls._publish_grid, share=0.02, most=GRID_MOST_S),
                                   Hook(lim.rewind_every_s, lambda s: s._rewind.keep(s._trainer))])
        self.add_probe("game", probe.game, every=lim.game_every_s, share=0.02)
        self.add_probe("quality", probe.quality, every=lim.quality_every_s, share=QUALITY_SHARE)
        self._publish_grid()
        host.register(self)
        self.run_id = runs.register(self)

    def add_probe(self, name: str, fn: Callable[[Trainer, torch.Generator], dict], *, every: float,
                  share: float = 1.0, most: float = math.inf, cap: int = 120) -> None:
        """Measure the run with fn(trainer, rng) -> a report (a dict) about every `every` seconds while
        it trains, at most a `share` of the time and at least every `most` seconds (Hook). The reports,
        with "step", go into a bounded history of their own: `snapshot().probes[name]`. A fork copies
        it, a new run clears it; the same name again replaces the probe. fn only reads the trainer and
        draws its noise from rng (never from the trainer's); if it raises, the probes stop until a new run."""
        hook = Hook(every, functools.partial(_measure, name, fn), share, probe=True, most=most, name=name)
        hook.due = time.monotonic() + every
        with self._cv:      # new lists, not changed ones: the worker may be going through the old
            self._hooks.add(hook)
            self._records.add_probe(name, cap)
            self._version += 1

    # -- commands (any thread) --------------------------------------------------------------------
    def start(self) -> None:
        """Start or resume training."""
        self._command(lambda t: self._set_training(True))

    def pause(self) -> None:
        """Pause; returns once the step in flight, if any, has finished."""
        self._command(lambda t: self._set_training(False))

    def step_once(self) -> dict[str, float]:
        """One step while paused or idle; returns its metrics."""
        return self._command(lambda t: self._asked_step())

    def step_d(self) -> dict[str, float]:
        """One D update alone (G and the grid stay as they were); the run advances a step."""
        return self._command(lambda t: self._asked_step(Trainer.step_d))

    def step_g(self) -> dict[str, float]:
        """One G update alone (D stays as it was); the run advances a step."""
        return self._command(lambda t: self._asked_step(Trainer.step_g))

    def slow_step(self, n: int = slow_motion.BATCH) -> slow_motion.SlowStep:
        """One real step on n images, recorded stage by stage (slow_motion.py)."""
        kept = []

        def run(t: Trainer) -> dict[str, float]:
            kept.append(slow_motion.slow_step(t, n))
            return kept[0].metrics
        self._command(lambda t: self._asked_step(run))
        return kept[0]

    def apply(self, **changes: Any) -> LiveSettings:
        """Apply live settings before the next step; Trainer.apply validates them (ConfigError)."""
        return self._command(self._apply, changes)

    def reset(self, spec: ModelSpec | None = None, settings: LiveSettings | None = None, *,
              digits: Digits | None = None, judge_every_s: float | None = None) -> None:
        """A new model (spec changes need one), history cleared; training pauses. `digits` is data
        in memory (own images) that the spec's data only names; else a spec naming the current data keeps it.
        `judge_every_s`: the judge reads G this often until the next reset (a lesson whose finding rests
        on it), at up to JUDGE_CLOSELY_SHARE of the time; by default the server's quality_every_s."""
        def run(t: Trainer) -> None:
            self._swap(*build.again(t, spec, settings, digits))
            # the quality probe's cadence: closer for a lesson, else the server's
            self._hooks.cadence("quality", *((judge_every_s, JUDGE_CLOSELY_SHARE) if judge_every_s else
                                             (self.limits.quality_every_s, QUALITY_SHARE)))
        self._command(run)

    def reset_onto(self, digits: Digits, name: str = "own") -> None:
        """A new model, same settings, trained on `digits` (own images); not conditional, as they
        have no labels."""
        spec = dataclasses.replace(self.snapshot().spec, data=name, conditional=False)
        self.reset(spec, digits=digits)

    def load_checkpoint(self, blob: bytes) -> None:
        """Continue from a checkpoint file's bytes, validated by checkpoint.read (CheckpointError)."""
        self._command(lambda t: self._swap(*build.from_checkpoint(blob)))

    def measure(self, *names: str) -> None:
        """Run the probes now, all of them or those named (also while paused)."""
        self._command(lambda t: self._hooks.measure(self, names))

    def fork(self, key: Any = None) -> "TrainingSession":
        """A session of the caller's own from this run as it is now (forks.py); `key` names who asks
        (a page's watch token): asked again with it while that fork lives, the same fork."""
        return self._forks.get(self, key)

    # -- the process (the visitor's and viewers' pages: runs.Watched) --------------------------------
    def stop(self, join: bool = True, timeout: float = 10.0) -> None:
        """End the worker once the step in flight is done (at exit, or when the visitor is gone)."""
        with self._cv:
            if self._state in (RUNNING, WAITING):
                self._state = STOPPED
        self.scheduler.release(self)
        super().stop(join, timeout)

    # -- the worker: when to step, what a step is, when to end --------------------------------------
    def _target(self) -> Trainer:
        return self._trainer

    def _wants_step(self) -> bool:
        return self._state in (RUNNING, WAITING)

    def _wait_s(self) -> float:
        # a command may wait behind an engine that hangs, until it is declared hung and closed: a
        # caller waits for that, then for the job's own work
        return engine.hang_s() + super()._wait_s()

    def _begin(self) -> None:
        self._last_end = time.monotonic()
        self._hooks.begin(self._last_end)

    def _before_job(self) -> None:
        self._lease.collect()                # a job sees, and may change, the run as the engine left it

    def _after_job(self, changed: bool) -> None:
        self._last_end = time.monotonic()    # time between steps is not step time
        self._lease.changed = self._lease.changed or changed

    def _crashed(self, e: Exception) -> None:
        # a crash marks this session failed; other sessions go on
        self._state, self._message = FAILED, msg("training failed: {error}", error=f"{type(e).__name__}: {e}")
        self._version += 1

    def _ended(self) -> None:
        self.scheduler.release(self)
        turns.shed(self)
        if self._state != FAILED:       # a stop by itself (the page closed, the idle limit, exit)
            self._publish_grid_if_behind()
        host.trim_memory()

    def _step(self) -> None:
        if self._lease.flying:
            # the engine trains on while its report is taken in and the grid drawn: it is acknowledged
            # first, so it never waits for this process (its pages' GIL)
            if (flying := self._lease.fly(lambda out: turns.goes_on(self, out))) is not False:
                if flying:
                    self._run_hooks(time.monotonic())
                return
        if not turns.take(self):        # the Scheduler's turn, or a place in line to wait in
            turns.shed(self)
            return
        if self._rewind.point is None:
            self._rewind.keep(self._trainer)    # a turn begins: its rewind point, if the run is finite
        if not turns.on_engine(self):   # else the hooks draw the run as it is while the engine trains
            try:
                self._train_step(timed=True)
            except DivergenceError as e:
                return self._diverged(str(e))
        self._run_hooks(time.monotonic())

    def _took(self, out: engine.Burst) -> bool:
        # an engine's report: its state into the trainer, its steps into the histories; False if it diverged
        self._record(out.rows, out.updates, out.seconds, engine.adopt(self._trainer, out))
        if out.diverged is not None:
            self._diverged(out.diverged)
        return out.diverged is None

    def _record(self, rows: list[dict], updates: list[dict], seconds: float | None, step: int | None = None) -> None:
        # steps taken, on the thread or an engine, into the histories; `seconds` of a turn's training
        # into the clock and the rate (None for a step asked while paused)
        now = time.monotonic()
        with self._cv:
            if step is not None:     # with its rows: a snapshot never has the step without them
                self._trainer.step_count = step
            self._records.add(rows, updates, seconds, now - self._last_end)
            if seconds is not None:
                self._last_end = now

    def _run_hooks(self, now: float) -> None:
        if (failed := self._hooks.run_due(self, now)) is not None:
            # a probe that breaks (say, a missing judge file): probes off, training goes on
            with self._cv:
                self._message = msg("live measurements are off: {error}", error=f"{type(failed).__name__}: {failed}")

    def _should_end(self) -> bool:
        return turns.should_end(self)   # the page closed and nobody watches, or the idle limit

    def _command(self, fn: Callable[..., Any], *args: Any) -> Any:
        # a command is the visitor at work. A snapshot or a drawing proves nothing: a rerun already
        # under way when the tab closed still makes them, and must not cancel the leave
        with self._cv:
            self._last_touch = time.monotonic()
            self._audience.owner_back()
        try:
            return self.call(fn, *args)
        finally:
            with self._cv:
                self._version += 1      # a command may have changed anything the page shows; a drawing has not

    # -- jobs and hooks (on the worker) -------------------------------------------------------------
    def _set_training(self, on: bool) -> None:
        with self._cv:
            if on and self._state == FAILED:
                raise RuntimeError(msg("this session failed; reset it first"))
            if on:
                self._state, self._message, self._stopping = RUNNING, None, False
            elif self._state in (RUNNING, WAITING):
                self._state = PAUSED
        if not on:
            self.scheduler.release(self)
            turns.shed(self)
            self._publish_grid_if_behind()

    def _train_step(self, run: Callable[[Trainer], dict[str, float]] | None = None,
                    timed: bool = False) -> dict[str, float]:
        # run: half a round (Trainer.step_d, step_g) or the slow-motion step; by default a round, t.step().
        # timed: a turn's step, which counts in the clock and the rate
        t0 = time.monotonic()
        m, ratios = one_step(self._trainer, self.limits.update_every_steps, run)
        ups = [] if ratios is None else [{"step": m["step"], **ratios}]
        self._record([m], ups, time.monotonic() - t0 if timed else None)
        if self._state not in (RUNNING, WAITING):
            self._publish_grid()
        return m

    def _asked_step(self, run: Callable[[Trainer], dict[str, float]] | None = None) -> dict[str, float]:
        # a step the visitor asked for (Step once, Step D, Step G, slow motion): undone if it diverges
        return rewind.undone(self._trainer, lambda: self._train_step(run), self._restore)

    def _apply(self, t: Trainer, changes: dict[str, Any]) -> LiveSettings:
        old, new = t.settings, t.apply(**changes)
        if (label := _changes_label(old, new, changes)) is not None:
            with self._cv:
                self._records.mark(t.step_count, label)
        return new

    def _swap(self, trainer: Trainer, notice: str | None = None) -> None:
        # one step for a reader: the new run's grid is drawn first, and goes in with the new trainer
        # and the histories cleared, so a reader sees the run before or after, never a run without a grid
        frame = _frame(trainer)
        with self._cv:
            self._trainer = trainer
            self._records.clear(frame)
            if self._state in (RUNNING, WAITING, FAILED, STOPPED):
                self._state = PAUSED if self._state != FAILED else IDLE
            self._message = notice
            self._version += 1
        self._rewind.drop()
        self._hooks.probes_on = True  # a new run tries its probes again
        self.scheduler.release(self)
        self._lease.give_back(self.limits.max_running)      # it holds a copy of the trainer that went

    def _diverged(self, why: str) -> None:
        point, said = self._rewind.back(why)      # none kept this turn: the run fails (DivergenceError)
        self.scheduler.release(self)
        self._lease.give_back(self.limits.max_running)
        self._restore(point, said)

    def _restore(self, state: dict[str, Any], rewound: str | None = None) -> None:
        # the run back to a state kept before: a rewind point (`rewound` says why; it pauses), or the
        # state before an asked step. Its grid goes in with it, as in _swap
        trainer = rewind.restored(self._trainer, state)
        frame = _frame(trainer)
        with self._cv:
            self._trainer = trainer
            self._records.frames.push(frame)
            if rewound is not None:
                self._state, self._message = PAUSED, rewound
            self._version += 1

    def _publish_grid(self) -> None:
        frame = _frame(self._trainer)
        with self._cv:
            self._records.frames.push(frame)
            self._version += 1      # the publish point: about every grid_every_s while training

    def _publish_grid_if_behind(self) -> None:
        # as the run stops: the grid, drawn every grid_every_s while it trained, may show a G some
        # steps behind the counter; drawn again, a stopped run's grid step is its step (and a Step D
        # after a pause leaves the grid as it was, as it leaves G)
        with self._cv:
            behind = self._records.grid_step != self._trainer.step_count
        if behind:
            self._publish_grid()



def _measure(name: str, fn: Callable[[Trainer, torch.Generator], dict], session: TrainingSession) -> None:
    # a probe's run (add_probe): its report, with the step it was made at, into the probe's history
    report = fn(session._trainer, session._probe_rng)
    with session._cv:
        session._records.report(name, session._trainer.step_count, report)
        session._version += 1


def _frame(t: Trainer) -> tuple[int, np.ndarray]:
    # (its step, the fixed-noise grid as an (H, W) uint8 mosaic): one item of the History tab's frames
    return t.step_count, render.grid_array(t.grid(), nrow=8)


def _changes_label(old: LiveSettings, new: LiveSettings, asked: dict[str, Any]) -> str | None:
    # what a change of settings did, as the curves' marker says it ("lr_g 0.0002→0.001"); None: nothing
    changed = [f"{k} {_fmt(getattr(old, k))}→{_fmt(getattr(new, k))}" for k in asked
               if getattr(old, k) != getattr(new, k)]
    if not changed:
        return None
    if (old.optimizer_g, old.optimizer_d) != (new.optimizer_g, new.optimizer_d):
        return msg("{changes} (optimizer switched: its state starts fresh)", changes=", ".join(changed))
    return ", ".join(changed)


def _fmt(v: Any) -> str:
    return f"{v:.2g}" if isinstance(v, float) else str(v)
