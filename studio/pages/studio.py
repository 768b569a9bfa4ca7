"""The Studio: the live run (controls, grid, curves, the settings in effect, the diagnosis) and the
insight tabs under it, of which only the open one is drawn."""
import streamlit as st

from studio import frame
from studio.frame import _
from studio.panels import curves, game, history, latent, live, quality


def live_body(s, snap, figures) -> None:
    live.grid_and_curves_ui(s, snap, figures)
    curves.in_effect_ui(snap)
    curves.diagnosis_ui(snap, figures)
    insights_ui(s, snap, figures)


def insights_ui(s, snap, figures) -> None:
    """The four tabs under the curves. Only the open one is drawn at each refresh (choosing a tab reruns
    the live panel): most of a refresh's work would otherwise go to tabs nobody looks at."""
    tabs = st.tabs([_("Game & gradients"), _("Quality"), _("History"), _("Latent space")],
                   key="insight_tab", on_change="rerun")
    draw = (lambda: game.game_ui(s, snap, figures), lambda: quality.quality_ui(s, snap, figures),
            lambda: history.history_ui(s, snap), lambda: latent.latent_ui(s, snap))
    for tab, draw_tab in zip(tabs, draw):
        if tab.open:
            with tab:
                draw_tab()


live.heading_ui()
live.live_ui(frame.shown_run(), live_body)
