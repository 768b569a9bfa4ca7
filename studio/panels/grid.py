"""The fixed-noise grid, and beside it on demand D's advice to G, pixel by pixel (gan_core/advice.py).

While the page loads (no session) a dark square holds the grid's place: this module imports nothing
that loads torch, and gan_core.advice and render come in with the first advice drawn.
"""
from __future__ import annotations

import streamlit as st

from gan_core import runs
from studio import frame
from studio.frame import _


def grid_ui(s, snap, figures: dict) -> None:
    st.markdown(_("**Fixed noise, step {step:,}**  ·  the same 64 latent vectors every frame").format(
        step=snap.grid_step))
    show = st.toggle(_("D's advice, pixel by pixel"), key="advice_show", persist_state="session", disabled=s is None,
                     help=_("beside the grid: where G's next step adds or removes ink, and what D looks at"))
    grid_place, advice_place = st.columns(2) if show else (st, None)
    with grid_place.container(key="samples"):
        if s is None:
            _loading_ui()
        elif figures["grid"] is not None:
            frame.img(figures["grid"], _("generated digits at step {step}").format(step=snap.grid_step))
    if show:
        with advice_place.container(key="advice"):
            advice_ui(s, snap)


def _loading_ui() -> None:
    said = _("Loading PyTorch, the digits and the model…")
    st.html('<div role="status" style="width:100%;max-width:460px;aspect-ratio:1;border-radius:6px;'
            'background:#000;color:#ccc;display:flex;align-items:center;justify-content:center;'
            f'text-align:center;padding:2em">{said}</div>')


def advice_ui(s, snap) -> None:
    """The gradients of the losses with respect to the images, drawn over them (advice.py). Computed
    on the worker once per published version of the run, for the owner and every viewer together."""
    from gan_core import advice, render     # loaded: a session exists
    drawn = None
    with frame.refusals("advice"):   # shared like the other figures: one computation per version
        drawn = runs.figures.get(("advice", snap.run_id, snap.version), s.advice_pngs)
    frame.refusal_ui("advice")
    if drawn is None:
        return
    (grid_png, grid_full), (real_png, real_full) = drawn["grid"], drawn["real"]
    frame.img(render.data_uri(grid_png), _("D's advice to G at step {step}").format(step=drawn["step"]))
    st.caption(_("**D's advice to G**: −∂L_G/∂x on the live G's images of the same noise (the grid shows their "
                 "running average). <span style='color:#ff961e'>Orange</span>: G's next step adds ink there; "
                 "<span style='color:#2896ff'>blue</span>: it removes ink. Full colour at |∂L_G/∂x| ≥ {full:.2g}, "
                 "the {pct}th percentile of this frame.").format(full=grid_full, pct=advice.PERCENTILE),
               unsafe_allow_html=True)
    frame.img(render.data_uri(real_png), _("what D looks at on real digits"))
    st.caption(_("**What D looks at**: −∂L_D/∂x on {n} real digits. Orange: more ink there would lower D's "
                 "loss (the digit would look more real to D); blue: less ink. Full colour at |∂L_D/∂x| ≥ "
                 "{full:.2g}.").format(n=advice.REAL_N, full=real_full))
