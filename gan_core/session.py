"""A TrainingSession owns one Trainer and one background thread, and publishes snapshots.

Every command (apply settings, step once, reset, sample, export) runs on the worker thread between
two steps, so the trainer is only ever touched by one thread; callers wait for the result. When no
worker is alive the caller runs the command itself under the same lock. The page reads `snapshot()`,
which copies what the worker published under a lock and never waits for a step.

A process-wide Scheduler caps how many sessions train at once; the others wait in a FIFO queue.
Sessions stop when their visitor leaves (after a grace period), after an idle limit, and at exit.
"""
from __future__ import annotations

import atexit
import concurrent.futures
import copy
import ctypes
import csv
import dataclasses
import io
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from . import checkpoint, config, data, probe, render, sampling
from .config import ConfigError, LiveSettings, ModelSpec
from .data import Digits
from .history import MetricHistory, Thinned
from .i18n import msg
from .trainer import DivergenceError, Trainer

IDLE, RUNNING, WAITING, PAUSED, FAILED, STOPPED = "idle", "running", "waiting", "paused", "failed", "stopped"


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass
class Limits:
    """Host-wide defaults, overridable by environment variables (GAN_STUDIO_*)."""
    max_running: int = int(_env_float("GAN_STUDIO_MAX_RUNNING", 2))       # trainers at once
    threads: int = int(_env_float("GAN_STUDIO_THREADS", 0))               # torch threads; 0 = cores / max_running
    slice_s: float = _env_float("GAN_STUDIO_SLICE_S", 30)                 # turn length when others wait
    idle_limit_s: float = _env_float("GAN_STUDIO_IDLE_LIMIT_S", 15 * 60)  # pause without interaction
    leave_grace_s: float = _env_float("GAN_STUDIO_LEAVE_GRACE_S", 30)     # after the visitor's tab closes
    grid_every_s: float = 0.25                                            # fixed-noise grid refresh
    rewind_every_s: float = 5.0                                           # last good state kept for NaN
    game_every_s: float = 1.0                                             # D's output histograms
    quality_every_s: float = 10.0                                         # judge report, at most this often
    update_every_steps: int = 20                                          # weight-update ratios


class Scheduler:
    """At most `max_running` sessions train at once; the rest wait in line, first come, first served.

    When others are waiting, a session that has trained for `slice_s` goes to the back of the line,
    so every visitor makes progress on a crowded server.
    """

    def __init__(self, max_running: int, slice_s: float = 30.0):
        self.max_running, self.slice_s = max(1, max_running), slice_s
        self._lock = threading.Lock()
        self._running: dict[TrainingSession, float] = {}   # session -> when its turn began
        self._queue: deque[TrainingSession] = deque()

    def acquire(self, s: "TrainingSession") -> bool:
        """Called by a session's worker before each step: may it step now?"""
        with self._lock:
            now = time.monotonic()
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
        for head in heads:
            head._wake()
        return False

    def release(self, s: "TrainingSession") -> None:
        with self._lock:
            self._running.pop(s, None)
            if s in self._queue:
                self._queue.remove(s)
            heads = self._heads()
        for head in heads:
            head._wake()

    def _heads(self) -> list["TrainingSession"]:
        # under the lock: those first in line who could start now
        return list(self._queue)[:max(0, self.max_running - len(self._running))]

    def position(self, s: "TrainingSession") -> int | None:
        """1 for the next in line; None when not waiting."""
        with self._lock:
            return self._queue.index(s) + 1 if s in self._queue else None

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)


_limits = Limits()
_scheduler = Scheduler(_limits.max_running, _limits.slice_s)
_sessions: "weakref.WeakSet[TrainingSession]" = weakref.WeakSet()


def configure(**limits: Any) -> None:
    """Change the process-wide limits (e.g. from st.secrets) before sessions start."""
    global _scheduler
    for k, v in limits.items():
        setattr(_limits, k, type(getattr(_limits, k))(v))
    _scheduler = Scheduler(_limits.max_running, _limits.slice_s)
    _set_threads()


