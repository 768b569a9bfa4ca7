"""TrainingSession without streamlit: commands between steps, snapshots under concurrent reads,
stopping on leave, idle and exit, and the process-wide cap with its queue."""
import dataclasses
import subprocess
import sys
import threading
import time

import pytest
import torch

from gan_core.config import ConfigError, LiveSettings, ModelSpec
from gan_core.host import Limits
from gan_core.scheduler import Scheduler
from gan_core.session import TrainingSession

SPEC = ModelSpec(arch="mlp", conditional=False)   # the seed's model


def trainer(t):
    """For session.call: the trainer itself, read on the worker."""
    return t


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
    s.pause()                       # a command publishes: the history then holds every step taken
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
        last_step = -1
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
            if snap.step < last_step:
                problems.append("step went back")
            last_step = snap.step
            time.sleep(0.001)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for r in readers:
        r.start()
    for r in readers:
        r.join()
    assert not problems, problems[:3]
    assert s.snapshot().step > 0


@pytest.mark.slow
def test_history_is_bounded_and_thinned():
    s = make(history_cap=50)
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 300, timeout=30)
    s.pause()                       # a command publishes: the history then ends at the last step
    snap = s.snapshot()
    h = snap.history
    assert len(h["step"]) <= 52
    assert h["step"][0] < 0.1 * h["step"][-1] and h["step"][-1] == snap.step >= 300   # spread over the whole run


def test_histories_are_copied_once_a_publish_while_the_step_counter_is_live():
    s = make(limits=Limits(max_running=8, grid_every_s=3600, game_every_s=3600, rewind_every_s=3600,
                           quality_every_s=3600, update_every_steps=10**9))
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 2)
    a = s.snapshot()
    assert wait_for(lambda: s.snapshot().step >= a.step + 5)
    b = s.snapshot()
    assert b.history is a.history and b.version == a.version and b.elapsed > a.elapsed   # no copy per step
    s.pause()
    c = s.snapshot()
    assert c.history is not a.history and c.history["step"][-1] == c.step > b.step


def test_stops_when_the_visitor_leaves():
    s = make(limits=Limits(max_running=8, leave_grace_s=0.3))
    s.start()
    assert wait_for(lambda: s.snapshot().step > 0)
    s.release()
    assert wait_for(lambda: not s.alive, timeout=5)
    snap = s.snapshot()
    assert snap.state == "paused" and "closed" in snap.message


def test_a_returning_visitor_cancels_the_leave():
    s = make(limits=Limits(max_running=8, leave_grace_s=0.5))
    s.start()
    s.release()
    for _ in range(3):           # a rerun already under way when the tab closed still polls...
        s.snapshot()
    s.returned()                 # ...but only a reconnect brings the visitor back
    time.sleep(1.0)
    assert s.alive and s.snapshot().state == "running"


def test_polling_alone_does_not_cancel_the_leave():
    s = make(limits=Limits(max_running=8, leave_grace_s=0.3))
    s.start()
    s.release()
    for _ in range(10):
        s.snapshot()
        time.sleep(0.05)
    assert wait_for(lambda: not s.alive, timeout=5)


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


@pytest.mark.slow
def test_a_waiting_session_sheds_its_rewind_point_and_its_probes_wait_for_training_time():
    # a's first turn is 4 s; b waits for it, longer than b's probe interval (3 s)
    sched = Scheduler(1, slice_s=30, first_slice_s=4.0)
    lim = Limits(max_running=1, grid_every_s=0.05, game_every_s=3.0, rewind_every_s=0.1)
    a, b = make(scheduler=sched, limits=lim), make(scheduler=sched, limits=lim)
    a.start()
    assert wait_for(lambda: a.snapshot().step > 0)
    b.start()
    assert wait_for(lambda: b.snapshot().state == "waiting")
    eta = b.snapshot().queue_eta_s
    assert eta is not None and 0 < eta <= 4.0
    assert wait_for(lambda: b.snapshot().step >= 2, timeout=20)
    # b's probe fell due (by the wall clock) while it waited; counted in training time it has not
    assert b.snapshot().game == []
    assert wait_for(lambda: a.snapshot().state == "waiting")
    # a's turn is over: its rewind point and gradients are gone until its next turn
    assert wait_for(lambda: a.call(lambda t: a._rewind.point is None and all(
        p.grad is None for p in t.D.parameters())), timeout=5)


