"""What a page reads of a run: a Snapshot, made once per published version and shared by every page
that watches the run (TrainingSession.snapshot); the step, the rate, the state and the place in
line are read afresh at each call.
"""
from __future__ import annotations

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
