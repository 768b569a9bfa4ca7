"""One real step of the run on a batch of 8, read top to bottom: forward, loss, backward, update
(gan_core/slow_motion.py): the four stages of backprop, with the images they act on."""
from __future__ import annotations

import streamlit as st

from gan_core import render, slow_motion
from studio import frame
from studio.frame import _


def _slow_step(s) -> None:
    with frame.refusals("slow_motion"):
        r = s.slow_step()
        pictures = {k: render.data_uri(v) if isinstance(v, bytes) else v for k, v in slow_motion.pictures(r).items()}
        st.session_state["_slow"] = (r, pictures)


def _values(values: list[float]) -> str:
    return " · ".join(f"{v:.2f}" for v in values)


def _norms_text(norms: dict[str, float]) -> str:
    return "  \n".join(f"`{name}` {v:.3g}" for name, v in norms.items())


def slow_motion_ui(s, snap) -> None:
    """One real step on a batch of 8, read top to bottom: forward, loss, backward, update."""
    st.markdown(_("**One step in slow motion**: forward, loss, backward, update, on one batch of {n}").format(
        n=slow_motion.BATCH))
    st.button(_("Take one step in slow motion"), key="slow_step", icon=":material/slow_motion_video:",
              disabled=snap.state in ("running", "waiting") or frame.viewing(), on_click=_slow_step, args=(s,),
              help=_("a real step of the run (pause first), on {n} images, shown stage by stage").format(
                  n=slow_motion.BATCH))
    frame.refusal_ui("slow_motion")
    if frame.viewing():
        return      # the run's steps are its owner's to take; the button says the section is there
    if "_slow" not in st.session_state:
        st.caption(_("Press the button: the run takes one real step, D's update and then G's, on {n} real "
                     "digits and {n} of G's, and each stage of backprop is shown here.").format(n=slow_motion.BATCH))
        return
    r, pic = st.session_state["_slow"]
    st.caption(_("Step {step:,} · loss **{loss}** · D(·) is sigmoid(D's logit), one value per image, left to "
                 "right. G's update reuses the same z (a normal step draws a fresh one), so the same images "
                 "go through both updates.").format(step=r.step, loss=r.loss))
    strip = lambda name, alt: frame.img(pic[name], alt, max_width=520)  # noqa: E731
    full = _("Full colour at |∂L/∂x| ≥ {full:.2g}; orange: the step adds ink, blue: removes it.")

    st.markdown("##### " + _("1 · Forward"))
    c1, c2 = st.columns(2, gap="large")
    with c1:
        st.markdown(_("**D's update.** Real digits x, and G(z) (no graph into G)"))
        strip("real", _("real batch"))
        st.caption("D(x) = {values}".format(values=_values(r.d_real_before)))
        strip("fake", _("generated batch"))
        st.caption("D(G(z)) = {values}".format(values=_values(r.d_fake_before)))
    with c2:
        st.markdown(_("**G's update.** The same G(z), judged by D after its update"))
        strip("fake", _("generated batch"))
        st.caption("D(G(z)) = {values}".format(values=_values(r.d_fake_g_before)))

    st.markdown("##### " + _("2 · Loss"))
    c1, c2 = st.columns(2, gap="large")
    terms = {"real": _("on real digits"), "fake": _("on G's digits"), "penalty": _("gradient penalty")}
    c1.markdown("L_D = **{loss:.4f}**".format(loss=r.loss_d) + "  \n" + "  \n".join(
        f"{terms[k]}: {v:.4f}" for k, v in r.terms_d.items()))
    c2.markdown("L_G = **{loss:.4f}**".format(loss=r.loss_g) + "  \n" + _(
        "low when D(G(z)) is near 1: G wants D fooled"))

    st.markdown("##### " + _("3 · Backward"))
    c1, c2 = st.columns(2, gap="large")
    with c1:
        st.markdown(_("**‖∂L_D/∂θ‖ per layer of D**") + "  \n" + _norms_text(r.grad_norms_d))
        strip("pixel_real", _("dL_D/dx on the real batch"))
        st.caption(_("−∂L_D/∂x on the real digits. ") + full.format(full=pic["pixel_real_scale"]))
        strip("pixel_fake_d", _("dL_D/dx on the generated batch"))
        st.caption(_("−∂L_D/∂x on G's digits: backprop stops here, G is not updated by L_D. ")
                   + full.format(full=pic["pixel_fake_d_scale"]))
    with c2:
        st.markdown(_("**‖∂L_G/∂θ‖ per layer of G**") + "  \n" + _norms_text(r.grad_norms_g))
        strip("pixel_fake_g", _("dL_G/dG(z) on the generated batch"))
        st.caption(_("−∂L_G/∂G(z): the way G's update moves its images, through G's weights. ")
                   + full.format(full=pic["pixel_fake_g_scale"]))

    st.markdown("##### " + _("4 · Update"))
    st.caption(_("{n} images give a noisy gradient, and one Adam step on it can move D's outputs on these very "
                 "images far; a normal step averages over the batch size ({batch}).").format(
                     n=len(r.d_real_before), batch=snap.settings.batch_size))
    c1, c2 = st.columns(2, gap="large")
    with c1:
        st.markdown(_("**Adam steps D's weights.** The same images, D's outputs before → after"))
        st.caption("D(x): {before} → {after}".format(before=_values(r.d_real_before), after=_values(r.d_real_after)))
        st.caption("D(G(z)): {before} → {after}".format(before=_values(r.d_fake_before),
                                                            after=_values(r.d_fake_after)))
    with c2:
        st.markdown(_("**Adam steps G's weights.** The same z: G's images before, then after"))
        strip("fake", _("generated batch before"))
        strip("fake_after", _("generated batch after"))
        st.caption("D(G(z)): {before} → {after}".format(before=_values(r.d_fake_g_before),
                                                            after=_values(r.d_fake_g_after)))