def test_crash_fails_this_session_only():
    a, b = make(), make()
    a.start(), b.start()
    assert wait_for(lambda: a.snapshot().step > 0 and b.snapshot().step > 0)

    def boom():
        raise RuntimeError("simulated fault")
    a.call(lambda t: setattr(t, "step", boom))
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

    def poison(t):
        with torch.no_grad():
            t.D.head.weight.fill_(float("nan"))
    s.call(poison)
    assert wait_for(lambda: s.snapshot().state == "paused")
    snap = s.snapshot()
    assert "diverged" in snap.message and "Rewound to step" in snap.message
    assert s.call(trainer).weights_finite()
    s.start()                                # and training goes on from there
    assert wait_for(lambda: s.snapshot().step > snap.step + 5)


def test_reset_builds_a_new_model():
    s = make()
    s.step_once()
    old = s.call(trainer)
    s.reset(ModelSpec(arch="mlp_wide", latent_dim=32))
    snap = s.snapshot()
    assert s.call(trainer) is not old and snap.spec.arch == "mlp_wide" and snap.spec.latent_dim == 32
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


def test_a_conditional_interpolation_keeps_its_digit_while_z_moves():
    from gan_core import render, sampling
    s = TrainingSession(ModelSpec(arch="mlp", conditional=True), LiveSettings(batch_size=16),
                        scheduler=Scheduler(8), limits_=Limits(max_running=8))
    s.step_once()
    strip, _ = s.interpolation_png(1, 2, 0.5, digit=3)
    t = s.call(trainer)
    za, zb = (sampling.sample_latent(1, 100, sampling.SamplingSettings(seed=k))[0] for k in (1, 2))
    threes = t.generate(sampling.interpolation_path(za, zb, 9, "slerp"), torch.full((9,), 3))
    assert strip == render.png(threes, nrow=9, scale=2)      # the label 3 in every frame
    assert strip != s.interpolation_png(1, 2, 0.5, digit=4)[0]


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


@pytest.mark.slow
@pytest.mark.untimed
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


# -- insight: probes, conditional digits, latent walk, own data ---------------------------------------
@pytest.mark.slow
def test_the_worker_publishes_probes_between_steps():
    s = make(limits=Limits(max_running=8, grid_every_s=0.05, game_every_s=0.05, update_every_steps=5))
    s.start()
    assert wait_for(lambda: len(s.snapshot().game) >= 3 and s.snapshot().quality, timeout=30)
    s.pause()
    snap = s.snapshot()
    assert all(sum(g["real"]) == sum(g["fake"]) == 256 for g in snap.game)
    q = snap.quality[0]
    assert q["n"] == 256 and len(q["histogram"]) == 10 and q["fid_real_n"] > 0
    assert snap.updates["step"] and all(v > 0 for k, v in snap.updates.items() if k != "step" for v in v)
    s.reset()
    assert s.snapshot().game == [] and s.snapshot().quality == [] and s.snapshot().updates == {}


@pytest.mark.slow
@pytest.mark.untimed
def test_conditional_samples_are_read_as_the_requested_digit():
    from gan_core import judge
    s = TrainingSession(ModelSpec(arch="mlp", conditional=True), LiveSettings(), scheduler=Scheduler(8),
                        limits_=Limits(max_running=8))
    # measured (seed 0, 1 thread, the default loss and lrs): the judge agrees with 58.5% of the requested
    # digits after 1,000 steps and 90.5% after 1,500 (chance: 10%). 1,000 steps take about 10-20 s here.
    for _ in range(1000):
        s.step_once()
    hits = 0
    for digit in range(10):
        images = s.sample_digit(digit, 20)
        hits += int((judge.predict(images).argmax(dim=1) == digit).sum())
    assert hits / 200 >= 0.5, f"judge agreed on {hits} of 200"
    png = s.sample_digit_png(3, 16)
    assert png[:4] == b"\x89PNG" and png != s.sample_digit_png(7, 16)