def _set_threads() -> None:
    # several trainers share the cores; oversubscribed torch threads are far slower than one each
    n = _limits.threads or max(1, (os.cpu_count() or 1) // _limits.max_running)
    torch.set_num_threads(n)


def limits() -> Limits:
    return _limits


@dataclass(frozen=True)
class Snapshot:
    state: str
    step: int
    elapsed: float                      # seconds spent training
    steps_per_s: float
    history: dict[str, list[float]]     # metric name -> values, thinned; "step" is the x axis
    markers: list[tuple[int, str]]      # (step, what changed)
    grid: np.ndarray | None             # (H, W) uint8 mosaic of the fixed-noise grid
    grid_step: int
    settings: LiveSettings              # as read back from the trainer
    spec: ModelSpec
    data_name: str
    message: str | None                 # why it paused, failed or fell back
    queue_position: int | None
    version: int                        # grows with every publish
    quality: list[dict] = field(default_factory=list)   # probe.quality reports with "step", thinned
    game: list[dict] = field(default_factory=list)      # {"step", "real", "fake"} histograms of D's outputs
    updates: dict[str, list[float]] = field(default_factory=dict)  # "step" and ||Δw||/||w|| per layer


@dataclass
class _Job:
    fn: Callable[[], Any]
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


class TrainingSession:
    def __init__(self, spec: ModelSpec = ModelSpec(), settings: LiveSettings = LiveSettings(), *,
                 scheduler: Scheduler | None = None, limits_: Limits | None = None, history_cap: int = 1000):
        self.limits = limits_ or _limits
        self._scheduler = scheduler
        self._cv = threading.Condition()                # guards the fields below and the job queue
        self._jobs: list[_Job] = []
        self._thread: threading.Thread | None = None
        self._worker_active = False                    # a worker runs commands; else callers do
        self._stop = threading.Event()
        self._state, self._version = IDLE, 0
        self._history = MetricHistory(history_cap)
        self._frames = Thinned(cap=60)                  # (step, grid mosaic) over time, for scrubbing
        self._quality = Thinned(cap=120)                # probe.quality reports over time
        self._game = Thinned(cap=120)                   # D's output histograms over time
        self._updates = MetricHistory(cap=300)          # weight-update ratios every few steps
        self._probe_rng = torch.Generator().manual_seed(spec.seed)  # probes never draw from the trainer's RNG
        self._markers: list[tuple[int, str]] = []
        self._elapsed, self._rate = 0.0, 0.0
        self._last_touch, self._left_at = time.monotonic(), None
        self._trainer, self._message = self._build(spec, settings)
        self._last_good = _clone_state(self._trainer)
        self._publish_grid()
        _ensure_exit_hook()
        _sessions.add(self)

    @property
    def scheduler(self) -> Scheduler:
        return self._scheduler or _scheduler

    # -- commands (any thread) --------------------------------------------------------------------
    def start(self) -> None:
        """Start or resume training."""
        self._touch()
        with self._cv:
            if self._state == FAILED:
                raise RuntimeError(msg("this session failed; reset it first"))
            self._state, self._message = RUNNING, None
            self._version += 1
            self._ensure_thread()
            self._cv.notify_all()

    resume = start

    def pause(self) -> None:
        self._touch()
        with self._cv:
            if self._state in (RUNNING, WAITING):
                self._state = PAUSED
                self._version += 1
            self._cv.notify_all()
        self._call(lambda: None)  # returns once the step in flight, if any, has finished
        self.scheduler.release(self)

    def step_once(self) -> dict[str, float]:
        """One step while paused or idle; returns its metrics."""
        self._touch()
        return self._call(self._train_step)

    def apply(self, **changes: Any) -> LiveSettings:
        """Validate live settings now (ConfigError at once), apply them before the next step."""
        self._touch()
        new = config.replace(self._trainer.settings, **changes)
        return self._call(lambda: self._apply(new))

    def reset(self, spec: ModelSpec | None = None, settings: LiveSettings | None = None, *,
              digits: Digits | None = None) -> None:
        """A new model (spec changes need one), history cleared; training pauses.

        `digits` trains on a data set already in memory (own images from data.load_images); the
        spec's data then only names it. Without it, a spec naming the current data keeps it.
        """
        self._touch()
        spec = spec or self._trainer.spec
        settings = settings or self._trainer.settings
        if digits is None and spec.data == self._trainer.spec.data:
            digits = self._trainer.digits
        if digits is None:
            self._call(lambda: self._swap(*self._build(spec, settings)))
        else:
            self._call(lambda: self._swap(Trainer(spec, settings, digits=digits)))

    def reset_onto(self, digits: Digits, name: str = "own") -> None:
        """A new model, same settings, trained on `digits` (own images); not conditional, as they
        have no labels."""
        spec = dataclasses.replace(self._trainer.spec, data=name, conditional=False)
        self.reset(spec, digits=digits)

    def load_checkpoint(self, blob: bytes) -> None:
        """Continue from a checkpoint file's bytes, validated by checkpoint.read (CheckpointError)."""
        self._touch()
        ckpt = checkpoint.read(blob)
        source = ckpt["spec"]["data"] if ckpt["spec"]["data"] in config.DATA_SOURCES else "bundled"
        digits, notice = data.load(source)
        source = "bundled" if notice else source
        self._call(lambda: self._swap(checkpoint.restore(ckpt, digits, data=source), notice))

    def checkpoint_bytes(self) -> bytes:
        return self._call(lambda: checkpoint.to_bytes(self._trainer))

    def sample_png(self, s: sampling.SamplingSettings, scale: int = 2) -> bytes:
        """A grid of s.n samples from the current G (EMA), drawn as the sampling settings say."""
        def run():
            t = self._trainer
            z = sampling.sample_latent(s.n, t.spec.latent_dim, s)
            return t.generate(z)
        return render.png(self._call(run), scale=scale)

    def sample_digit(self, digit: int, n: int = 16, s: sampling.SamplingSettings | None = None):
        """n images (n, 1, 28, 28) of the requested digit from a conditional G (EMA)."""
        if not self._trainer.spec.conditional:
            raise ConfigError(msg("this model is not conditional: turn on Conditional and Reset"))
        if not 0 <= int(digit) <= 9:
            raise ConfigError(msg("digit must be 0..9, got {digit!r}", digit=digit))
        s = dataclasses.replace(s or sampling.SamplingSettings(), n=n)

        def run():
            t = self._trainer
            return t.generate(sampling.sample_latent(n, t.spec.latent_dim, s), torch.full((n,), int(digit)))
        return self._call(run)

    def sample_digit_png(self, digit: int, n: int = 16, s: sampling.SamplingSettings | None = None,
                         scale: int = 2) -> bytes:
        """The PNG grid of sample_digit()."""
        return render.png(self.sample_digit(digit, n, s), scale=scale)

    def latent_walk_gif(self, mode: str = "direction", seed: int = 0, frames: int = 24,
                        radius: float = 3.0, ms_per_frame: int = 100, n: int = 36) -> bytes:
        """The fixed grid's first n cells animated on the live G (EMA): each z moves along one shared
        random direction and back ("direction"), or out to its own random partner and back along a
        slerp ("interpolation"). A looping GIF."""
        if mode not in ("direction", "interpolation"):
            raise ConfigError(msg("mode must be direction or interpolation, got {mode!r}", mode=mode))

        def run():
            t = self._trainer
            z0 = sampling.fixed_grid(64, t.spec.latent_dim, t.spec.seed)[:n]        # (n, latent_dim)
            y = sampling.grid_labels(64)[:n] if t.spec.conditional else None
            gen = torch.Generator().manual_seed(seed)
            phase = torch.linspace(0, 2 * torch.pi, frames + 1)[:-1]                # one loop
            if mode == "direction":
                d = torch.randn(t.spec.latent_dim, generator=gen)
                d = d / d.norm() * radius                                           # (latent_dim,)
                path = [z0 + torch.sin(p) * d for p in phase]
            else:
                z1 = torch.randn(z0.shape, generator=gen)
                path = [sampling.slerp(z0, z1, float((1 - torch.cos(p)) / 2)) for p in phase]
            return [render.grid_array(t.generate(z, y), nrow=6) for z in path]
        return render.gif(self._call(run), ms_per_frame=ms_per_frame, scale=2)

    def timelapse_gif(self, ms_per_frame: int = 150) -> bytes | None:
        """The stored fixed-noise grids, oldest first, as a looping GIF; None before any frame."""
        frames = [mosaic for _, mosaic in self.frames()]
        return render.gif(frames, ms_per_frame=ms_per_frame) if frames else None

    def measure(self) -> None:
        """Measure D's output histograms and G's quality now (also while paused)."""
        self._touch()
        self._call(lambda: (self._publish_game(), self._publish_quality()))

    def interpolation_png(self, seed_a: int, seed_b: int, t: float, steps: int = 9,
                          method: str = "slerp", scale: int = 2, digit: int = 0) -> tuple[bytes, bytes]:
        """(the strip of `steps` images from seed_a to seed_b, the single image at position t).

        A conditional G draws `digit` all along the path, so only z moves (not the label)."""
        if not 0 <= int(digit) <= 9:
            raise ConfigError(msg("digit must be 0..9, got {digit!r}", digit=digit))

        def run():
            tr = self._trainer
            za = sampling.sample_latent(1, tr.spec.latent_dim, sampling.SamplingSettings(seed=seed_a))[0]
            zb = sampling.sample_latent(1, tr.spec.latent_dim, sampling.SamplingSettings(seed=seed_b))[0]
            path = sampling.interpolation_path(za, zb, steps, method)
            f = sampling.slerp if method == "slerp" else sampling.lerp
            y = torch.full((steps,), int(digit)) if tr.spec.conditional else None
            return tr.generate(path, y), tr.generate(f(za, zb, t).unsqueeze(0), None if y is None else y[:1])
        strip, one = self._call(run)
        return render.png(strip, nrow=steps, scale=scale), render.png(one, scale=scale * 3)

    def metrics_csv(self) -> str:
        with self._cv:
            cols = self._history.columns()
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(cols)
        w.writerows(zip(*cols.values()))
        return buf.getvalue()

    def snapshot(self) -> Snapshot:
        """A consistent copy of what the worker published; never waits for a step."""
        with self._cv:
            t = self._trainer
            step_grid = None if self._frames.last is None else self._frames.last[1]
            return Snapshot(
                state=self._state, step=t.step_count, elapsed=self._elapsed, steps_per_s=self._rate,
                history={k: list(v) for k, v in self._history.columns().items()},
                markers=list(self._markers),
                grid=None if step_grid is None else step_grid[1], grid_step=0 if step_grid is None else step_grid[0],
                settings=t.settings, spec=t.spec, data_name=t.digits.name, message=self._message,
                queue_position=self.scheduler.position(self) if self._state == WAITING else None,
                version=self._version,
                quality=list(self._quality.items), game=list(self._game.items),
                updates={k: list(v) for k, v in self._updates.columns().items()},
            )

    def frames(self) -> list[tuple[int, np.ndarray]]:
        """The stored fixed-noise grids over time (thinned), oldest first."""
        with self._cv:
            items, last = list(self._frames.items), self._frames.last
            if last is not None and (not items or items[-1] is not last[1]):
                items.append(last[1])   # the newest grid, even between strides
            return items

    def release(self) -> None:
        """The visitor's page went away: stop after the grace period unless they come back."""
        with self._cv:
            self._left_at = time.monotonic()
            self._cv.notify_all()

    def returned(self) -> None:
        """The visitor's page is connected again (a reconnect within the grace period)."""
        with self._cv:
            self._left_at = None

    def stop(self, join: bool = True, timeout: float = 10.0) -> None:
        """End the worker thread for good (at exit, or when the visitor is gone)."""
        self._stop.set()
        with self._cv:
            if self._state in (RUNNING, WAITING):
                self._state = STOPPED
            self._cv.notify_all()
        self.scheduler.release(self)
        if join and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- worker -----------------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        # under the lock; a worker that has not retired yet simply carries on
        if self._stop.is_set():
            self._stop = threading.Event()
        if not self._worker_active:
            self._worker_active = True
            self._thread = threading.Thread(target=self._run, name="gan-trainer", daemon=True)
            self._thread.start()

    def _call(self, fn: Callable[[], Any]) -> Any:
        with self._cv:
            if not self._worker_active or self._thread is threading.current_thread():
                return fn()          # no worker: the caller is the only one touching the trainer
            job = _Job(fn)
            self._jobs.append(job)
            self._cv.notify_all()
        return job.future.result(timeout=60)

    def _run(self) -> None:
        last_grid = last_good_at = last_end = last_game = time.monotonic()
        last_quality = last_end      # the first report after some training: at step 0 G draws noise
        quality_cost = 0.0
        probing = True
        try:
            while True:
                with self._cv:
                    if self._stop.is_set() or self._should_end():
                        return self._retire()
                    jobs, self._jobs = self._jobs, []
                    want = self._state in (RUNNING, WAITING)
                for job in jobs:
                    self._run_job(job)
                if jobs:
                    continue
                # ask for a turn outside our lock: the scheduler may wake other sessions
                granted = want and self.scheduler.acquire(self)
                with self._cv:
                    paused_meanwhile = granted and self._state not in (RUNNING, WAITING)
                    if want and not paused_meanwhile:
                        self._mark_turn(granted)
                    if not granted or paused_meanwhile:
                        if not granted and not self._jobs and not self._stop.is_set():
                            self._cv.wait(timeout=0.5)
                        last_end = time.monotonic()
                if paused_meanwhile:
                    self.scheduler.release(self)
                if not granted or paused_meanwhile:
                    continue
                t0 = time.monotonic()
                try:
                    self._train_step()
                except DivergenceError as e:
                    self._rewind(e.args[0] if e.args else str(e))
                    continue
                now = time.monotonic()
                with self._cv:
                    self._elapsed += now - t0
                    dt, last_end = now - last_end, now
                    a = min(1.0, dt)  # smoothed over about a second of steps
                    self._rate = (1 - a) * self._rate + a / max(dt, 1e-9) if self._rate else 1 / max(dt, 1e-9)
                if now - last_grid >= self.limits.grid_every_s:
                    last_grid = now
                    self._publish_grid()
                if probing and now - last_game >= self.limits.game_every_s:
                    last_game = now
                    probing = self._probe(self._publish_game)
                # the judge takes about a second: at most a tenth of the training time goes to it
                if probing and now - last_quality >= max(self.limits.quality_every_s, 10 * quality_cost):
                    probing = self._probe(self._publish_quality)
                    last_quality = time.monotonic()
                    quality_cost = last_quality - now
                if now - last_good_at >= self.limits.rewind_every_s and self._trainer.weights_finite():
                    last_good_at = now
                    self._last_good = _clone_state(self._trainer)
        except Exception as e:  # a crash marks this session failed; other sessions go on
            with self._cv:
                self._state, self._message = FAILED, msg("training failed: {error}", error=f"{type(e).__name__}: {e}")
                self._version += 1
                self._retire()
        finally:
            self.scheduler.release(self)
            _trim_memory()

    def _retire(self) -> None:
        # under the lock: from here on callers run their commands themselves
        self._worker_active = False
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            self._run_job(job)

    def _run_job(self, job: _Job) -> None:
        try:
            job.future.set_result(job.fn())
        except BaseException as e:  # handed to the caller, who raises it
            job.future.set_exception(e)

    def _mark_turn(self, granted: bool) -> None:
        # under the lock: running when granted a turn, else waiting in line
        state = RUNNING if granted else WAITING
        if self._state in (RUNNING, WAITING) and self._state != state:
            self._state = state
            self._version += 1

    def _should_end(self) -> bool:
        # called under the lock
        now = time.monotonic()
        if self._left_at is not None and now - self._left_at > self.limits.leave_grace_s:
            self._stop_for(msg("the page was closed"))
            return True
        if now - self._last_touch > self.limits.idle_limit_s:
            self._stop_for(msg("no interaction for {minutes:.0f} min", minutes=self.limits.idle_limit_s / 60))
            return True
        return False

    def _stop_for(self, reason: str) -> None:
        if self._state in (RUNNING, WAITING):
            self._state, self._message = PAUSED, msg("paused: {reason}", reason=reason)
            self._version += 1
        self._stop.set()

    def _wake(self) -> None:
        with self._cv:
            self._cv.notify_all()

    def _touch(self, visit: bool = True) -> None:
        # a command is the visitor at work. A snapshot proves nothing: a rerun already under way
        # when the tab closed still reads one, and must not cancel the leave
        if visit:
            self._last_touch, self._left_at = time.monotonic(), None

    # -- steps and state (worker thread, or the caller when no worker is alive) -------------------
    def _train_step(self) -> dict[str, float]:
        t = self._trainer
        # every few steps, how far this step moves each layer: weights copied before, compared after
        before = probe.copy_weights(t) if t.step_count % self.limits.update_every_steps == 0 else None
        m = t.step()
        ratios = probe.update_ratios(before, t) if before is not None else None
        with self._cv:
            self._history.append(m)
            if ratios is not None:
                self._updates.append({"step": m["step"], **ratios})
            self._version += 1
        if self._state not in (RUNNING, WAITING):
            self._publish_grid()
        return m

    def _apply(self, new: LiveSettings) -> LiveSettings:
        old = self._trainer.settings
        applied = self._trainer.apply(**dataclasses.asdict(new))
        changed = [f"{k} {_fmt(getattr(old, k))}→{_fmt(v)}" for k, v in dataclasses.asdict(applied).items()
                   if getattr(old, k) != v]
        with self._cv:
            if changed:
                self._markers.append((self._trainer.step_count, ", ".join(changed)))
                self._markers = self._markers[-50:]
            self._version += 1
        return applied

    def _swap(self, trainer: Trainer, notice: str | None = None) -> None:
        with self._cv:
            self._trainer = trainer
            self._history.clear()
            self._frames.clear()
            self._quality.clear()
            self._game.clear()
            self._updates.clear()
            self._markers = []
            self._elapsed, self._rate = 0.0, 0.0
            if self._state in (RUNNING, WAITING, FAILED, STOPPED):
                self._state = PAUSED if self._state != FAILED else IDLE
            self._message = notice
            self._version += 1
        self._last_good = _clone_state(trainer)
        self.scheduler.release(self)
        self._publish_grid()

    def _rewind(self, why: str) -> None:
        good = self._last_good
        trainer = checkpoint.restore(good, self._trainer.digits, data=self._trainer.spec.data,
                                     device=self._trainer.spec.device)
        with self._cv:
            self._trainer = trainer
            self._state = PAUSED
            self._message = msg("Training diverged ({why}). Rewound to step {step}, the last good state. "
                                "Try lower learning rates, fewer D steps, or another loss.", why=why, step=good["step"])
            self._version += 1
        self.scheduler.release(self)
        self._publish_grid()

    def _publish_grid(self) -> None:
        mosaic = render.grid_array(self._trainer.grid(), nrow=8)   # (H, W) uint8
        with self._cv:
            self._frames.push((self._trainer.step_count, mosaic))
            self._version += 1

    def _probe(self, publish: Callable[[], None]) -> bool:
        # a probe that breaks (say, a missing judge file) turns probes off; training goes on
        try:
            publish()
            return True
        except Exception as e:
            with self._cv:
                self._message = msg("live measurements are off: {error}", error=f"{type(e).__name__}: {e}")
                self._version += 1
            return False

    def _publish_game(self) -> None:
        hist = probe.game(self._trainer, self._probe_rng)
        with self._cv:
            self._game.push({"step": self._trainer.step_count, **hist})
            self._version += 1

    def _publish_quality(self) -> None:
        step = self._trainer.step_count
        report = probe.quality(self._trainer, self._probe_rng)
        with self._cv:
            self._quality.push({"step": step, **report})
            self._version += 1

    @staticmethod
    def _build(spec: ModelSpec, settings: LiveSettings) -> tuple[Trainer, str | None]:
        digits, notice = data.load(spec.data)
        if notice:
            spec = dataclasses.replace(spec, data="bundled")
        return Trainer(spec, settings, digits=digits), notice


def _trim_memory() -> None:
    # glibc keeps freed memory in its arenas; hand it back so a server's RSS falls when visitors go
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _clone_state(t: Trainer) -> dict[str, Any]:
    return copy.deepcopy(checkpoint.to_dict(t))


def _fmt(v: Any) -> str:
    return f"{v:.2g}" if isinstance(v, float) else str(v)


# -- process exit -----------------------------------------------------------------------------------
_exit_hook = threading.Lock()
_exit_registered = False


def _ensure_exit_hook() -> None:
    # torch threads still alive at interpreter exit abort the process: stop and join them first
    global _exit_registered
    with _exit_hook:
        if not _exit_registered:
            atexit.register(stop_all)
            _set_threads()
            _exit_registered = True


def stop_all(timeout: float = 10.0) -> None:
    """Stop and join every session's worker (at exit, and in tests)."""
    sessions = list(_sessions)
    for s in sessions:
        s.stop(join=False)
    for s in sessions:
        s.stop(join=True, timeout=timeout)


def live_sessions() -> list[TrainingSession]:
    return [s for s in _sessions if s.alive]
