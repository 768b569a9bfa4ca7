"""Files: the grid, a checkpoint and the metrics to download; a checkpoint to continue from; own images
to train on. Every upload is validated before use and read once while it stays chosen."""
from __future__ import annotations

import streamlit as st

from gan_core import data, render
from studio import frame
from studio.frame import _


@st.fragment   # no timer: downloads are built when clicked
def files_ui(s) -> None:
    downloads_ui(s)
    st.divider()
    own_data_ui(s)


def _load_checkpoint(s, up) -> int:
    s.load_checkpoint(up.getvalue())
    return s.snapshot().step


def downloads_ui(s) -> None:
    snap = s.snapshot()
    c1, c2, c3 = st.columns(3)
    if snap.grid is not None:
        c1.download_button(_("Grid (PNG)"), lambda: render.mosaic_png(snap.grid, scale=4),   # built when clicked
                           _("grid_step{step}.png").format(step=snap.step), "image/png", icon=":material/image:",
                           width="stretch")
    c2.download_button(_("Checkpoint"), lambda: s.checkpoint_bytes(), _("gan_step{step}.pt").format(step=snap.step),
                       "application/octet-stream", icon=":material/save:", width="stretch")
    c3.download_button(_("Metrics (CSV)"), lambda: s.metrics_csv(), _("metrics_step{step}.csv").format(step=snap.step),
                       "text/csv", icon=":material/table:", width="stretch")
    up = st.file_uploader(_("Continue from a checkpoint (.pt)"), type=["pt"], key="ckpt_upload",
                          help=_("validated before use; files with code in them are refused"), disabled=frame.viewing())
    if up is None:
        return
    step, fresh = frame.read_once("ckpt_upload", up, lambda f: _load_checkpoint(s, f))
    if fresh and step is not None:
        frame.resync()
        st.toast(_("Loaded a checkpoint at step {step:,}").format(step=step), icon=":material/check:")
        st.rerun()
    # said here, beside the file, while it stays chosen
    frame.refusal_ui("ckpt_upload", _("This checkpoint cannot be used: {}"))


def own_data_ui(s) -> None:
    """A zip of 28x28 grayscale images, validated by data.load_images; trained on after confirmation."""
    up = st.file_uploader(_("Train on your own images: a .zip of 28x28 grayscale images (at least {n})").format(
        n=data.MIN_IMAGES), type=["zip"], key="data_upload", disabled=frame.viewing())
    with st.container(key="own_data"):
        if up is None:
            return
        digits = frame.read_once("data_upload", up, lambda f: data.load_images(f.getvalue()))[0]
        if digits is None:
            frame.refusal_ui("data_upload", _("These images cannot be used: {}"))
            return
        st.markdown(_("**{n:,} images** in the zip; the first ones:").format(n=len(digits)))
        frame.img(render.data_uri(render.preview_png(digits.images)), _("uploaded images"), max_width=900)
        if st.button(_("Reset and train on these {n:,} images").format(n=len(digits)), key="use_upload",
                     type="primary", icon=":material/restart_alt:",
                     help=_("a new model; the current one and its history are dropped")):
            with frame.refusals("use_upload"):
                s.reset_onto(digits)
                frame.resync()
                st.toast(_("Training data: your images. Press Start."), icon=":material/check:")
                st.rerun()
        frame.refusal_ui("use_upload")
