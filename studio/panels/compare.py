"""Side by side: the ends of the experiments a visitor ran (the collapse and its cure, the seed's MLP
and a bigger net), each as its grid and the digits the digit judge reads in its samples
(lessons.Outcome). The seed's point about mode collapse is a comparison: one blot read as one digit
against most of the ten."""
from __future__ import annotations

import streamlit as st

from gan_core import charts, lessons, render
from studio import frame
from studio.frame import _

KEEP = 4    # the last experiments kept, one column each


def remember(s) -> None:
    """Read the run's end if a preset started it (on the worker, between two steps: it only reads),
    before another preset or a reset replaces it. A callback: no widget is drawn here."""
    key = st.session_state.get("_preset")
    if key is None or key not in lessons.PRESETS:
        return
    with frame.refusals("compare"):
        if s.snapshot().step == 0:
            return
        outcomes = st.session_state.setdefault("_outcomes", {})
        outcomes.pop(key, None)                         # the newest reading last
        outcomes[key] = s.look(lessons.Outcome.of)
        while len(outcomes) > KEEP:
            outcomes.pop(next(iter(outcomes)))


def compare_ui(s) -> None:
    with st.container(key="compare"):
        st.markdown("#### " + _("Side by side"))
        running = st.session_state.get("_preset")
        st.button(_("Read this experiment now"), key="compare_now", icon=":material/compare:", on_click=remember,
                  args=(s,), disabled=frame.viewing() or running is None,
                  help=_("The digit judge reads {n} of G's samples; the next experiment is read as it replaces this "
                         "one.").format(n=lessons.OUTCOME_N))
        frame.refusal_ui("compare")
        outcomes = st.session_state.get("_outcomes", {})
        if not outcomes:
            st.caption(_("Run an experiment, then another: the end of each shows here, its grid beside the "
                         "digits the judge reads in its samples. Try Mode collapse, then the cure."))
            return
        for col, (key, o) in zip(st.columns(max(2, len(outcomes))), outcomes.items()):
            with col:
                title = _(lessons.PRESETS[key].title)
                st.markdown(f"**{title}**")
                frame.img(render.data_uri(render.mosaic_png(o.mosaic)), title, max_width=260)
                report = {"histogram": [c / max(o.n, 1) for c in o.counts]}
                frame.chart(charts.arrow_spec(charts.digit_histogram(report), _))
                st.caption(_("Step {step:,}: {legible:.0%} of {n} samples legible, {classes} of the ten digits; "
                             "the commonest digit is {top:.0%} of them.").format(
                    step=o.step, legible=o.legible_share, n=o.n, classes=o.classes, top=o.top_share))
