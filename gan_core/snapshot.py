"""What a page reads of a run: a Snapshot, made once per published version and shared by every page
that watches the run (TrainingSession.snapshot); the step, the rate, the state and the place in
line are read afresh at each call. `Reading` is how a session answers its readers.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import LiveSettings, ModelSpec
from .history import MetricHistory, RunRecord, Thinned
from .trainer import Trainer

# a run's state (Snapshot.state): before its first step, training, waiting in line for a turn, paused
# (by the visitor, a divergence, or leaving), failed (a crash: a reset starts again), stopped (at exit)
IDLE, RUNNING, WAITING, PAUSED, FAILED, STOPPED = "idle", "running", "waiting", "paused", "failed", "stopped"


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
    queue_eta_s: float | None = None    # about when the turn of a waiting session comes (Scheduler.eta)
    # each probe's history by name (add_probe): its reports with "step", thinned; "updates" as columns
    probes: dict[str, Any] = field(default_factory=dict)
    version: int = 0                    # bumped at each publish: figures of one version are built once
    run_id: str = ""                    # the run's id in the registry (runs.py), for watch links
    viewers: int = 0                    # pages watching this run besides its owner's

    @classmethod
    def of(cls, t: Trainer, records: RunRecord, *, version: int, run_id: str) -> "Snapshot":
        """Copies of a run's histories, its last grid and its trainer's settings (under the run's lock);
        the fields read at each call (state, step, rate, message, queue, viewers) are the caller's to set."""
        last = records.frames.last
        return cls(state="", step=t.step_count, elapsed=0.0, steps_per_s=0.0,
                   history={k: list(v) for k, v in records.history.columns().items()}, markers=list(records.markers),
                   grid=None if last is None else last[1][1], grid_step=0 if last is None else last[1][0],
                   settings=t.settings, spec=t.spec, data_name=t.digits.name, message=None, queue_position=None,
                   probes={k: _view(h) for k, h in records.probes.items()}, version=version, run_id=run_id)

    @property
    def quality(self) -> list[dict]:
        """probe.quality reports with "step", thinned."""
        return self.probes.get("quality", [])

    @property
    def game(self) -> list[dict]:
        """{"step", "real", "fake"}: histograms of D's outputs (probe.game), thinned."""
        return self.probes.get("game", [])

    @property
    def updates(self) -> dict[str, list[float]]:
        """"step" and ||Δw||/||w|| per layer, every update_every_steps steps."""
        return self.probes.get("updates", {})


def _view(h: Thinned | MetricHistory) -> Any:
    # a probe's history as the snapshot holds it: a list of reports, or columns; the newest always in
    return {k: list(v) for k, v in h.columns().items()} if isinstance(h, MetricHistory) else h.view()


class Reading:
    """What a session's readers ask from any thread (TrainingSession is one): its snapshot, state, step
    and frames, read under its lock (`_cv`), never waiting for a step. The worker keeps what they read:
    the trainer, the RunRecord (`_records`), the state and message, and `_version`, bumped at a publish."""

    def snapshot(self) -> Snapshot:
        """A consistent copy of what the worker published. Its histories are copied once per version
        (a publish, about every grid_every_s while training, or a command) and shared by every page that
        asks before the next: a run's viewers do not each copy them, nor does each step. The step
        counter, the rate, the state, the place in line and the viewers are read at each call."""
        with self._cv:
            if self._published is None or self._published.version != self._version:
                self._published = Snapshot.of(self._trainer, self._records, version=self._version,
                                              run_id=self.run_id)
            waiting = self._state == WAITING
            return dataclasses.replace(
                self._published, step=self._trainer.step_count, elapsed=self._records.elapsed,
                steps_per_s=self._records.rate,
                state=self._state, message=self._message, viewers=self._audience.viewers,
                queue_position=self.scheduler.position(self) if waiting else None,
                queue_eta_s=self.scheduler.eta(self) if waiting else None)

    @property
    def state(self) -> str:
        with self._cv:
            return self._state

    @property
    def step(self) -> int:
        with self._cv:
            return self._trainer.step_count

    def wait_for_step(self, past: int, timeout: float) -> bool:
        """Wait, at most `timeout` seconds, until the trainer has stepped past step `past`: True if it has."""
        end = time.monotonic() + timeout
        with self._cv:
            while self._trainer.step_count <= past:
                left = end - time.monotonic()
                if left <= 0 or self._state not in (RUNNING, WAITING):
                    return False
                self._cv.wait(min(left, 0.01))   # the worker does not signal each step: a short poll
            return True

    def frames(self) -> list[tuple[int, np.ndarray]]:
        """The stored fixed-noise grids over time (thinned), oldest first."""
        with self._cv:
            return self._records.frames.view()
