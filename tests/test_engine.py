"""Engines (GAN_STUDIO_ENGINES=on): a run's steps in a process of their own, its trainer in the session.

The oracles: a state packed and unpacked is the same trainer, bit for bit, and steps on as the
original would; an engine's steps are the ones the session's thread would have taken; a session on
an engine keeps every step once and in order, obeys its commands between two reports, rewinds a
divergence, and goes on when its engine is killed."""
import dataclasses
import os
import signal
import time

import pytest
import test_session
import torch

from gan_core import checkpoint, engine, trainer, worker
from gan_core.build import trainer as new_trainer
from gan_core.config import LiveSettings, ModelSpec
from gan_core.host import Limits
from gan_core.session import TrainingSession
from gan_core.trainer import Trainer

SPEC = test_session.SPEC   # the seed's model
pytestmark = pytest.mark.skipif(not engine.available(), reason="engines need Linux (a forkserver and memfd)")


def tensors(t: Trainer) -> list[torch.Tensor]:
    return [x.clone() for x in checkpoint.state_tensors(t)]


def same(a: Trainer, b: Trainer) -> bool:
    return all(torch.equal(x, y) for x, y in zip(tensors(a), tensors(b), strict=True)) \
        and a.step_count == b.step_count and torch.equal(a.rng.get_state(), b.rng.get_state())


def build(seed: int = 0, spec: ModelSpec = SPEC, settings: LiveSettings = LiveSettings(batch_size=16)) -> Trainer:
    return new_trainer(dataclasses.replace(spec, seed=seed), settings)[0]


def optimizers_(g: str, d: str) -> LiveSettings:
    return LiveSettings(batch_size=16, optimizer_g=g, optimizer_d=d)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_a_packed_state_unpacked_into_another_trainer_is_the_same_trainer(arch):
    spec = ModelSpec(arch=arch, conditional=False)
    a, b = build(0, spec), build(1, spec)
    for _ in range(3):
        a.step()
    assert not same(a, b)
    flat = torch.empty(checkpoint.state_bytes(a), dtype=torch.uint8)
    checkpoint.unpack(b, flat, checkpoint.pack(a, flat))
    assert same(a, b)
    # and it steps on as the original does: weights, Adam's moments, the RNG's draws
    assert a.step() == b.step() and same(a, b)


@pytest.mark.parametrize("kinds", [("adam", "adam"), ("sgd", "rmsprop"), ("rmsprop", "sgd")])
def test_a_state_before_the_first_step_steps_as_a_fresh_trainer_would(kinds):
    a, fresh, b = (build(seed, settings=optimizers_(*kinds)) for seed in (0, 0, 1))
    flat = torch.empty(checkpoint.state_bytes(a), dtype=torch.uint8)
    checkpoint.unpack(b, flat, checkpoint.pack(a, flat))     # Adam's moments made (zeros, step 0) as Adam makes them
    assert a.step() == b.step() == fresh.step()
    assert same(b, fresh)


def test_a_state_of_another_size_is_refused():
    a, wide = build(0), build(0, ModelSpec(arch="mlp_wide"))
    flat = torch.empty(checkpoint.state_bytes(wide), dtype=torch.uint8)
    with pytest.raises(ValueError, match="bytes for a trainer of"):
        checkpoint.unpack(a, flat, checkpoint.pack(wide, flat))


def test_an_engine_takes_the_steps_the_thread_would_have_taken():
    ours, theirs = build(0), build(0)
    e = engine.Engine(threads=1)
    try:
        e.start(theirs, changed=True, every=5)
        outs = [e.receive()]
        e.go_on()
        outs += e.finish()
    finally:
        e.close()
    rows = [r for out in outs for r in out.rows]
    updates = [u for out in outs for u in out.updates]
    theirs.step_count = engine.adopt(theirs, outs[-1])
    assert outs[-1].final and len(rows) >= 2 and [r["step"] for r in rows] == list(range(1, len(rows) + 1))
    mine_rows, mine_updates = [], []
    for _ in rows:
        m, ratios = trainer.one_step(ours, 5)
        mine_rows.append(m)
        if ratios is not None:
            mine_updates.append({"step": m["step"], **ratios})
    assert rows == mine_rows and updates == mine_updates
    assert same(ours, theirs)


