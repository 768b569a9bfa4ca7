"""What the commands that stop, step or swap a run leave for a reader: the grid of the G they left,
a divergent step undone, a fresh run's probes, one consistent swap, and a clear refusal when a
command waits too long."""
import numpy as np

from gan_core import render

from gan_core.session import Limits
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