def test_sample_digit_refuses_an_unconditional_model():
    with pytest.raises(ConfigError, match="not conditional"):
        make().sample_digit(3)


def test_latent_walk_and_timelapse_are_looping_gifs():
    import io

    from PIL import Image
    s = make()
    for _ in range(3):
        s.step_once()
    for mode in ("direction", "interpolation"):
        with Image.open(io.BytesIO(s.latent_walk_gif(mode, frames=12))) as im:
            assert im.format == "GIF" and im.n_frames == 12
    with Image.open(io.BytesIO(s.timelapse_gif())) as im:
        assert im.n_frames == len(s.frames()) == 4


def test_reset_onto_own_images_trains_on_them():
    from gan_core.data import Digits
    own = Digits(torch.zeros(100, 28, 28, dtype=torch.uint8), torch.full((100,), -1), "own test (100 images)")
    s = make()
    s.step_once()
    s.reset_onto(own)
    snap = s.snapshot()
    assert snap.step == 0 and snap.spec.data == "own" and snap.data_name == "own test (100 images)"
    assert s.call(trainer).digits is own
    s.step_once()
    s.reset(snap.spec)                      # a plain Reset keeps the uploaded data
    assert s.call(trainer).digits is own
    with pytest.raises(ConfigError, match="labelled"):
        s.reset(dataclasses.replace(snap.spec, conditional=True))


# -- the worker: one path for every command, hooks ------------------------------------------------------
def test_a_command_after_the_worker_ended_is_served_by_a_new_one():
    s = make()
    s.start()
    assert wait_for(lambda: s.snapshot().step > 0)
    s.stop()
    assert not s.alive and s.snapshot().state == "stopped"
    step = s.snapshot().step
    assert s.step_once()["step"] == step + 1      # served on a worker started for it...
    assert wait_for(lambda: not s.alive)          # ...which ends again, the session being stopped
    s.start()                                     # Start lifts the stop
    assert wait_for(lambda: s.snapshot().step > step + 5) and s.alive


def test_a_broken_probe_turns_probes_off_and_training_goes_on(monkeypatch):
    from gan_core import probe

    def broken(*args, **kwargs):
        raise FileNotFoundError("no judge here")
    monkeypatch.setattr(probe, "game", broken)
    s = make(limits=Limits(max_running=8, game_every_s=0.05))
    s.start()
    assert wait_for(lambda: "live measurements are off: FileNotFoundError" in (s.snapshot().message or ""))
    at = s.snapshot().step
    assert wait_for(lambda: s.snapshot().step > at + 5)
    assert s.snapshot().state == "running" and s.snapshot().game == []



def test_a_registered_probe_has_its_own_bounded_history_which_a_fork_copies_and_a_reset_clears():
    s = make()
    s.add_probe("g_norm", lambda t, rng: {"norm": sum(float(p.detach().norm()) for p in t.G.parameters())},
                every=0.05, cap=8)
    for _ in range(3):
        s.step_once()
    s.measure("g_norm")                            # now, while paused: one report at step 3
    [r] = s.snapshot().probes["g_norm"]
    norm = sum(float(p.detach().norm()) for p in s.call(trainer).G.parameters())
    assert r == {"step": 3, "norm": pytest.approx(norm)}
    for _ in range(100):
        s.measure("g_norm")
    assert 4 <= len(s.snapshot().probes["g_norm"]) <= 9                  # thinned: its cap, and the newest
    s.start()                                                            # and it runs while training
    at = len(s.snapshot().probes["g_norm"]) and s.snapshot().probes["g_norm"][-1]["step"]
    assert wait_for(lambda: s.snapshot().probes["g_norm"][-1]["step"] > at + 3)
    s.pause()
    f = s.fork()
    assert f.snapshot().probes["g_norm"] == s.snapshot().probes["g_norm"]
    f.step_once()
    f.measure("g_norm")                                                  # the fork measures with it too
    assert f.snapshot().probes["g_norm"][-1]["step"] == s.snapshot().step + 1
    s.reset()
    assert s.snapshot().probes["g_norm"] == [] and f.snapshot().probes["g_norm"]
    s.measure()                                                          # all probes: this one with them
    assert [r["step"] for r in s.snapshot().probes["g_norm"]] == [0] and len(s.snapshot().game) == 1