def test_an_engine_whose_run_switched_an_optimizer_steps_on_with_the_new_one():
    # the engine's copy holds Adam's state for D; after a switch to SGD the run's state has another shape
    ours, theirs = build(0), build(0)
    e = engine.Engine(threads=1)
    try:
        e.start(theirs, changed=True, every=5)
        outs = [e.receive(), *e.finish()]
        theirs.step_count = engine.adopt(theirs, outs[-1])
        for _ in range(theirs.step_count):
            ours.step()
        assert ours.step_count > 0 and same(ours, theirs)
        for t in (ours, theirs):
            t.apply(optimizer_d="sgd")
        e.start(theirs, changed=True, every=5)
        outs = [e.receive(), *e.finish()]
    finally:
        e.close()
    rows = [r for out in outs for r in out.rows]
    theirs.step_count = engine.adopt(theirs, outs[-1])
    assert rows and rows == [ours.step() for _ in rows]
    assert isinstance(theirs.opt_d, torch.optim.SGD) and same(ours, theirs)


# -- sessions on engines ------------------------------------------------------------------------------
@pytest.fixture
def engines():
    engine.pool.warm(1)
    end = time.monotonic() + 180
    while engine.pool.idle() == 0 and time.monotonic() < end:
        time.sleep(0.05)
    assert engine.pool.idle() > 0, "no engine started"


def make() -> TrainingSession:
    return test_session.make(limits=Limits(max_running=8, grid_every_s=0.05, rewind_every_s=0.1, engines=True))


def wait_for(cond, timeout=30.0):
    return test_session.wait_for(cond, timeout)


def no_thread_steps(monkeypatch):
    """From now on a step on this process's threads fails the run: what trains is the engine."""
    def refuse(self):
        raise AssertionError("a step ran on the session's thread")
    monkeypatch.setattr(Trainer, "step", refuse)


def test_a_run_on_an_engine_keeps_every_step_once_and_obeys_its_commands(engines, monkeypatch):
    no_thread_steps(monkeypatch)
    s = make()
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 20)
    assert s._lease.pid is not None and s._lease.pid != os.getpid()
    s.apply(lr_d=1e-4)                       # a command: the engine stops, the setting goes with the next start
    at = s.step
    assert wait_for(lambda: s.snapshot().step >= at + 10)
    s.pause()
    snap = s.snapshot()
    assert snap.state == "paused" and s.step == snap.step
    steps = snap.history["step"]
    assert steps == list(range(1, snap.step + 1))          # each step once, in order (history not yet thinned)
    lr_d = dict(zip(steps, snap.history["lr_d"]))
    assert lr_d[at] == LiveSettings().lr_d and lr_d[at + 1] == 1e-4
    monkeypatch.undo()
    assert s.step_once()["step"] == snap.step + 1           # paused, a step is the thread's again
    s.stop()


def test_a_divergence_on_an_engine_rewinds_to_the_last_good_state(engines):
    s = make()
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 30)
    time.sleep(0.3)

    def poison(t):
        with torch.no_grad():
            t.D.head.weight.fill_(float("nan"))
    s.call(poison)                           # into the session's trainer: the engine gets it with the next start
    assert wait_for(lambda: s.snapshot().state == "paused")
    snap = s.snapshot()
    assert "diverged" in snap.message and "Rewound to step" in snap.message
    assert s.call(lambda t: t.weights_finite())
    s.start()
    assert wait_for(lambda: s.snapshot().step > snap.step + 5)
    s.stop()


def test_a_run_goes_on_when_its_engine_is_killed(engines, capfd):
    s = make()
    s.start()
    assert wait_for(lambda: s._lease.pid is not None and s.snapshot().step >= 10)
    os.kill(s._lease.pid, signal.SIGKILL)
    at = s.step
    assert wait_for(lambda: s.snapshot().step >= at + 20)
    assert s.snapshot().state == "running"
    steps = s.snapshot().history["step"]
    assert steps == sorted(set(steps))       # what the lost engine did since its last report is gone, nothing twice
    assert "an engine was lost" in capfd.readouterr().err
    s.stop()


