"""Watching a run: the owner's watch link and viewer count; a viewer's notice and Fork button."""
from __future__ import annotations

import streamlit as st

from gan_core import query, text
from gan_core.i18n import N_
from studio import frame
from studio.frame import Message, _, message_ui
from studio.panels import controls


def link_notice(problem: str | None, run_id: str | None) -> None:
    """Why the arrival's watch link opened no run, kept for notice_ui (a studio of their own instead)."""
    if problem:
        said = Message("warning", N_("This watch link cannot be used: {}. You have a studio of your own here."),
                       (problem,), ":material/link_off:")
    else:
        said = Message("warning", N_("No run on this server has the id {}: it has ended, or the link is wrong. "
                                     "You have a studio of your own here."), (run_id,), ":material/link_off:")
    st.session_state["_watch_notice"] = said


def notice_ui() -> None:
    """Why a watch link did not open a run."""
    if "_watch_notice" in st.session_state:
        st.session_state["_watch_notice"].ui()


def _fork(run) -> None:
    """The fork button: a session of this visitor's own from the run as it is now; it stops being watched."""
    if not frame.viewing():
        return      # a click delivered twice (a busy page resends it): forked already
    # Any access to st.session_state can end this callback (Streamlit checks there for a newer rerun,
    # as a click delivered twice brings), and the rerun calls it again: the fork is keyed by the
    # page's watch token, read first, so the second call gets the fork the first made, not another.
    token = st.session_state.get("_watch_token")
    with frame.refusals("fork"):
        new = run.fork(key=token)
        st.session_state.session = new      # the page holds its fork first, then stops watching
        del st.session_state["watching"]
        run.unwatch(st.session_state.pop("_watch_token", None))
        frame.resync()
        st.session_state["_forked"] = new.snapshot().step


def watching_ui(snap) -> None:
    """For a viewer: whose run this is, and the fork button."""
    with st.container(key="watching"):
        message_ui("info", _("You are watching a run shared with you, live. Only the person who shared it can "
                             "steer it; **Fork** gives you a copy of your own, from this step on, to train and "
                             "change as you like."), icon=":material/visibility:")
        frame.refusal_ui("fork")
        st.button(_("Fork this run"), key="fork", icon=":material/fork_right:", type="primary",
                  on_click=_fork, args=(st.session_state.watching,),
                  help=_("your own session from this run's weights and history as they are now; it waits for "
                         "a free trainer like any run"))


def forked_ui() -> None:
    """Once, after a fork: the toast, and a rerun, so the whole page becomes the visitor's own run's."""
    if "_forked" in st.session_state and not frame.viewing():
        step = st.session_state.pop("_forked")
        st.toast(_("Forked at step {step:,}: this copy is yours to steer.").format(step=step),
                 icon=":material/fork_right:")
        st.rerun()


def watch_ui(snap) -> None:
    """For the owner: the link that lets others watch this run, and how many watch it now. While the
    page loads the line holds its place; the link comes with the run."""
    # one line of captions, so the grid stays in view; the link in a code span: shown as it is, never
    # made into Markdown (st.code would pull a syntax highlighter into every owner's first paint)
    link = query.watch_link(st.context.url or "", snap.run_id, controls.replica()) if snap.run_id else None
    c1, c2 = st.columns([6, 1], vertical_alignment="center")
    with c1.container(key="watch_link"):
        st.caption(":material/share: " + _("Watch link, live and read-only for whoever opens it: {link}").format(
            link=text.markdown_literal(link) if link else "…"))
    if link:
        with c2.container(key="viewers"):
            st.caption(":material/visibility: " + _("Watching {n:,}").format(n=snap.viewers),
                       help=_("pages watching this run through its link"))
