"""Engines: trainer processes, so that a run's steps never wait for the page server's GIL.

A run's trainer lives in its session, and everything but the steps runs there as before: commands,
hooks, drawings, checkpoints. While the run holds a turn, an engine trains a copy of it: `start()`
sends the trainer's state when the session's copy changed (with the live settings), and the engine
steps on and reports about every BURST_S: the steps' metrics, and the state they reached, written
into shared memory, which the session copies into its own trainer (`adopt`). The session
acknowledges a report (`go_on()`) before it takes the report in and draws the grid, so the engine
never waits for it; a command stops the engine first (`finish()`: a hold, and its final report).
A session holds its engine through a Lease (lease.py), which takes the reports in.

Why: in one process every page a server renders holds the GIL between the trainer's torch ops.
benchmarks/gil.py: a trainer beside a busy thread of its own process keeps 0.71-0.76 of its speed,
beside a busy process 0.95-1.00; 30 pages watching a run left it 0.19-0.34 of its speed
(benchmarks/viewers.py). The price is memory: a forkserver that has imported torch and the studio
once, and an engine for each trainer at once (docs/performance.md, "Engines"). So engines are a
host's choice (host.Limits.engines, GAN_STUDIO_ENGINES=on); off, the default, keeps every
trainer a thread of the server.

Engines start from a forkserver, never by fork() of the server: a fork of a process whose OpenMP
pool has run hangs in the child's first parallel op. An engine idle for IDLE_S ends. Both ends of
the pipe are this module: what goes through it is made here, in this process tree, and nowhere else.
"""
from __future__ import annotations

import atexit
import dataclasses
import gc
import mmap
import multiprocessing
import os
import pickle
import sys
import threading
import time
import weakref
from multiprocessing import reduction
from multiprocessing.connection import Connection
from typing import Any

import torch

from . import checkpoint
from .config import LiveSettings, ModelSpec
from .data import Digits
from .trainer import DivergenceError, Trainer, one_step

BURST_S = 0.25   # an engine reports about this often (once its last report was taken)
IDLE_S = 60.0    # an engine nobody has used for this long ends (its memory goes back)
START_S = 120.0  # an engine not ready in this long (the forkserver importing torch, warming up) is given up
RETRY_S = 60.0   # after an engine failed to start, the next try waits this long (runs train on threads)
REPORT_S = 60.0  # an engine that has not reported in this long is taken for hung: killed, and the run goes on
CLOSE_S = 2.0    # an engine asked to end has this long to, and as long again once killed


def hang_s() -> float:
    """The longest a session waits on a hung engine: the report that never comes, then its close.
    A command waits longer than this for its result (session.TrainingSession._wait_s)."""
    return REPORT_S + 2 * CLOSE_S


def available() -> bool:
    """Whether engines can run here: Linux (a forkserver, and memfd for the shared state)."""
    return hasattr(os, "memfd_create") and "forkserver" in multiprocessing.get_all_start_methods()


class _Slots:
    """Where a state's bytes cross: shared memory, not the pipe (15 MB took 40 ms there). Slot 0
    carries the session's state to the engine, slots 1 and 2 the engine's back, in turn: the engine
    writes the next report's slot while the session may still read the last one's."""

    def __init__(self, fd: int, size: int):
        self.size = size
        self._map = mmap.mmap(fd, 3 * size)
        os.close(fd)
        self._all = torch.frombuffer(self._map, dtype=torch.uint8)
        self._last = 2

    @staticmethod
    def create(size: int) -> tuple[int, "_Slots"]:
        """A new shared block (memfd: no file, gone with its last holder): a descriptor to send, and our slots."""
        fd = os.memfd_create("gan-engine-state", os.MFD_CLOEXEC)
        os.ftruncate(fd, 3 * size)
        return fd, _Slots(os.dup(fd), size)

    def __getitem__(self, k: int) -> torch.Tensor:
        return self._all[k * self.size:(k + 1) * self.size]

    def next_out(self) -> int:
        self._last = 3 - self._last
        return self._last


