"""The insight tab "Quality": the digit judge's reading of G (legible share, Fréchet distance, near
copies), its charts, and the collapse alarm."""
from __future__ import annotations

import streamlit as st

from gan_core import host, metrics, probe
from studio import frame
from studio.frame import _, _t, message_ui


def _measure(s) -> None:
    with frame.refusals("quality"):
        s.measure()


def quality_ui(s, snap, figures) -> None:
    last = snap.quality[-1] if snap.quality else None
    lim = host.limits()
    st.caption(_("About every {seconds:.0f} s of training (less often when judging would take more than a "
                 "tenth of the time), the digit judge (a classifier trained apart, never used to train G) reads "
                 "N = {n} samples of G. The Fréchet distance grows as N shrinks, so it is drawn next to what "
                 "N real digits score.").format(seconds=lim.quality_every_s, n=probe.QUALITY_N))
    with st.container(key="quality_notes"):
        if snap.spec.data not in ("bundled", "mnist"):
            message_ui("warning", _("The judge reads handwritten digits: on this data its numbers say little."),
                       icon=":material/info:")
        collapse = figures["collapse"]
        if collapse:
            message_ui("error", _("Collapse alarm. {finding} Try: {advice}").format(
                finding=_t(collapse.message), advice=_t(collapse.advice)), icon=":material/warning:")
        frame.refusal_ui("quality")
    c = st.columns(5)
    dash = "–"
    c[0].metric(_("Measured at step"), f"{last['step']:,}" if last else dash)
    c[1].metric(_("Legible digits"), f"{last['confident_share']:.0%}" if last else dash,
                help=_("share the judge reads with over {confidence:.0%} confidence").format(
                    confidence=metrics.CONFIDENT))
    c[2].metric(_("Fréchet distance"), f"{last['fid']:.1f}" if last else dash,
                help=_("to 1,000 held-out real digits, in the judge's features; lower is better"))
    c[3].metric(_("Real digits, N = {n}").format(n=probe.QUALITY_N), f"{last['fid_real_n']:.2f}" if last else dash,
                help=_("what real digits score at the same N: the floor"))
    c[4].metric(_("Near copies"), f"{last['near_copies']:.1%}" if last else dash,
                help=_("samples within pixel distance 1 of a training image (memorization)"))
    q1, q2 = st.columns(2, gap="large")
    frame.chart(figures["digit_histogram"], q1)
    frame.chart(figures["frechet"], q2)
    frame.chart(figures["quality_shares"])
    st.button(_("Measure now"), key="measure", icon=":material/straighten:", on_click=_measure, args=(s,),
              help=_("also while paused; takes about half a second"), disabled=frame.viewing())
