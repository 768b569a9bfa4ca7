"""Ask G for a digit: a conditional G draws any digit asked for (the label goes in next to z)."""
from __future__ import annotations

import streamlit as st

from gan_core import render
from studio import frame
from studio.frame import _
from studio.panels import latent


def conditional_ui(s, snap) -> None:
    st.markdown(_("**Ask for a digit**"))
    with st.container(key="conditional"):
        if not snap.spec.conditional:
            st.caption(_("This model is not conditional. Turn on **Conditional** in the sidebar's Model "
                         "section and press Reset: G and D then see the digit, and you can ask G for any one."))
            return
        digit = st.radio(_("Digit"), list(range(10)), horizontal=True, key="cond_digit", persist_state="session", disabled=frame.viewing())
        # drawn with the latent tab's sampling settings: the same z distribution and temperature
        png = latent.redrawn(snap, s.sample_digit_png, digit, 16, latent.sampling())
        if png:
            frame.img(render.data_uri(png), _("digit {digit} from G").format(digit=digit), max_width=420)