def test_a_fork_of_a_run_on_an_engine_trains_on_its_own(engines):
    s = make()
    s.start()
    assert wait_for(lambda: s.snapshot().step >= 20)
    f = s.fork()
    at = f.snapshot().step
    assert at >= 20 and f.snapshot().history["step"][-1] == at
    assert wait_for(lambda: f.snapshot().step >= at + 10)
    assert f.call(lambda t: t) is not s.call(lambda t: t)
    s.stop()
    f.stop()


def test_a_hook_keeps_to_its_share_of_the_time_and_the_grid_to_its_longest_wait():
    from gan_core.hooks import Hook
    from gan_core.session import GRID_MOST_S

    def slow(_):
        time.sleep(0.1)
    now = time.monotonic()
    probe = Hook(every=0.5, fn=slow, share=0.02)
    probe.run(None, now)
    assert probe.due - now >= 0.1 / 0.02                  # at most 2% of the time: 5 s or more
    grid = Hook(every=0.5, fn=slow, share=0.02, most=GRID_MOST_S)
    now = time.monotonic()
    grid.run(None, now)
    assert grid.due - now == pytest.approx(GRID_MOST_S)  # but the grid never waits longer than this
    quick = Hook(every=0.5, fn=lambda _: None, share=0.02, most=GRID_MOST_S)
    now = time.monotonic()
    quick.run(None, now)
    assert quick.due - now == pytest.approx(0.5)         # a quick one keeps to its clock


def test_an_exiting_process_starts_no_engine_and_keeps_none(monkeypatch, capfd):
    # atexit closes the pool: a lease then starts nothing, an engine that comes up late is closed, and a
    # start that fails because the forkserver went first says nothing (no news at exit)
    closed = []

    class Ready:
        def __init__(self, threads):
            pass

        def close(self):
            closed.append(self)

    class Lost:
        def __init__(self, threads):
            raise engine.EngineLost("the engine's process ended before it was ready")

    pool = engine.Pool()
    pool.close_all()
    assert pool.lease(1) is None and pool._starting == 0          # nothing started
    pool.warm(1)
    assert pool._starting == 0
    monkeypatch.setattr(engine, "Engine", Ready)
    pool._start(1)                                               # one already on its way came up
    assert len(closed) == 1 and pool.idle() == 0
    given = Ready(1)
    given.forget, given.alive, given.flying = (lambda: None), (lambda: True), False
    pool.give_back(given, keep=2)                                # one a session gives back: closed too
    assert closed[-1] is given and pool.idle() == 0
    monkeypatch.setattr(engine, "Engine", Lost)
    pool._start(1)
    assert "no engine process could start" not in capfd.readouterr().err
    open_pool = engine.Pool()                                    # while the process runs, a failure is said
    open_pool._start(1)
    assert "no engine process could start" in capfd.readouterr().err


@pytest.mark.slow
def test_a_command_outwaits_a_hung_engine_and_the_run_pauses(engines, monkeypatch, capfd):
    # the engine is declared hung after REPORT_S: a command waits that, its close and the job's own
    # time (2 + 2 * 0.2 + 0.5 s here). A wait of JOB_S alone would time out
    monkeypatch.setattr(engine, "REPORT_S", 2.0)
    monkeypatch.setattr(engine, "CLOSE_S", 0.2)
    monkeypatch.setattr(worker, "JOB_S", 0.5)
    s = make()
    s.start()
    assert wait_for(lambda: s._lease.flying and s.snapshot().step >= 10)
    os.kill(s._lease.pid, signal.SIGSTOP)            # alive and silent: hung
    s.pause()
    snap = s.snapshot()
    assert snap.state == "paused" and snap.grid_step == snap.step
    assert "an engine was lost" in capfd.readouterr().err
    s.stop()
