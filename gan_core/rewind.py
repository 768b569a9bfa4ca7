"""Going back when a run diverges: its rewind point, and the undoing of a step the visitor asked for.

While a run trains, a copy of its trainer's state is kept about every rewind_every_s (a hook), and
as each turn begins. It is held only during a turn (the session sheds it as the turn ends), so a
paused or waiting visitor holds their models once. When the steps diverge the run goes back to it
and pauses, saying why; with none kept this turn it fails, and a reset starts again. A step asked
for while paused (Step once, Step D, Step G, slow motion) keeps its own copy: one that diverges is
undone, and says so.
"""
from __future__ import annotations

from typing import Any, Callable

from . import checkpoint
from .i18n import msg
from .trainer import DivergenceError, Trainer


class Rewind:
    """A run's rewind point: None, or the state of a finite trainer (checkpoint.copy_of)."""

    def __init__(self) -> None:
        self.point: dict[str, Any] | None = None

    def keep(self, t: Trainer) -> None:
        """t's state as the point, if t is finite: rewinding to a broken state would diverge again."""
        if t.weights_finite():
            self.point = checkpoint.copy_of(t)

    def drop(self) -> bool:
        """No point held (a turn ends, a new run); True if one was."""
        held, self.point = self.point is not None, None
        return held

    def back(self, why: str) -> tuple[dict[str, Any], str]:
        """The run diverged (`why`): the point to go back to, and what the run then says. A
        DivergenceError when no point was kept this turn: the run fails."""
        if self.point is None:
            raise DivergenceError(why)
        return self.point, msg("Training diverged ({why}). Rewound to step {step}, the last good state. "
                               "Try lower learning rates, fewer D steps, or another loss.",
                               why=why, step=self.point["step"])


def undone(t: Trainer, step: Callable[[], dict[str, float]],
           restore: Callable[[dict[str, Any]], None]) -> dict[str, float]:
    """step()'s metrics, a step the visitor asked for on t. One that diverges is undone (t's state
    before it goes back in through `restore`), so the run stays as it was, finite, and a Start trains
    on from there; the DivergenceError says so."""
    before = checkpoint.copy_of(t)
    try:
        return step()
    except DivergenceError as e:
        restore(before)
        raise DivergenceError(msg("This step diverged ({why}) and was undone: the run is still at step "
                                  "{step}. Try lower learning rates, fewer D steps, or another loss.",
                                  why=e, step=before["step"])) from None


def restored(t: Trainer, state: dict[str, Any]) -> Trainer:
    """A trainer from a state kept of t (a rewind point, or t before a step), on t's data and device."""
    return checkpoint.restore(state, t.digits, data=t.spec.data, device=t.spec.device)
