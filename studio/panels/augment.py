"""Data augmentation: does adding G's digits help a classifier that saw few real ones?
(gan_core/augment.py; the experiment runs on a background thread, the page shows it when done.)"""
from __future__ import annotations

import streamlit as st

from gan_core import augment
from studio import frame
from studio.frame import _, message_ui


@st.fragment
def augment_ui(s) -> None:
    st.markdown(_("**Data augmentation**: a small classifier learns from {k} real digits of each class, once "
                  "alone and once with {n} digits of each class from G added; both are scored on 1,000 held-out "
                  "digits, over {seeds} seeds.").format(k=augment.K, n=augment.GENERATED, seeds=augment.SEEDS))
    c1, c2 = st.columns([1, 4])
    if c1.button(_("Run the experiment"), key="augment_go", icon=":material/science:",
                 help=_("takes a few seconds; training goes on meanwhile"), disabled=frame.viewing()):
        st.session_state.pop("_augment", None)
        with frame.refusals("augment"):
            fake, labels = s.look(augment.sampler())
            st.session_state["_augment"] = (augment.start(fake, labels), s.snapshot().step)
    with st.container(key="augment"):
        frame.refusal_ui("augment")
        job = st.session_state.get("_augment")
        if job is not None and not job[0].done():
            c2.button(_("Show the result"), key="augment_refresh", icon=":material/refresh:")
            message_ui("info", _("Running on a background thread…"), icon=":material/hourglass_top:")
        elif job is not None:
            augment_result_ui(job[0].result(), job[1])


def augment_result_ui(r: augment.Result, step: int) -> None:
    m = r.summary()
    c = st.columns(3)
    c[0].metric(_("Real digits only"), f"{m['without']:.1%}", help=_("mean held-out accuracy; ± one standard deviation"))
    c[0].caption(f"± {m['without_sd']:.1%}")
    c[1].metric(_("With G's digits"), f"{m['with']:.1%}")
    c[1].caption(f"± {m['with_sd']:.1%}")
    c[2].metric(_("Gain"), f"{m['gain']:+.1%}", help=_("paired by seed; ± one standard error"))
    c[2].caption(f"± {m['gain_se']:.1%}")
    verdict = r.verdict()
    if verdict == "helped":
        message_ui("info", _("G's digits **helped**: the gain is more than twice its standard error. G (at step "
                             "{step:,}) drew digits a classifier can learn from.").format(step=step), icon=":material/check:")
    elif verdict == "hurt":
        message_ui("warning", _("G's digits **hurt**: accuracy fell by more than twice its standard error. G (at "
                                "step {step:,}) draws digits that mislead: wrong shapes, or the wrong digit for "
                                "its label.").format(step=step), icon=":material/warning:")
    else:
        message_ui("info", _("**No clear difference**: the gain is within twice its standard error. That is a "
                             "lesson too: generated data helps only when G draws what real data lacks.").format(),
                   icon=":material/info:")
    st.caption(_("Accuracy per seed, without → with: {pairs}. A G trained in the studio on the bundled digits has "
                 "seen the held-out ones too.").format(pairs=", ".join(f"{a:.0%}→{b:.0%}" for a, b in zip(r.without, r.with_g))))
