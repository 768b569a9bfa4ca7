"""Start/Pause and Reset, the step counter with its Step buttons, the run's vital signs and its notices.

Drawn by the same functions while the page loads (no session yet: `s` is None and the snapshot a
Loading): Start is enabled and remembered, the rest disabled. So this module imports nothing that
loads torch, and reads a run's state by the names gan_core.session gives them (STATE_NAMES' keys;
tests/test_pages.py holds the two lists equal).
"""
from __future__ import annotations

import dataclasses
import os

import streamlit as st

from gan_core import config, query, runs
from gan_core.config import ModelSpec
from gan_core.i18n import N_
from studio import frame
from studio.frame import _, _n, message_ui

# Snapshot.state's values (gan_core.session.IDLE ...), and the loading layout's two
STATE_NAMES = {"idle": N_("Idle"), "running": N_("Running"), "waiting": N_("Waiting"), "paused": N_("Paused"),
               "failed": N_("Failed"), "stopped": N_("Stopped"), "loading": N_("Loading"), "starting": N_("Starting")}
LIVE_EVERY_S = 1.0
FIRST_STEP_WAIT_S = 0.5


@dataclasses.dataclass(frozen=True)
class Loading:
    """What the panels show before a run exists (torch still loading): a snapshot's fields, at rest."""
    state: str = "loading"         # "starting" once Start was pressed
    step: int = 0
    elapsed: float = 0.0
    steps_per_s: float = 0.0
    message: str | None = None
    run_id: str = ""
    viewers: int = 0
    grid_step: int = 0


def loading_snapshot() -> Loading:
    return Loading("starting" if st.session_state.get("_start_when_ready") else "loading")


def shape(snap) -> str:
    """What the controls show: Pause (training, or waiting for its turn), Resume, or Start. Turns
    rotate between running and waiting every few seconds under load without changing it."""
    return "pause" if snap.state in ("running", "waiting") else "resume" if snap.state == "paused" else "start"


def refresh_every(state: str) -> float | None:
    # live while training or queued. One interval for both: turns rotate every few seconds under
    # load, and a page that reran itself at each turn to change its timer met a Streamlit race
    # (a full run's unsent deltas dropped by the next timed run) that blanked and broke the page
    # a viewer's page always polls: only the run's owner can start it again
    return LIVE_EVERY_S if state in ("running", "waiting") or frame.viewing() else None


# -- commands ------------------------------------------------------------------------------------------
def start(s) -> None:
    """Start, and draw the page once the first step is taken (at most FIRST_STEP_WAIT_S later): the
    page otherwise shows step 0 until its next timed refresh, a second on."""
    before = s.snapshot().step
    with frame.refusals("controls"):
        s.start()
    s.wait_for_step(before, FIRST_STEP_WAIT_S)


def _start_when_ready() -> None:
    st.session_state["_start_when_ready"] = True    # the frame starts the run once it exists


def _command(fn) -> None:
    with frame.refusals("controls"):
        fn()


def _reset(s) -> None:
    with frame.refusals("controls"):
        spec = frame.pending_spec(s.snapshot().spec)
        s.reset(config.validate(ModelSpec, **dataclasses.asdict(spec)))
        st.session_state.pop("_preset", None)     # no longer an experiment's run: nothing to compare


# -- the panel -----------------------------------------------------------------------------------------
def controls_ui(s, snap) -> None:
    """Start/Pause and Reset, the step counter with its Step buttons, and the run's vital signs."""
    running = shape(snap) == "pause"
    c0, c1, c2, c3, c4 = st.columns([1.3, 1.3, 1, 1, 1], vertical_alignment="top")
    with c0:
        play_button(s, snap)
        reset_button(s)
    with c1.container(key="step"):
        st.metric(_("Step"), f"{snap.step:,}")
        step_once_button(s, running)
    with c1:
        d, g = st.columns(2)
        with d:
            step_d_button(s, running)
        with g:
            step_g_button(s, running)
    vitals_ui(snap, (c2, c3, c4))
    notices_ui(s, snap)


def viewer_controls_ui(s, snap) -> None:
    """A viewer's controls: the owner's, disabled, in one row. They change only when the owner starts
    or pauses the run, so the page's whole runs draw them, not each refresh (the live panel reruns the
    page when `shape` changes): a viewer's refresh redraws only what moves."""
    row_ui(s, snap, "viewer_controls")


def row_ui(s, snap, key: str) -> None:
    """The buttons in one row: a viewer's, or the owner's on a page with less room (the Lesson's)."""
    running = shape(snap) == "pause"
    with st.container(horizontal=True, key=key):
        play_button(s, snap)
        reset_button(s)
        step_once_button(s, running)
        with st.container(horizontal=True, wrap=False):   # the half steps wrap as a pair, never one alone
            step_d_button(s, running)
            step_g_button(s, running)