# -- what comes back -------------------------------------------------------------------------------
@dataclasses.dataclass
class Burst:
    """An engine's report: the steps since its last report, and where the state they reached is."""
    rows: list[dict[str, float]] = dataclasses.field(default_factory=list)     # each step's metrics
    updates: list[dict[str, float]] = dataclasses.field(default_factory=list)  # {"step", layer: ||Δw||/||w||}
    seconds: float = 0.0                         # time spent training
    diverged: str | None = None                  # the DivergenceError's message, if a step diverged
    final: bool = False                          # the engine has stopped (held, diverged): it waits
    slot: int = 0                                # where the state it reached is (0: nowhere)
    meta: Any = None                             # pack's step count and RNG state for it
    slots: Any = None                            # the engine's _Slots, set as it is received


class EngineLost(RuntimeError):
    """The engine's process ended; the session's trainer is as the last report left it."""


# -- the engine process ----------------------------------------------------------------------------
def _serve(conn: Connection, threads: int) -> None:
    """Train on while acknowledged: report every `seconds` once the last report was taken (an ack,
    which may come while it steps), stop at a hold or a divergence with a final report."""
    gc.freeze()     # what the forkserver imported is never collected here: its pages stay shared, not copied
    torch.set_num_threads(threads)
    _warm_up()
    conn.send_bytes(pickle.dumps("ready"))
    t: Trainer | None = None
    slots: _Slots | None = None
    running = acked = False
    out, last, seconds, every = Burst(), 0.0, BURST_S, 20

    def report(final: bool) -> None:
        nonlocal out, last
        now = time.monotonic()
        out.seconds, out.final = now - last, final
        if out.diverged is None and t is not None:
            out.slot = slots.next_out()
            out.meta = checkpoint.pack(t, slots[out.slot])
        conn.send_bytes(pickle.dumps(("ok", out)))
        out, last = Burst(), now

    while True:
        try:
            if not running or conn.poll():
                head = pickle.loads(conn.recv_bytes())
                if head is None:
                    return
                if head in ("hold", "ack"):      # after a final report (a divergence) both come too late
                    if running and head == "hold":
                        running = False
                        report(final=True)
                    acked = running
                    continue
                build, meta, settings, seconds, every = head
                if build is not None:
                    spec, images, labels, name, size = build
                    slots = _Slots(reduction.recv_handle(conn), size)
                    t = Trainer(spec, settings, digits=Digits(torch.from_numpy(images), torch.from_numpy(labels), name))
                if meta is not None:
                    checkpoint.unpack(t, slots[0], meta)
                if settings != t.settings:
                    t.apply(**dataclasses.asdict(settings))
                running, acked, out, last = True, True, Burst(), time.monotonic()
                continue
            try:
                m, ratios = one_step(t, every)
            except DivergenceError as e:
                out.diverged, running = str(e), False
                report(final=True)
                continue
            out.rows.append(m)
            if ratios is not None:
                out.updates.append({"step": m["step"], **ratios})
            if acked and time.monotonic() - last >= seconds:
                report(final=False)
                acked = False
        except (EOFError, OSError):
            return
        except Exception as e:      # said to the session, which fails the run as a thread's crash would
            t, running = None, False
            try:
                conn.send_bytes(pickle.dumps(("error", f"{type(e).__name__}: {e}")))
            except OSError:
                return


def _warm_up() -> None:
    # a new process's first steps are slow (torch sets up its kernels, the allocator fills): taken
    # here, on a small trainer of the default model, before any session waits on this engine
    images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    t = Trainer(ModelSpec(device="cpu"), LiveSettings(),
                digits=Digits(images, torch.zeros(64, dtype=torch.int64), "warm-up"))
    for _ in range(3):
        one_step(t, 2)


