"""GAN Studio: watch a GAN learn to draw digits, and steer it while it learns.

The frame of every page: the page's config and language, the visitor's session, the sidebar every page
shares, and the navigation between the pages (studio/pages, made of studio/panels). Training runs in a
TrainingSession (gan_core/session.py) kept in this visitor's st.session_state, so it trains on while
they read another page. A link with watch=<run id> shows another visitor's run instead, live and
read-only (gan_core/runs.py). A link is read once, on arrival: moving between pages clears the
address's parameters, so what it said (settings, language, a run to watch) is kept in session state.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

# Only modules that do not import torch come in here: the frame draws the loading layout with them at
# once, while torch, the data and the first model load in the background (gan_core/preload.py).
from gan_core import i18n, preload, query, runs
from gan_core.i18n import N_
from studio import frame
from studio.frame import _, message_ui
from studio.panels import controls, live, settings, watch

ICON = Path(__file__).parent / "studio" / "static" / "icon.png"   # shipped: the browser asks no other host
# path: (title, icon, offered to a viewer). A viewer reads the run's pages, read-only; files are the owner's
PAGES = {"studio/pages/studio.py": (N_("Studio"), ":material/monitoring:", True),
         "studio/pages/lesson.py": (N_("Lesson"), ":material/school:", True),
         "studio/pages/uses.py": (N_("Uses of G"), ":material/auto_fix_high:", True),
         "studio/pages/files.py": (N_("Files"), ":material/folder_open:", False)}


# -- the visitor's language ------------------------------------------------------------------------------
def _first_language() -> str:
    """The link's lang=, else the browser's preferred language (st.context), else English."""
    linked = query.language(st.query_params.to_dict())
    if linked:
        return linked
    headers = st.context.headers or {}
    return i18n.preferred(st.context.locale, headers.get("Accept-Language"))


def language_ui() -> None:
    """English or 简体中文, at the top of the sidebar. Outside the settings' fragment: a change
    redraws the whole page in the other language (the session trains on, untouched)."""
    st.selectbox(_("Language"), list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.get, key="lang")


# -- the server and the visitor's session -----------------------------------------------------------------
@st.cache_resource
def _configure_server() -> list:
    """Once per process: [gan_studio] in st.secrets overrides the environment's limits. What was wrong
    with them (host.configure's sentences), for every page to say."""
    try:
        overrides = dict(st.secrets.get("gan_studio", {}))
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        overrides = {}
    return host.configure(**overrides) if overrides else []


@st.cache_resource(scope="session", on_release=lambda s: s.release())
def _watch_leave(_s: TrainingSession) -> TrainingSession:
    # a session-scoped entry is released when this visitor's websocket goes away; it is built
    # again when they reconnect, which cancels the pending stop
    _s.returned()
    return _s


@st.cache_resource(scope="session", on_release=lambda w: w[0].unwatch(w[1]), show_spinner=False)
def _watch_run(run_id: str, _run: TrainingSession) -> tuple[TrainingSession, object]:
    # a viewer's page counts once while connected, like the owner's (_watch_leave): released at
    # disconnect, built again (counted again) at a reconnect
    return _run, _run.watch()


def get_session() -> tuple[TrainingSession, list[str]]:
    """The session the pages show: the run the arrival's link asks to watch, else this visitor's own,
    built on their first visit from the link's settings; and what the link said that was not used (on
    that first visit only). A viewer has no session of their own until they fork the run."""
    problems = []
    if "session" not in st.session_state and "watching" not in st.session_state:
        params = st.query_params.to_dict()
        run_id, problem = query.watch_id(params)
        run = runs.find(run_id) if run_id else None
        if run is not None:
            st.session_state.watching = run
        else:
            if problem or run_id:
                watch.link_notice(problem, run_id)
            live_settings, spec, problems = query.decode(params)
            try:
                st.session_state.session = TrainingSession(spec, live_settings)
            except (ConfigError, DataError) as e:
                problems.append(frame.said(e))
                st.session_state.session = TrainingSession(settings=live_settings)
            if st.session_state.pop("_start_when_ready", False):   # pressed while the page was loading
                controls.start(st.session_state.session)
    if frame.viewing():
        run = st.session_state.watching
        st.session_state["_watch_token"] = _watch_run(run.run_id, run)[1]
        return run, problems
    s = st.session_state.session
    _watch_leave(s)
    return s, problems


# -- the frame -----------------------------------------------------------------------------------------
def navigation():
    """The pages this visitor is offered, in their language."""
    pages = [st.Page(path, title=_(title), icon=icon, default=i == 0)
             for i, (path, (title, icon, to_viewers)) in enumerate(PAGES.items()) if to_viewers or not frame.viewing()]
    return st.navigation(pages, position="top")


def notices_ui(link_problems: list[str]) -> None:
    """What every page says first: the server's settings that were not used, why a watch link opened
    no run, what the arrival's link said that was not used."""
    for problem in _configure_server():
        message_ui("warning", _("A setting of this server was not used: {}"), problem, icon=":material/settings:")
    if not frame.viewing():
        watch.notice_ui()
    if link_problems:
        message_ui("error", _("Some settings in the link were not used: {problems}").format(
            problems=_("; ").join(["{}"] * len(link_problems))), *link_problems, icon=":material/error:")


def main() -> None:
    if "lang" not in st.session_state:
        st.session_state.lang = _first_language()
    st.set_page_config(page_title=_("GAN Studio"), page_icon=str(ICON), layout="wide")
    if preload.loader.problem:
        message_ui("error", preload.loader.problem)   # what to install, instead of a traceback from the imports
        return
    s, link_problems = get_session() if LOADED else (None, [])
    with st.sidebar:
        language_ui()
        settings.sidebar_ui(s)
        if s is not None:
            controls.replica_ui()
    page = navigation()
    if s is None:          # the same panels, with no session: Start is remembered until the run exists
        live.heading_ui()
        return live.loading_ui()
    notices_ui(link_problems)
    page.run()


# -- the modules that import torch ---------------------------------------------------------------------
# Brought in once gan_core/preload.py has loaded them in the background (the first visit starts it):
# an import here before then would wait for it, and the page would show nothing for seconds.
LOADED = frame.loaded()
if LOADED:
    from gan_core import host
    from gan_core.config import ConfigError
    from gan_core.data import DataError
    from gan_core.session import TrainingSession

main()
