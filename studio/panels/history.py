"""The insight tab "History": scrub back through the kept frames of the fixed-noise grid; a timelapse."""
from __future__ import annotations

import streamlit as st

from gan_core import render, runs
from studio import frame
from studio.frame import _, _n


def history_ui(s, snap) -> None:
    frames = s.frames()
    c1, c2 = st.columns([5, 6], gap="large")
    with c2:
        # a position in the run, not a step: the frames' steps change as the history thins
        pos = st.slider(_("Scrub back through the run"), 0, 100, 100, format="%d%%", key="scrub", persist_state="session")
        st.caption(_n("{n} frame of the fixed-noise grid is kept, spread evenly over the run "
                      "(at most 60: older ones are thinned as training goes on).",
                      "{n} frames of the fixed-noise grid are kept, spread evenly over the run "
                      "(at most 60: older ones are thinned as training goes on).", len(frames)).format(n=len(frames)))
        st.download_button(_("Timelapse (GIF)"), lambda: s.timelapse_gif(), _("timelapse.gif"), "image/gif",
                           key="timelapse", icon=":material/movie:")
    with c1:
        step, mosaic = frames[round(pos / 100 * (len(frames) - 1))]
        st.markdown(_("**Fixed noise at step {step:,}**").format(step=step))
        uri = runs.figures.get((snap.run_id, snap.version, "frame", pos),
                               lambda: render.data_uri(render.mosaic_png(mosaic)))
        frame.img(uri, _("grid at step {step}").format(step=step))