def adopt(t: Trainer, out: Burst) -> int | None:
    """The state a report names, copied into t but for its step count, which is returned (the session
    sets it with the steps' rows); None for a report without a state (it diverged: the session rewinds)."""
    if not out.slot:
        return None
    checkpoint.unpack(t, out.slots[out.slot], out.meta, count=False)
    out.slot, out.slots = 0, None
    return out.meta[0]


class Engine:
    """One engine process, driven by one session at a time (a lease from the pool).

    `start()` sets it training on its copy of a trainer; it reports every BURST_S (`receive()`)
    once the last report was acknowledged (`go_on()`), so it never waits for the session to take a
    report in; `finish()` stops it and returns the reports still to come, the last one final."""

    def __init__(self, threads: int):
        ctx = _context()
        self._conn, child = ctx.Pipe()          # a Unix socket pair: it carries the shared block's descriptor too
        self._proc = ctx.Process(target=_serve, args=(child, threads), name="gan-engine", daemon=True)
        self._proc.start()
        child.close()
        # ready once warmed up (a few seconds, on the pool's thread): a session never waits for that
        try:
            ready = self._conn.poll(START_S) and pickle.loads(self._conn.recv_bytes()) == "ready"
            why = f"the engine was not ready within {START_S:.0f} s"
        except (EOFError, OSError):
            ready, why = False, "the engine's process ended before it was ready"
        if not ready:
            self.close()
            raise EngineLost(why)
        self._holds: weakref.ref | None = None    # the trainer the engine holds a copy of
        self._layout: tuple[str, str] | None = None   # and the optimizers of that copy
        self._slots: _Slots | None = None
        self._flying = self._held = False
        self.last_used = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def flying(self) -> bool:
        """Training (started, and no final report received yet)."""
        return self._flying

    def start(self, t: Trainer, changed: bool, every: int, seconds: float = BURST_S) -> None:
        """Set the engine training on its copy of t; `changed`: t changed since the engine's copy
        was made (its state goes first)."""
        # an optimizer switched since the engine's copy was made: that copy's state has another shape
        held = self._holds is not None and self._holds() is t and self._layout == checkpoint.state_layout(t)
        build, fd = None, None
        try:
            if not held:
                size = checkpoint.state_bytes(t)
                fd, self._slots = _Slots.create(size)
                d = t.digits
                build = (t.spec, d.images.numpy(), d.labels.numpy(), d.name, size)
            meta = checkpoint.pack(t, self._slots[0]) if changed or not held else None
            self._send((build, meta, t.settings, seconds, every))
            if fd is not None:
                reduction.send_handle(self._conn, fd, self._proc.pid)
        finally:
            if fd is not None:
                os.close(fd)
        self._holds, self._flying, self._held, self.last_used = weakref.ref(t), True, False, time.monotonic()
        self._layout = checkpoint.state_layout(t)

    def go_on(self) -> None:
        """The last report is taken: report again in BURST_S."""
        self._send("ack")

    def receive(self) -> Burst:
        """The next report (after a start or a go_on, or the final one after a hold)."""
        try:
            if not self._conn.poll(REPORT_S):      # hung: what it did since its last report is lost
                self._proc.kill()
                raise EOFError(f"no report in {REPORT_S:.0f} s")
            status, out = pickle.loads(self._conn.recv_bytes())
        except (EOFError, OSError) as e:
            self._lost()
            raise EngineLost(str(e) or "the engine's process ended") from None
        if status != "ok":
            self._lost()
            raise RuntimeError(out)
        self._flying = not out.final
        out.slots, self.last_used = self._slots, time.monotonic()
        return out

    def finish(self) -> list[Burst]:
        """Stop training: the reports still to come, the last one final (its state is the engine's)."""
        outs = []
        if self._flying and not self._held:
            self._send("hold")
            self._held = True
        while self._flying:
            outs.append(self.receive())
        return outs

    def _send(self, message: Any) -> None:
        try:
            self._conn.send_bytes(pickle.dumps(message))
        except (OSError, ValueError) as e:
            self._lost()
            raise EngineLost(str(e) or "the engine's process ended") from None

    def _lost(self) -> None:
        self._holds, self._flying = None, False

    def forget(self) -> None:
        """The engine's copy is no one's now (given back to the pool): the shared block goes with it."""
        self._holds, self._slots = None, None

    def alive(self) -> bool:
        return self._proc.is_alive()

    def close(self) -> None:
        try:
            self._conn.send_bytes(pickle.dumps(None))
        except (OSError, ValueError):
            pass
        self._conn.close()
        self._proc.join(CLOSE_S)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(CLOSE_S)


