"""The guided experiments: the lesson's stops, each with one-click presets that set the studio up
(reset, then start), and what each preset promises the diagnosis will say."""
from __future__ import annotations

import streamlit as st

from gan_core import lessons
from gan_core.i18n import N_
from studio import frame
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
    c1, c2 = st.columns([1, 3], vertical_alignment="top")
    # a viewer reads the lesson; the run is its owner's to reset
    c1.button(_(p.title), key=f"preset_{p.key}", icon=":material/science:", width="stretch",
              help=_("resets the studio to this setup and starts training"), on_click=_start_preset, args=(s, p),
              disabled=frame.viewing())
    c2.markdown(_(p.what))
    if p.promise:
        c2.caption(_("Promise: the diagnosis says **{finding}** within {steps} steps (checked on 5 seeds by the "
                     "test suite).").format(finding=_(RULE_NAMES[p.promise]), steps=p.steps))
        if p.judge_every_s:
            c2.caption(_("This finding rests on the digit judge: while this experiment runs it reads G about every "
                         "{seconds:.0f} s (training slows a little), so the page says it some seconds after the "
                         "grid shows it.").format(seconds=p.judge_every_s))
    else:
        c2.caption(_("Promise: no failure diagnosed in {steps} steps (checked on 5 seeds by the test suite).").format(
            steps=p.steps))


def _start_preset(s, p: lessons.Preset) -> None:
    # a callback: it runs before the sidebar's widgets are drawn, so they take the preset's values
    with frame.refusals("lesson"):
        spec, settings = p.configs()   # validated by config, as any visitor's settings
        s.reset(spec, settings, judge_every_s=p.judge_every_s)
        s.start()
    frame.resync()
