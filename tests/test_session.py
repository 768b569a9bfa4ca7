"""TrainingSession without streamlit: commands between steps, snapshots under concurrent reads,
stopping on leave, idle and exit, and the process-wide cap with its queue."""
import subprocess
import sys
import threading
import time

import pytest
import torch

from gan_core import session
from gan_core.config import ConfigError, LiveSettings, ModelSpec
from gan_core.session import Limits, Scheduler, TrainingSession

SPEC = ModelSpec(arch="mlp")


def make(**kw):
    limits = kw.pop("limits", Limits(max_running=8, grid_every_s=0.05, rewind_every_s=0.1))
    return TrainingSession(SPEC, LiveSettings(batch_size=16), scheduler=kw.pop("scheduler", Scheduler(8)),
                           limits_=limits, **kw)


def wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_start_advances_and_pause_freezes():
    s = make()
    assert s.snapshot().state == "idle" and s.snapshot().step == 0
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 20)
    s.pause()
    frozen = s.snapshot().step
    time.sleep(0.3)
    assert s.snapshot().step == frozen and s.snapshot().state == "paused"
    assert s.step_once()["step"] == frozen + 1


def test_settings_apply_between_steps_and_are_read_back():
    s = make()
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 5)
    s.apply(lr_g=1e-3)
    assert s.snapshot().settings.lr_g == 1e-3
    at = s.snapshot().step
    assert wait_for(lambda: s.snapshot().step >= at + 3)
    h = s.snapshot().history
    later = [lr for step, lr in zip(h["step"], h["lr_g"]) if step > at]
    assert later and all(lr == 1e-3 for lr in later)
    assert any("lr_g" in label for _, label in s.snapshot().markers)


def test_bad_setting_is_refused_and_nothing_changes():
    s = make()
    with pytest.raises(ConfigError, match="lr_d must be between"):
        s.apply(lr_d=3.0)
    with pytest.raises(ConfigError, match="unknown setting"):
        s.apply(learning_rate=0.1)
    assert s.snapshot().settings == LiveSettings(batch_size=16)


def test_snapshots_are_consistent_under_concurrent_reads():
    s = make()
    s.start()
    problems = []

    def reader():
        last_version = -1
        for _ in range(200):
            snap = s.snapshot()
            lengths = {len(v) for v in snap.history.values()}
            steps = snap.history.get("step", [])
            if len(lengths) > 1:
                problems.append(f"ragged history {lengths}")
            if any(b <= a for a, b in zip(steps, steps[1:])):
                problems.append("steps not increasing")
            if steps and steps[-1] > snap.step:
                problems.append("history ahead of step")
            if snap.version < last_version:
                problems.append("version went back")
            last_version = snap.version
            time.sleep(0.001)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for r in readers:
        r.start()
    for r in readers:
        r.join()
    assert not problems, problems[:3]
    assert s.snapshot().step > 0


def test_history_is_bounded_and_thinned():
    s = make(history_cap=50)
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 300, timeout=30)
    h = s.snapshot().history
    assert len(h["step"]) <= 52
    assert h["step"][0] < 0.1 * h["step"][-1] and h["step"][-1] >= 300   # spread over the whole run


def test_stops_when_the_visitor_leaves():
    s = make(limits=Limits(max_running=8, leave_grace_s=0.3))
    s.start()
    assert wait_for(lambda: s.snapshot().step > 0)
    s.release()
    assert wait_for(lambda: not s.alive, timeout=5)
    snap = s._trainer, s._state, s._message
    assert snap[1] == "paused" and "closed" in snap[2]


def test_a_returning_visitor_cancels_the_leave():
    s = make(limits=Limits(max_running=8, leave_grace_s=0.5))
    s.start()
    s.release()
    for _ in range(10):          # the page keeps polling: they came back
        s.snapshot()
        time.sleep(0.1)
    assert s.alive and s.snapshot().state == "running"


def test_stops_after_the_idle_limit():
    s = make(limits=Limits(max_running=8, idle_limit_s=0.4))
    s.start()
    assert wait_for(lambda: not s.alive, timeout=5)
    assert "no interaction" in s.snapshot().message


