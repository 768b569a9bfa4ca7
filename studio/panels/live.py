"""The live panel: the run's controls and figures, redrawn every second while it trains. It is the one
timed fragment of a page (several timed fragments on one page raced under load); a page passes what
it shows under the controls as `body`.

The loading layout (torch still loading, gan_core/preload.py) is drawn by the same panels' functions,
without a session; so this module and the panels it imports at the top import nothing that loads torch.
"""
from __future__ import annotations

import threading
from typing import Callable

import streamlit as st

from gan_core import charts, i18n, preload, runs
from studio import frame
from studio.frame import _
from studio.panels import controls, curves, grid, watch

LOADING_POLL_S = 0.25


def heading_ui() -> None:
    st.markdown("### " + _("Watch a GAN learn to draw digits"))
    st.caption(_("G turns random noise z into images; D learns to tell them from real handwritten digits. "
                 "Each step: one backprop update of D on a real and a generated batch, then one of G, "
                 "which learns from D's gradients how to look more real."))


# -- the figures of a snapshot -----------------------------------------------------------------------------
class Figures:
    """One snapshot's figures in one language, each built when a page first draws it (a closed tab's are
    never built) and shared by every page showing the run: the owner's and all its viewers'."""

    def __init__(self, snap, smoothing: int, gettext_):
        self.snap, self.smoothing, self.gettext_ = snap, smoothing, gettext_
        self._built: dict = {}
        self._lock = threading.Lock()   # pages of one run draw at once: the second waits, and shares

    def __getitem__(self, name: str):
        with self._lock:
            if name not in self._built:
                self._built[name] = self._build(name)
            return self._built[name]

    def _build(self, name: str):
        from gan_core import diagnosis, render    # loaded: a snapshot exists
        snap, h, m, k = self.snap, self.snap.history, self.snap.markers, self.smoothing
        if name == "grid":
            return None if snap.grid is None else render.data_uri(render.mosaic_png(snap.grid))
        if name == "findings":
            return diagnosis.diagnose(h, snap.quality)
        if name == "collapse":
            return diagnosis.mode_collapse(h, snap.quality)
        last = snap.quality[-1] if snap.quality else None
        spec = {   # charts shown one under another are one element each (charts.stacked): a refresh sends fewer
            "curves": lambda: charts.stacked(charts.losses(h, m, k), charts.d_outputs(h, m, k)),
            "game": lambda: charts.stacked(charts.output_histograms(snap.game[-1] if snap.game else None),
                                           charts.output_heatmap(snap.game, "fake"),
                                           charts.output_heatmap(snap.game, "real")),
            "backprop": lambda: charts.stacked(charts.grad_norms(h, "G", m), charts.grad_norms(h, "D", m),
                                               charts.update_ratios(snap.updates)),
            "digit_histogram": lambda: charts.digit_histogram(last),
            "frechet": lambda: charts.frechet(snap.quality),
            "quality_shares": lambda: charts.quality_shares(snap.quality),
        }[name]()
        return charts.arrow_spec(spec, self.gettext_)


def figures(snap) -> Figures:
    """The figures of this snapshot, one set per (run, version, language, smoothing)."""
    lang, smoothing = st.session_state.get("lang", i18n.DEFAULT), st.session_state.get("smoothing", 10)
    gettext_ = i18n.translation(lang).gettext
    return runs.figures.get((snap.run_id, snap.version, lang, smoothing), lambda: Figures(snap, smoothing, gettext_))


# -- the panel -----------------------------------------------------------------------------------------
def live_ui(s, body: Callable, narrow: bool = False) -> None:
    """The controls (a viewer's: the owner's, disabled, drawn once per whole run of the page), then,
    in the timed fragment, the live numbers and body(s, snap, figures). `narrow`: the owner's controls
    in rows, as a viewer's, for a panel in a column, and no watch link (the Studio page has it)."""
    snap = s.snapshot()
    every = controls.refresh_every(snap.state)
    if frame.viewing():
        watch.watching_ui(snap)
        controls.viewer_controls_ui(s, snap)
        st.session_state["_drawn_controls"] = controls.shape(snap)

    @st.fragment(run_every=every)
    def live_panel():
        with frame.language():
            _panel_ui(s, every, body, narrow)

    live_panel()


def _panel_ui(s, every: float | None, body: Callable, narrow: bool) -> None:
    watch.forked_ui()
    snap = s.snapshot()
    if controls.refresh_every(snap.state) != every:
        st.rerun()  # started, paused, queued or stopped by itself: rerun the page to reset the timer
    if frame.viewing():
        if controls.shape(snap) != st.session_state.get("_drawn_controls"):
            st.rerun()  # the owner started or paused the run: the page redraws the viewer's controls
        controls.vitals_row_ui(s, snap)
    elif narrow:
        controls.row_ui(s, snap, "controls_row")
        controls.vitals_row_ui(s, snap)
    else:
        controls.controls_ui(s, snap)
        watch.watch_ui(snap)
    body(s, snap, figures(snap))


def grid_and_curves_ui(s, snap, figures: Figures) -> None:
    """The grid on the left, the curves on the right."""
    left, right = st.columns([5, 6], gap="large")
    with left:
        grid.grid_ui(s, snap, figures)
    with right:
        curves.curves_ui(figures)


def loading_ui() -> None:
    """The live panel's place while torch, the data and the first model load: the same panels with no
    session (Start enabled and remembered, the rest disabled, a dark square where the grid comes). It
    asks the loader a few times a second and reruns the page once it is done."""
    @st.fragment(run_every=LOADING_POLL_S)
    def loading_panel():
        if preload.loader.ready():
            st.rerun()
        snap = controls.loading_snapshot()
        controls.controls_ui(None, snap)
        watch.watch_ui(snap)
        with st.columns([5, 6], gap="large")[0]:     # where the loaded page has its grid
            grid.grid_ui(None, snap, {})

    loading_panel()