def vitals_row_ui(s, snap) -> None:
    """The live numbers in one row (a viewer's, or a narrow panel's), at each refresh: the step counter (in `step`)
    and the run's vital signs, in one row."""
    with st.container(horizontal=True, key="vitals"):
        with st.container(key="step"):
            st.metric(_("Step"), f"{snap.step:,}")
        vitals_ui(snap, (st, st, st))
    notices_ui(s, snap)


def _off(s) -> bool:
    return s is None or frame.viewing()


def play_button(s, snap) -> None:
    now = shape(snap)
    if now == "pause":
        st.button(_("Pause"), key="pause", icon=":material/pause:", on_click=_command, args=(s.pause,),
                  width="stretch", disabled=frame.viewing())
    else:
        st.button(_("Resume") if now == "resume" else _("Start"), key="start", type="primary",
                  icon=":material/play_arrow:", on_click=_start_when_ready if s is None else start,
                  args=() if s is None else (s,), width="stretch", disabled=frame.viewing())


def reset_button(s) -> None:
    st.button(_("Reset"), key="reset", icon=":material/restart_alt:", on_click=_reset, args=(s,),
              width="stretch", help=_("a new model, with the model settings in the sidebar"), disabled=_off(s))


def step_once_button(s, running: bool) -> None:
    st.button(_("Step once"), key="step_once", icon=":material/skip_next:", disabled=running or _off(s),
              on_click=_command, args=(s and s.step_once,), help=_("one D update, then one G update"))


def step_d_button(s, running: bool) -> None:
    st.button(_("Step D"), key="step_d", disabled=running or _off(s), on_click=_command, args=(s and s.step_d,),
              width="stretch", help=_("one D update only: G, and so the grid, stay as they are"))


def step_g_button(s, running: bool) -> None:
    st.button(_("Step G"), key="step_g", disabled=running or _off(s), on_click=_command, args=(s and s.step_g,),
              width="stretch", help=_("one G update only: D stays as it is"))


def vitals_ui(snap, places: tuple) -> None:
    """Steps/s, training time and state, one metric in each of `places`."""
    c2, c3, c4 = places
    c2.metric(_("Steps / s"), f"{snap.steps_per_s:,.0f}" if snap.state == "running" else "–")
    c3.metric(_("Training time"), _("{seconds:,.1f} s").format(seconds=snap.elapsed))
    c4.metric(_("State"), _(STATE_NAMES.get(snap.state, snap.state)))


def notices_ui(s, snap) -> None:
    # notices come and go inside one container, so the live panel keeps the same shape every run
    with st.container(key="notices"):
        if snap.state == "waiting":
            queue_ui(snap)
            others_ui(s)
        if snap.message:
            message_ui("error" if snap.state == "failed" else "warning", "{}", snap.message)
        frame.refusal_ui("controls")


def queue_ui(snap) -> None:
    """Where a waiting visitor stands, and about when their turn comes (the scheduler's estimate)."""
    if snap.queue_eta_s is None:   # between two turns, for a moment
        said = _("All trainers on this server are busy. You are number {position} in the queue; training "
                 "starts by itself when a trainer frees up.").format(position=snap.queue_position)
    else:
        said = _("All trainers on this server are busy. You are number {position} in the queue; your turn "
                 "comes in about {wait}, and training starts by itself.").format(
                     position=snap.queue_position, wait=_wait(snap.queue_eta_s))
    message_ui("info", said, icon=":material/hourglass_top:")


def _wait(seconds: float) -> str:
    # a rough figure: the estimate assumes every turn ahead runs its full length
    if seconds < 90:
        return _("{seconds:.0f} s").format(seconds=max(5, 5 * round(seconds / 5)))
    return _n("{n} minute", "{n} minutes", round(seconds / 60)).format(n=round(seconds / 60))


def others_ui(s) -> None:
    """While this visitor waits for a trainer: links to watch runs training now."""
    now = [(rid, r) for rid, r in runs.all_runs() if r is not s and r.state == "running"][:5]
    if now:
        st.caption(_("Meanwhile, watch a run training now:"))
        for rid, r in now:    # link buttons: the address is the widget's, never Markdown
            st.link_button(_("a run at step {step:,}").format(step=r.step),
                           query.watch_link(st.context.url or "", rid, replica()), icon=":material/visibility:")


def replica() -> str | None:
    """This server's name among replicas behind a load balancer (gan_core.host.replica), or None."""
    if not os.environ.get("GAN_STUDIO_REPLICA"):
        return None       # alone: the common case, answered without importing host (and torch)
    from gan_core import host
    return host.replica()


def replica_ui() -> None:
    """Which replica serves this page, when several run behind a load balancer (GAN_STUDIO_REPLICA)."""
    name = replica()
    if name:
        with st.container(key="replica"):
            st.caption(_("Server {name}").format(name=name))
