"""The insight tab "Game & gradients": the seed's objectives with their live values, D's outputs on real
and generated digits, and backprop made visible (each layer's gradient, and how far a step moves it)."""
from __future__ import annotations

import streamlit as st

from gan_core import host, probe
from studio import frame
from studio.frame import _
from studio.panels.settings import LOSS_NAMES


def game_ui(s, snap, figures) -> None:
    formulas_ui(snap)
    st.caption(_("About once a second the worker shows D a batch of {n} real and {n} generated digits and "
                 "counts its answers in {bins} bins.").format(n=probe.GAME_BATCH, bins=probe.HIST_BINS))
    frame.chart(figures["game"])         # the latest histograms, then D's outputs over time: one element
    st.markdown("\n\n".join([
        _("**Backprop made visible**: how large each layer's gradient is, and how far a step moves it"),
        _small(_("Every {n} steps the weights are copied before the step and compared after it. A healthy ratio is "
                 "around 1e-3 (a step moves a layer by a thousandth of its size); much higher means the learning "
                 "rate is too large, much lower that the layer barely learns.").format(
                     n=host.limits().update_every_steps))]))
    frame.chart(figures["backprop"])     # G's gradients, D's, and the update ratios: one element


def _last(history: dict[str, list[float]], key: str) -> str:
    # a value for a formula; a dash before the first step
    return f"{history[key][-1]:.3f}" if history.get(key) else r"\text{--}"


def _with_formulas(said: str, *formulas: str, notes: tuple[str, ...] = ()) -> None:
    """A line of text, display formulas under it and caption-like notes under those, as one element
    (st.latex and st.caption write the same Markdown, an element each: every element costs each
    page's refresh its own trip to the browser)."""
    st.markdown("\n\n".join([said, *(f"$$\n{f}\n$$" for f in formulas), *map(_small, notes)]))


def _small(said: str) -> str:
    """Markdown that reads as a caption inside a larger element."""
    assert "]" not in said, "a ] would end the directive early"
    return f":small[:gray[{said}]]"


def formulas_ui(snap) -> None:
    """The seed's objectives, their values at the latest step, and what each update does."""
    h = snap.history
    d_real, d_fake = _last(h, "d_real"), _last(h, "d_fake")
    # the loss in use, when it is not the seed's: said last, where its coming and going moves nothing
    note = () if snap.settings.loss == "bce" else (_(
        "The run now uses the **{loss}** loss: the L values above are that loss's; the formulas are the seed's "
        "BCE objectives. D(x) and D(G(z)) are sigmoid(D's logit) whatever the loss.").format(
            loss=_(LOSS_NAMES[snap.settings.loss])),)
    c1, c2 = st.columns(2, gap="large")
    with c1:
        _with_formulas(_("**(1) D's update**: gradient descent on D's weights θ_D"),
                       r"L_D = -\mathbb{E}_x[\log D(x)] - \mathbb{E}_z[\log(1 - D(G(z)))]",
                       rf"L_D = {_last(h, 'loss_d')},\quad D(x) = {d_real},\quad D(G(z)) = {d_fake}",
                       notes=(_("D sees a real batch and a generated one and is pushed to say 1 to the real digits "
                                "and 0 to G's. G is held fixed: backprop stops at D's input."),))
    with c2:
        _with_formulas(_("**(2) G's update**: gradient descent on G's weights θ_G"),
                       r"L_G = -\mathbb{E}_z[\log D(G(z))]",
                       rf"L_G = {_last(h, 'loss_g')},\quad D(G(z)) = {d_fake}",
                       notes=(_("G draws a fresh batch and is pushed to make D say 1 to it. The gradient flows back "
                                "through D, whose weights stay frozen, into G's layers: D's judgement is G's only "
                                "teacher."), *note))
