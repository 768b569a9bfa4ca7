"""Restoration: hide part of a digit, and backprop finds the z whose image best matches the rest
(gan_core/restore.py). G is frozen: only z learns. Runs on the run's worker, when asked."""
from __future__ import annotations

import streamlit as st

from gan_core import data, render, restore
from gan_core.i18n import N_
from studio import frame
from studio.frame import _

MASK_NAMES = {"bottom": N_("bottom part"), "band": N_("a band across"), "pixels": N_("random pixels"),
              "noise": N_("added noise"), "low7": N_("7x7 only"), "low14": N_("14x14 only")}
IMAGE_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff", "pgm"]


@st.cache_resource
def _held_out() -> tuple:
    # the 1,000 digits the judge never trained on (uint8 (1000, 28, 28)) and their labels; read-only
    digits = data.load("bundled")[0]
    test_idx = data.held_out_split(digits)[1]
    return digits.images[test_idx], digits.labels[test_idx]


def _read_image(up):
    """An uploaded image, read by data.decode_image (bounded; 28x28 only): (28, 28) uint8."""
    return data.decode_image(up.name, up.getvalue())


@st.fragment
def restore_ui(s) -> None:
    """Hide part of a real digit and find the z whose image matches the rest: gradient descent on z."""
    st.markdown(_("**Restoration**: hide part of a digit; backprop then finds the latent vector z whose image "
                  "best matches the visible pixels. G is frozen: only z learns."))
    c1, c2 = st.columns([2, 3], gap="large")
    images, labels = _held_out()
    with c1:
        n = st.number_input(_("Held-out digit (0 to {last})").format(last=len(images) - 1), 0, len(images) - 1, 0,
                            key="restore_index", persist_state="session",
                            help=_("one of the 1,000 digits the judge never trained on (the GAN trains on all 5,000)"))
        up = st.file_uploader(_("…or your own 28x28 image"), type=IMAGE_TYPES, key="restore_upload")
        kind = st.radio(_("Hide"), [*restore.MASKS, *restore.LOW_KINDS], horizontal=True,
                        format_func=frame.named(MASK_NAMES), key="restore_mask", persist_state="session",
                        help=_("A mask hides part of the digit; 7x7 or 14x14 gives G only the mean of each block "
                               "(super-resolution)."))
        amount = st.slider(_("How much (share hidden, or the noise's spread)"), 0.1, 0.9, restore.DEFAULT_HIDDEN,
                           0.05, key="restore_amount", persist_state="session", disabled=kind in restore.LOW_KINDS)
        go = st.button(_("Restore"), key="restore_go", icon=":material/healing:", type="primary",
                       help=_("{steps} gradient steps on z from {restarts} starts; about a second").format(
                           steps=restore.DEFAULTS.steps, restarts=restore.DEFAULTS.restarts),
                       disabled=frame.viewing())   # it runs on the run's worker: a viewer's would slow the run
    with c2, st.container(key="restore"):
        image = images[int(n)]                                  # (28, 28) uint8
        if up is not None:
            image = frame.read_once("restore_upload", up, _read_image)[0]
            if image is None:
                frame.refusal_ui("restore_upload", _("This image cannot be used: {}"))
                return
        if go:
            with frame.refusals("restore"):
                st.session_state["_restore"] = (s.look(restore.demo, image, kind, amount), s.snapshot().step)
        frame.refusal_ui("restore")
        if "_restore" in st.session_state:
            restore_result_ui(*st.session_state["_restore"])
        else:
            st.caption(_("Press Restore. A GAN trained for a minute or more fills the gap with strokes a digit "
                         "has; an untrained one, with noise."))


def restore_result_ui(d: restore.Demo, step: int) -> None:
    names = {"original": _("original"), "damaged": _("what G sees"), "restored": _("restored")}
    for col, (which, image) in zip(st.columns(3), d.panels()):
        digit, conf = d.reads[which]
        with col:
            frame.img(render.data_uri(render.png(image, scale=4)), names[which], max_width=140)
            st.caption(_("{name}: the judge reads {digit} ({confidence:.0%})").format(
                name=names[which], digit=digit, confidence=conf))
    steps, strip = d.strip()
    st.markdown(_("**The search, step by step** (steps {steps})").format(steps=", ".join(map(str, steps))))
    frame.img(render.data_uri(render.png(strip, nrow=len(steps), scale=3)), _("restoration steps"), max_width=700)
    if d.kind in restore.LOW_KINDS:    # super-resolution: G matched the block means
        st.caption(_("G at training step {step:,}. Error on the block means: {start:.4f} at the first step, "
                     "{end:.4f} at the last.").format(step=step, start=d.result.loss[0], end=d.result.loss[-1]))
    else:
        st.caption(_("G at training step {step:,}. Error on the visible pixels: {start:.4f} at the first step, "
                     "{end:.4f} at the last.").format(step=step, start=d.result.loss[0], end=d.result.loss[-1]))