# -- watching a run and forking it ---------------------------------------------------------------------
def test_runs_are_found_by_an_unguessable_id_and_drop_out_when_nobody_holds_them():
    import gc

    from gan_core import runs
    a, b = make(), make()
    assert a.run_id != b.run_id and len(a.run_id) == runs.ID_LEN and set(a.run_id) <= runs.ID_CHARS
    assert runs.find(a.run_id) is a and runs.find(b.run_id) is b and runs.find("x" * runs.ID_LEN) is None
    gone = b.run_id
    del b
    gc.collect()
    assert runs.find(gone) is None                   # an ended run's link expires with it


def test_the_audience_rule_without_a_clock():
    from gan_core.runs import Audience
    a = Audience()
    assert not a.abandoned(100.0, grace=30)          # the owner is there
    v1, v2 = a.join(), a.join()
    a.owner_left(0.0)
    assert a.viewers == 2 and not a.abandoned(1000.0, grace=30)   # watched: never abandoned
    a.leave(v1, 10.0)
    a.leave(v1, 500.0)                               # a second leave of one page counts nothing
    assert a.viewers == 1 and not a.abandoned(1000.0, grace=30)
    a.leave(v2, 900.0)                               # the last viewer went at 900: grace runs from then
    assert not a.abandoned(929.0, grace=30) and a.abandoned(931.0, grace=30)
    a.owner_back()
    assert not a.abandoned(5000.0, grace=30)


def test_viewers_are_counted_once_each_in_the_snapshot():
    s = make()
    v1, v2 = s.watch(), s.watch()
    assert s.snapshot().viewers == 2
    s.unwatch(v1)
    s.unwatch(v1)
    assert s.snapshot().viewers == 1
    s.unwatch(v2)
    assert s.snapshot().viewers == 0


def test_a_watched_run_trains_on_after_its_owner_left_and_stops_when_the_last_viewer_goes():
    s = make(limits=Limits(max_running=8, leave_grace_s=0.2))
    viewer = s.watch()
    s.start()
    s.release()                                      # the owner's tab closed
    at = s.snapshot().step
    assert wait_for(lambda: s.snapshot().step > at + 50)    # well past the grace: still training
    assert s.alive and s.snapshot().state == "running"
    s.unwatch(viewer)
    assert wait_for(lambda: not s.alive, timeout=5)
    assert s.snapshot().state == "paused" and "closed" in s.snapshot().message
    # `alive` turns False just before the thread returns, and nothing is left to join: let it finish
    assert wait_for(lambda: not [t for t in threading.enumerate() if t.name == "gan-trainer"])


def test_the_snapshot_version_moves_when_the_worker_publishes_and_only_then():
    s = make()
    v0 = s.snapshot().version
    assert s.snapshot().version == v0                # reading publishes nothing
    s.step_once()
    v1 = s.snapshot().version
    assert v1 > v0
    s.apply(lr_g=1e-3)
    assert s.snapshot().version > v1                 # a command changes what the page shows


