"""The latent walk: the fixed grid animated along a path in z on the live G, drawn when asked."""
from __future__ import annotations

import streamlit as st

from gan_core import render
from gan_core.i18n import N_
from gan_core.sampling import WALKS, SamplingSettings
from studio import frame
from studio.frame import _

WALK_NAMES = {"direction": N_("along one random direction"), "interpolation": N_("to a random partner and back")}


@st.fragment
def walk_ui(s) -> None:
    """A fragment of its own, outside the live panel's timer: its GIF is large and drawn only when asked."""
    st.markdown(_("**Latent walk**: the fixed noise moves through z, and G draws every point of the path"))
    c1, c2, c3 = st.columns([3, 1, 2], vertical_alignment="bottom")
    mode = c1.radio(_("Path"), WALKS, horizontal=True, key="walk_mode", persist_state="session", format_func=frame.named(WALK_NAMES))
    seed = c2.number_input(_("Walk seed"), *frame.limits("seed", SamplingSettings), 0, key="walk_seed", persist_state="session")
    if c3.button(_("Animate on the current G"), key="walk_go", icon=":material/animation:", disabled=frame.viewing()):
        with frame.refusals("walk"):
            gif = s.latent_walk_gif(mode, int(seed))
            st.session_state["_walk"] = (render.data_uri(gif, "image/gif"), s.snapshot().step, mode)
    with st.container(key="walk"):
        frame.refusal_ui("walk")
        if "_walk" in st.session_state:
            uri, step, shown = st.session_state["_walk"]
            frame.img(uri, _("latent walk"), max_width=420)
            st.caption(_("G at step {step:,}, {path}; press Animate again to see the G of now.").format(
                step=step, path=_(WALK_NAMES[shown])))
