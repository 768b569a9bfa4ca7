"""Uses of G: what a trained generator is good for, by backprop: ask it for a digit (a conditional G),
walk through its latent space, restore a damaged digit, augment a small data set."""
import streamlit as st

from studio import frame
from studio.frame import _
from studio.panels import augment, conditional, live, restore, walk


def live_body(s, snap, figures) -> None:
    conditional.conditional_ui(s, snap)     # the live G's digits, redrawn as it trains


s = frame.shown_run()
st.markdown("### " + _("Uses of a trained G, by backprop"))
live.live_ui(s, live_body)
st.divider()
walk.walk_ui(s)
st.divider()
restore.restore_ui(s)
st.divider()
augment.augment_ui(s)