def test_pages_asking_between_two_steps_share_one_copy_of_the_histories():
    s = make()
    s.step_once()
    a, b = s.snapshot(), s.snapshot()
    assert b.history is a.history and b.game is a.game and b.updates is a.updates   # one copy for both
    s.step_once()
    c = s.snapshot()
    assert c.history is not a.history and c.step == a.step + 1
    assert c.history["step"] == [1, 2] and a.history["step"] == [1]                  # the old copy unchanged
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 20)
    d = s.snapshot()
    assert d.history["step"][-1] <= d.step      # as of the last publish: never ahead of the counter
    s.pause()
    e = s.snapshot()
    # once the run pauses (a command publishes), nothing is left out but the step in flight, if any
    assert e.step - 1 <= e.history["step"][-1] <= e.step


def test_a_page_asking_twice_for_a_fork_gets_the_one_it_has():
    import gc
    s = make()
    s.step_once()
    page, other = object(), object()
    got = []
    askers = [threading.Thread(target=lambda: got.append(s.fork(key=page))) for _ in range(2)]
    for a in askers:
        a.start()
    for a in askers:
        a.join()
    assert got[0] is got[1]                                 # two calls at once: one fork
    assert s.fork(key=page) is got[0]                       # and again later
    assert s.fork(key=other) is not got[0] and s.fork() is not got[0]
    first_id = got[0].run_id
    got.clear()
    gc.collect()                                            # the page let its fork go: a new one
    assert s.fork(key=page).run_id != first_id


def test_a_fork_starts_from_the_run_as_it_is_and_then_trains_on_its_own():
    s = make()
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 30)
    s.apply(lr_d=1e-3)
    f = s.fork()
    first = f.snapshot()
    assert f is not s and f.run_id != s.run_id
    g_run, g_fork = s.call(trainer).G, f.call(trainer).G
    assert g_fork is not g_run
    source = s.snapshot()
    # the fork's history is the run's up to the fork, step for step
    n = len(first.history["step"])
    assert first.history["step"] == source.history["step"][:n] and first.history["step"][-1] == first.step
    assert first.settings == source.settings and first.settings.lr_d == 1e-3
    assert first.markers == source.markers[:len(first.markers)] and first.markers
    assert wait_for(lambda: f.snapshot().step >= first.step + 20)     # it trains, as the run did
    s.pause()
    frozen = s.snapshot().step
    assert wait_for(lambda: f.snapshot().step >= first.step + 40)
    assert s.snapshot().step == frozen               # its own trainer: pausing the run leaves it going
    f.apply(lr_g=5e-4)
    assert s.snapshot().settings.lr_g != 5e-4        # and steering it leaves the run alone


def test_a_fork_of_a_paused_run_has_its_weights_exactly():
    s = make()
    for _ in range(5):
        s.step_once()
    f = s.fork()
    assert f.snapshot().state == "paused" and f.snapshot().step == 5
    a, b = s.call(trainer), f.call(trainer)
    for pa, pb in zip([*a.G.parameters(), *a.D.parameters()], [*b.G.parameters(), *b.D.parameters()]):
        assert torch.equal(pa, pb)
    assert s.step_once()["loss_d"] == f.step_once()["loss_d"]   # same state, same RNG: the same next step


def test_a_fork_waits_for_a_trainer_like_any_run():
    sched = Scheduler(1)
    s = make(scheduler=sched)
    s.start()
    assert wait_for(lambda: s.snapshot().step > 0)
    f = s.fork()
    assert wait_for(lambda: f.snapshot().state == "waiting" and f.snapshot().queue_position == 1)


def test_a_lesson_has_the_judge_read_g_closely_until_the_next_reset(monkeypatch):
    from gan_core import probe
    monkeypatch.setattr(probe, "quality", lambda t, rng: {"diversity": 1.0})   # the cadence, not the judge
    s = make()                                          # the server's cadence: a reading every 10 s
    s.reset(judge_every_s=0.2)
    s.start()
    assert wait_for(lambda: len(s.snapshot().quality) >= 3, timeout=10)
    s.reset()                                           # a plain reset: back to the server's cadence
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 30)
    time.sleep(1.5)
    assert s.snapshot().quality == []
    s.stop()
