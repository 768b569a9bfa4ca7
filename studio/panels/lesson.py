"""The guided experiments: the lesson's stops, each with one-click presets that set the studio up
(reset, then start), and what each preset promises the diagnosis will say."""
from __future__ import annotations

import streamlit as st

from gan_core import lessons
from gan_core.i18n import N_
from studio import frame
from studio.panels import compare
from studio.frame import _

RULE_NAMES = {"d_winning": N_("D is winning"), "g_winning": N_("G is winning"), "mode_collapse": N_("mode collapse"),
              "oscillation": N_("oscillation"), "divergence": N_("divergence"), "d_collapsed": N_("D has stopped teaching")}


def lesson_ui(s) -> None:
    """Not a fragment: a preset's click reruns the page, whose live panel then starts its timer."""
    with st.container(key="lesson"):
        titles = {stop.key: _(stop.title) for stop in lessons.STOPS}
        key = st.radio(_("Stop"), list(titles), format_func=titles.get, key="lesson_stop", persist_state="session", horizontal=True)
        stop = next(x for x in lessons.STOPS if x.key == key)
        st.markdown(_(stop.text))
        for name in stop.presets:
            preset_ui(s, lessons.PRESETS[name])
        frame.refusal_ui("lesson")


def preset_ui(s, p: lessons.Preset) -> None:
    # the experiment's name on its button, whole, and what to watch under it; a viewer reads the lesson,
    # the run is its owner's to reset
    st.button(_(p.title), key=f"preset_{p.key}", icon=":material/science:",
              help=_("resets the studio to this setup and starts training"), on_click=_start_preset, args=(s, p),
              disabled=frame.viewing())
    st.markdown(_(p.what))
    st.caption(promise_text(p))
    if p.judge_every_s:
        st.caption(_("This finding rests on the digit judge: while this experiment runs it reads G about every "
                     "{seconds:.0f} s (training slows a little), so the page says it some seconds after the "
                     "grid shows it.").format(seconds=p.judge_every_s))


def promise_text(p: lessons.Preset) -> str:
    """What the preset promises, in the visitor's language: the diagnosis's part and the judge's."""
    parts = []
    if p.promise:
        parts.append(_("the diagnosis says **{finding}** within {steps} steps").format(
            finding=_(RULE_NAMES[p.promise]), steps=p.steps))
    elif p.diagnosed:
        parts.append(_("no failure diagnosed in {steps} steps").format(steps=p.steps))
    q = p.quality
    if q is not None:
        read = []
        if q.min_legible > 0:
            read.append(_("at least {share:.0%} of the samples legible").format(share=q.min_legible))
        if q.max_legible < 1:
            read.append(_("at most {share:.0%} of the samples legible").format(share=q.max_legible))
        if q.min_classes:
            read.append(_("at least {n} of the ten digits").format(n=q.min_classes))
        if q.min_top:
            read.append(_("at least {share:.0%} of the samples read as one digit").format(share=q.min_top))
        parts.append(_("after {steps} steps the digit judge reads {what}").format(steps=p.steps, what=_(", ").join(read)))
    return _("Promise: {parts} (the test suite checks it over several seeds).").format(parts=_("; ").join(parts))


def _start_preset(s, p: lessons.Preset) -> None:
    # a callback: it runs before the sidebar's widgets are drawn, so they take the preset's values
    compare.remember(s)               # the experiment this one replaces, read for the side-by-side
    with frame.refusals("lesson"):
        spec, settings = p.configs()   # validated by config, as any visitor's settings
        s.reset(spec, settings, judge_every_s=p.judge_every_s)
        st.session_state["_preset"] = p.key
        s.start()
    frame.resync()