def test_cap_queues_visitors_in_order():
    sched = Scheduler(1)
    a, b, c = make(scheduler=sched), make(scheduler=sched), make(scheduler=sched)
    a.start()
    assert wait_for(lambda: a.snapshot().step > 0)
    b.start()
    c.start()
    assert wait_for(lambda: b.snapshot().state == "waiting" and c.snapshot().state == "waiting")
    assert (b.snapshot().queue_position, c.snapshot().queue_position) == (1, 2)
    frozen = b.snapshot().step
    time.sleep(0.2)
    assert b.snapshot().step == frozen == 0
    a.pause()                                   # a frees its trainer: b is next, c moves up
    assert wait_for(lambda: b.snapshot().state == "running" and b.snapshot().step > 0)
    assert c.snapshot().queue_position == 1 and sched.running == 1


def test_crash_fails_this_session_only():
    a, b = make(), make()
    a.start(), b.start()
    assert wait_for(lambda: a.snapshot().step > 0 and b.snapshot().step > 0)

    def boom():
        raise RuntimeError("simulated fault")
    a._trainer.step = boom
    assert wait_for(lambda: a.snapshot().state == "failed")
    assert "simulated fault" in a.snapshot().message
    assert wait_for(lambda: not a.alive)
    before = b.snapshot().step
    assert wait_for(lambda: b.snapshot().step > before + 5)
    with pytest.raises(RuntimeError, match="reset"):
        a.start()
    a.reset()
    assert a.snapshot().state == "idle"
    a.start()
    assert wait_for(lambda: a.snapshot().step > 0)


def test_divergence_rewinds_to_the_last_good_state_and_pauses():
    s = make()
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 30)
    time.sleep(0.2)                          # a good state has been kept

    def poison():
        with torch.no_grad():
            s._trainer.D.head.weight.fill_(float("nan"))
    s._call(poison)
    assert wait_for(lambda: s.snapshot().state == "paused")
    snap = s.snapshot()
    assert "diverged" in snap.message and "Rewound to step" in snap.message
    assert s._trainer.weights_finite()
    s.start()                                # and training goes on from there
    assert wait_for(lambda: s.snapshot().step > snap.step + 5)


def test_reset_builds_a_new_model():
    s = make()
    s.step_once()
    old = s._trainer
    s.reset(ModelSpec(arch="mlp_wide", latent_dim=32))
    snap = s.snapshot()
    assert s._trainer is not old and snap.spec.arch == "mlp_wide" and snap.spec.latent_dim == 32
    assert snap.step == 0 and snap.history == {}


def test_checkpoint_import_continues_the_run():
    s = make()
    for _ in range(3):
        s.step_once()
    blob = s.checkpoint_bytes()
    other = make()
    other.load_checkpoint(blob)
    assert other.snapshot().step == 3
    assert other.step_once()["step"] == 4


def test_sampling_and_interpolation_draw_from_the_current_g():
    from gan_core.sampling import SamplingSettings
    s = make()
    a = s.sample_png(SamplingSettings(temperature=1.0))
    b = s.sample_png(SamplingSettings(temperature=0.2))
    assert a != b and a[:4] == b"\x89PNG"
    strip, one = s.interpolation_png(1, 2, 0.5)
    assert strip[:4] == one[:4] == b"\x89PNG"


EXIT_SCRIPT = """
import time
from gan_core.config import ModelSpec
from gan_core.session import TrainingSession
s = TrainingSession(ModelSpec(arch="mlp"))
s.start()
time.sleep(1.0)
assert s.alive
print("leaving with a live worker")
"""


def test_interpreter_exit_stops_and_joins_workers():
    r = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "terminate called" not in r.stderr


def test_turns_rotate_so_every_waiting_visitor_progresses():
    sched = Scheduler(1, slice_s=0.3)
    sessions = [make(scheduler=sched) for _ in range(3)]
    for s in sessions:
        s.start()
    assert wait_for(lambda: all(s.snapshot().step > 5 for s in sessions), timeout=15)
    assert sched.running == 1
