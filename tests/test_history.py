"""Histories stay within their memory bound however long training runs, spread over the whole run."""
import numpy as np

from gan_core.config import LiveSettings, ModelSpec
from gan_core.history import MetricHistory, RunRecord, Thinned
from gan_core.host import Limits
from gan_core.scheduler import Scheduler
from gan_core.session import TrainingSession


def test_thinned_keeps_at_most_cap_items_evenly_spread():
    t = Thinned(cap=60)
    for i in range(10_000):
        t.push(("frame", i))
    assert len(t) <= 60 and len(t.items) == len(t.steps)
    kept = [i for _, i in t.items]
    gaps = set(np.diff(kept))
    assert len(gaps) == 1 and kept[0] == 0 and kept[-1] > 9_000   # one stride, start to end
    assert t.last == (9_999, ("frame", 9_999))


def test_push_thins_items_that_arrive_at_irregular_steps():
    # grids come every ~0.25 s at whatever step: keyed by step, most would be refused
    t = Thinned(cap=60)
    for k, step in enumerate(range(0, 70_000, 7)):
        t.push((step, k))
    assert 30 <= len(t) <= 60


def test_metric_history_is_bounded():
    h = MetricHistory(cap=100)
    for s in range(5_000):
        h.append({"step": s, "loss_d": 1.0})
    cols = h.columns()
    assert len(cols["step"]) <= 101 and cols["step"][-1] == 4_999


def test_a_run_record_clears_for_a_new_run_and_copies_independently_for_a_fork():
    r = RunRecord(cap=100)
    r.add_probe("game", cap=10)
    r.add([{"step": 1, "loss_d": 0.5}, {"step": 2, "loss_d": 0.4}], [{"step": 2, "d.0": 0.01}], seconds=0.5, dt=0.5)
    r.report("game", 2, {"real": [1.0]})
    r.mark(2, "lr_g 0.0002→0.001")
    assert r.elapsed == 0.5 and r.rate == 4.0       # 2 steps in 0.5 s, the first reading taken as it is
    fork = r.copy()
    r.add([{"step": 3, "loss_d": 0.3}], [{"step": 3, "d.0": 0.02}])      # asked while paused: no clock
    assert r.elapsed == 0.5 and r.history.columns()["step"] == [1, 2, 3]
    r.clear((0, "grid"))
    assert r.history.columns() == {} and r.probes["updates"].columns() == {} and len(r.probes["game"]) == 0
    assert r.frames.view() == [(0, "grid")] and r.markers == [] and (r.elapsed, r.rate) == (0.0, 0.0)
    # the fork's copy kept the run as it was, and its rate is its own (it has not stepped)
    assert fork.history.columns() == {"step": [1, 2], "loss_d": [0.5, 0.4]}
    assert fork.probes["updates"].columns() == {"step": [2], "d.0": [0.01]}
    assert fork.probes["game"].view() == [{"step": 2, "real": [1.0]}] and fork.markers == [(2, "lr_g 0.0002→0.001")]
    assert (fork.elapsed, fork.rate) == (0.5, 0.0)


def test_session_frames_and_probes_stay_within_their_bounds():
    s = TrainingSession(ModelSpec(arch="mlp"), LiveSettings(batch_size=16), scheduler=Scheduler(8),
                        limits_=Limits(max_running=8, update_every_steps=1))
    for _ in range(250):
        s.step_once()                              # while paused, each step publishes a grid
    for _ in range(300):
        s.measure("game")
    frames = s.frames()
    snap = s.snapshot()
    assert len(frames) <= 61 and frames[-1][0] == 250 and frames[0][0] == 0
    one = frames[0][1].nbytes
    assert sum(f.nbytes for _, f in frames) <= 61 * one          # about 3.5 MB at most
    assert len(snap.game) <= 121 and snap.game[-1]["step"] == 250          # its cap, and the newest
    for _ in range(2):
        s.step_once()
        s.measure("game")
    assert s.snapshot().game[-1]["step"] == 252    # the newest report, even between strides
    assert len(snap.updates["step"]) <= 301 and snap.updates["step"][-1] == 250