# -- the pool --------------------------------------------------------------------------------------
class Pool:
    """Engines for the sessions that hold a turn: one leased to each, given back as the turn ends.

    A lease never waits for a process to start: with no engine free it starts one in the background
    and says None, and the session steps on its own thread until the engine is there. At most `keep`
    idle engines are kept; one idle for IDLE_S ends."""

    def __init__(self):
        self._free: list[Engine] = []
        self._starting = 0
        self._failed_at = -RETRY_S
        self._closed = False        # the process is exiting: no engine starts, none is kept
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None

    def lease(self, threads: int) -> Engine | None:
        with self._lock:
            while self._free:
                e = self._free.pop()
                if e.alive():
                    return e
                e.close()
            if self._starting == 0 and time.monotonic() - self._failed_at >= RETRY_S and not self._closed:
                self._starting += 1
                threading.Thread(target=self._start, args=(threads,), name="gan-engine-start", daemon=True).start()
            if self._reaper is None and not self._closed:
                self._reaper = threading.Thread(target=self._reap, name="gan-engine-reaper", daemon=True)
                self._reaper.start()
        return None

    def _start(self, threads: int) -> None:
        try:
            e = Engine(threads)
        except Exception as err:    # no engine here: sessions train on their threads, and a next try waits
            if not self._closed:    # (one starting as the process exits loses its forkserver: no news)
                print(f"gan_core: no engine process could start ({type(err).__name__}: {err}); runs train "
                      f"on threads, another try in {RETRY_S:.0f} s", file=sys.stderr, flush=True)
            e = None
        with self._lock:
            self._starting -= 1
            if e is None:
                self._failed_at = time.monotonic()
            elif not self._closed:
                self._free.append(e)
                return
        if e is not None:
            e.close()               # ready after close_all: nobody will lease it

    def warm(self, threads: int) -> None:
        """Start the forkserver and an engine now (as the server starts), so that a first visitor's
        run has one without waiting for torch to be imported there."""
        with self._lock:
            if self._free or self._starting or self._closed:
                return
            self._starting += 1
        threading.Thread(target=self._start, args=(threads,), name="gan-engine-start", daemon=True).start()

    def give_back(self, e: Engine, keep: int) -> None:
        e.forget()
        with self._lock:
            if e.alive() and not e.flying and len(self._free) < keep and not self._closed:
                e.last_used = time.monotonic()
                self._free.append(e)
                return
        e.close()

    def idle(self) -> int:
        with self._lock:
            return len(self._free)

    def close_all(self) -> None:
        with self._lock:
            self._closed = True
            free, self._free = self._free, []
        for e in free:
            e.close()

    def _reap(self) -> None:
        while True:
            time.sleep(min(IDLE_S, 10.0))
            now = time.monotonic()
            with self._lock:
                old = [e for e in self._free if now - e.last_used > IDLE_S]
                self._free = [e for e in self._free if e not in old]
            for e in old:
                e.close()


pool = Pool()
atexit.register(pool.close_all)


def _context():
    ctx = multiprocessing.get_context("forkserver")
    # the forkserver imports torch and the studio once; each engine forked from it shares those pages.
    # "__main__" first: the server's main module (streamlit's command) is then imported there once,
    # as multiprocessing does, instead of once in every engine
    ctx.set_forkserver_preload(["__main__", "gan_core.engine"])
    return ctx

