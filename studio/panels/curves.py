"""The loss curves over D's outputs, the settings in effect under them, and the diagnosis in words.

Imported while the page loads (studio/panels/live.py): gan_core.diagnosis (numpy) comes in with the
first diagnosis drawn."""
from __future__ import annotations

import streamlit as st

from gan_core import config
from studio import frame
from studio.frame import _, _t, message_ui



def curves_ui(figures: dict) -> None:
    frame.chart(figures["curves"])    # the losses above D's outputs, as one element


def in_effect_ui(snap) -> None:
    s = snap.settings
    with st.container(key="in_effect"):
        st.caption(_(
            "In effect: lr G **{lr_g}** ({optimizer_g}) · lr D **{lr_d}** ({optimizer_d}) · β1 **{beta1:g}** · "
            "batch **{batch_size}** · "
            "D steps **{d_steps}** · G steps **{g_steps}** · loss **{loss}** · smoothing **{label_smoothing:g}**  —  model **{arch}**, "
            "z **{latent_dim}**, seed **{seed}**{conditional} · data: {data}").format(
                lr_g=frame.short(s.lr_g), lr_d=frame.short(s.lr_d), beta1=s.beta1, batch_size=s.batch_size,
                optimizer_g=_(config.OPTIMIZER_NAMES[s.optimizer_g]), optimizer_d=_(config.OPTIMIZER_NAMES[s.optimizer_d]),
                d_steps=s.d_steps, g_steps=s.g_steps, loss=s.loss, label_smoothing=s.label_smoothing,
                arch=snap.spec.arch, latent_dim=snap.spec.latent_dim, seed=snap.spec.seed,
                conditional=_(", conditional") if snap.spec.conditional else "", data=_t(snap.data_name)))


def diagnosis_ui(snap, figures: dict) -> None:
    """The diagnosis rules' findings in plain words; one container, so the panel keeps its shape."""
    from gan_core import diagnosis    # loaded: a session exists
    findings = figures["findings"]
    with st.container(key="findings"):
        for f in findings:
            message_ui(f.severity, _("**{finding}**  \nTry: {advice}").format(
                finding=_t(f.message), advice=_t(f.advice)), icon=":material/stethoscope:")
        if not findings and len(snap.history.get("step", [])) >= diagnosis.MIN_POINTS:
            st.caption(":material/stethoscope: " + _("Diagnosis: nothing wrong spotted in the recent steps."))
