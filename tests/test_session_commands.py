"""What the commands that stop, step or swap a run leave for a reader: the grid of the G they left,
a divergent step undone, a fresh run's probes, one consistent swap, and a clear refusal when a
command waits too long."""
import threading

import numpy as np
import pytest
import torch

from gan_core import engine, render, rewind, slow_motion, worker
from gan_core.i18n import Message

from gan_core.host import Limits
from gan_core.trainer import DivergenceError, Trainer
from test_session import make, trainer, wait_for


def weights(t):
    return [p.detach().clone() for m in (t.G, t.D, t.G_ema) for p in m.parameters()]


def same(a, b):
    return len(a) == len(b) and all(x.equal(y) for x, y in zip(a, b))


def test_a_pause_publishes_the_grid_of_the_g_it_left_and_step_d_leaves_it():
    # the grid is drawn every grid_every_s while training: a pause draws it again, else it shows
    # a G some steps behind the counter, and the next Step D seems to change G
    s = make(limits=Limits(max_running=8, grid_every_s=60.0))     # no grid drawn while it trains
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 20)
    s.pause()
    snap = s.snapshot()
    assert snap.state == "paused" and snap.grid_step == snap.step
    drawn = s.call(lambda t: render.grid_array(t.grid(), nrow=8))
    assert np.array_equal(snap.grid, drawn)                        # the grid is the G the pause left
    s.step_d()
    after = s.snapshot()
    assert after.step == snap.step + 1 and after.grid_step == after.step
    assert np.array_equal(after.grid, snap.grid)                   # D's update leaves G, and so the grid
    s.step_g()
    later = s.snapshot()
    assert later.step == after.step + 1 and later.grid_step == later.step
    assert not np.array_equal(later.grid, after.grid)              # G's update moves it


def test_a_stop_by_itself_publishes_the_grid_of_the_g_it_left():
    s = make(limits=Limits(max_running=8, grid_every_s=60.0, idle_limit_s=0.3))
    s.start()
    assert wait_for(lambda: s.snapshot().state == "paused")        # the idle limit paused it
    assert wait_for(lambda: not s.alive)
    snap = s.snapshot()
    assert snap.step > 0 and snap.grid_step == snap.step



def poisoned_once(monkeypatch, owner, name):
    """The next owner.<name>(trainer, ...) runs on D's weights made NaN (a fault in that step): it
    diverges, as a step with too high a learning rate would."""
    real = getattr(owner, name)

    def fault(t, *args):
        monkeypatch.setattr(owner, name, real)
        with torch.no_grad():
            t.D.head.weight.fill_(float("nan"))
        return real(t, *args)
    monkeypatch.setattr(owner, name, fault)


@pytest.mark.parametrize("command,owner,name", [("step_once", Trainer, "step"), ("step_d", Trainer, "step_d"),
                                                ("step_g", Trainer, "step_g"),
                                                ("slow_step", slow_motion, "slow_step")])
def test_a_paused_step_that_diverges_is_undone_and_the_run_trains_on(monkeypatch, command, owner, name):
    s = make()
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 20)
    s.pause()
    at, before = s.snapshot().step, s.call(weights)
    poisoned_once(monkeypatch, owner, name)
    with pytest.raises(RuntimeError, match="undone"):
        getattr(s, command)()
    snap = s.snapshot()
    assert snap.step == at and snap.state == "paused" and snap.grid_step == at
    assert s.call(lambda t: t.weights_finite()) and same(s.call(weights), before)
    s.start()                                # trains on, not stuck rewinding to a broken state
    assert wait_for(lambda: s.snapshot().step >= at + 30)
    s.pause()
    assert s.snapshot().state == "paused" and "diverged" not in (s.snapshot().message or "")
    assert s.call(lambda t: t.weights_finite())


def test_a_rewind_point_is_only_ever_a_finite_state():
    t = make().call(trainer)                # a trainer at step 0, read only here
    point = rewind.Rewind()
    with pytest.raises(DivergenceError, match="nan in D"):      # none kept: the run fails
        point.back("nan in D")
    point.keep(t)
    kept = point.point
    with torch.no_grad():
        broken = rewind.restored(t, kept)
        broken.D.head.weight.fill_(float("nan"))
    point.keep(broken)                      # a broken state is not kept: the finite one stays
    assert point.point is kept
    state, said = point.back("nan in D")
    assert state is kept and "Rewound to step 0" in str(said)
    assert point.drop() and point.point is None and not point.drop()


def test_a_reset_gives_a_fresh_run_its_probes_back(monkeypatch):
    from gan_core import probe
    real, calls = probe.game, []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise FileNotFoundError("no judge here")
        return real(*args, **kwargs)
    monkeypatch.setattr(probe, "game", fails_once)
    s = make(limits=Limits(max_running=8, game_every_s=0.05))
    s.start()
    assert wait_for(lambda: "live measurements are off" in (s.snapshot().message or ""))
    s.reset()
    assert s.snapshot().message is None
    s.start()
    assert wait_for(lambda: len(s.snapshot().game) >= 2)       # the probe runs again
    assert len(calls) >= 3


def test_a_reader_never_sees_a_run_half_swapped():
    # the History tab indexes s.frames() and shows snapshot().grid: a reset or a checkpoint loaded
    # swaps the run, and a reader between two of its parts found no frame at all
    s = make()
    for _ in range(3):
        s.step_once()
    blob = s.checkpoint_bytes()
    problems, done = [], threading.Event()

    def reader():
        while not done.is_set():
            snap, frames = s.snapshot(), s.frames()
            if not frames:
                problems.append("no frame")
            if snap.grid is None:
                problems.append("no grid")
            elif snap.grid_step != snap.step:
                problems.append(f"grid of step {snap.grid_step} at step {snap.step}")
            if snap.history and snap.history["step"][-1] != snap.step:    # (a checkpoint brings none)
                problems.append(f"history to step {snap.history['step'][-1]} at step {snap.step}")
    r = threading.Thread(target=reader)
    r.start()
    try:
        for _ in range(15):
            s.reset()
            s.load_checkpoint(blob)
    finally:
        done.set()
        r.join()
    assert not problems, problems[:5]


def test_a_command_that_waits_too_long_is_refused_in_a_clear_sentence(monkeypatch):
    # limits made small (a command waits engine.hang_s() + worker.JOB_S: 0.5 s here, not 64 + 30)
    monkeypatch.setattr(worker, "JOB_S", 0.3)
    monkeypatch.setattr(engine, "REPORT_S", 0.1)
    monkeypatch.setattr(engine, "CLOSE_S", 0.05)
    s = make()
    release, ran = threading.Event(), []
    with pytest.raises(worker.CommandTimeout, match="still under way") as hung:
        s.call(lambda t: release.wait(10))            # a job that hangs
    with pytest.raises(worker.CommandTimeout, match="nothing was done") as behind:
        s.call(lambda t: ran.append(1))               # one behind it: dropped, never run
    for e in (hung.value, behind.value):
        # a refusal the page shows (a RuntimeError with an i18n sentence), not a TimeoutError
        assert isinstance(e, RuntimeError) and not isinstance(e, TimeoutError) and isinstance(e.args[0], Message)
    release.set()
    assert s.call(lambda t: t.step_count) == 0 and ran == []
