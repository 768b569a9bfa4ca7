"""The insight tab "Latent space": samples of G under a distribution, temperature and truncation, and the
interpolation between two seeds. Also the redrawing rule every drawing of the live G follows (redrawn)."""
from __future__ import annotations

import streamlit as st

from gan_core import render, runs
from gan_core.i18n import N_
from gan_core.sampling import DISTRIBUTIONS, SamplingSettings
from studio import frame
from studio.frame import _

REDRAW_EVERY_S = 5.0   # the drawings of a training G
DISTRIBUTION_NAMES = {"normal": N_("normal"), "uniform": N_("uniform")}
# the sampling widgets' first values; the other pages' drawings read the same (sampling())
DEFAULTS = {"lat_dist": DISTRIBUTIONS[0], "temperature": 1.0, "truncation": 0.0, "lat_seed": 0, "lat_n": 36}


def redrawn(snap, draw, *args, **kwargs):
    """draw(*args), a drawing of G made on the worker, kept until its arguments change, G takes a
    step while paused, or G trains REDRAW_EVERY_S more seconds: the live panel refreshes every
    second, and a drawing need not cost the trainer its time each refresh (~20 ms). A refusal is
    said where the drawing would be, and None returned."""
    when = int(snap.elapsed // REDRAW_EVERY_S) if snap.state == "running" else snap.step
    # shared by every page of the run: viewers asking for the same drawing cost the trainer one
    key = (snap.run_id, draw.__name__, args, tuple(sorted(kwargs.items())), snap.spec, when)
    drawn = None
    with frame.refusals(draw.__name__):
        drawn = runs.figures.get(key, lambda: draw(*args, **kwargs))
    frame.refusal_ui(draw.__name__)
    return drawn


def sampling(n: int | None = None) -> SamplingSettings:
    """The latent tab's sampling settings as the visitor left them (their widgets' values are kept
    while another page is open), else the defaults."""
    value = lambda key: st.session_state.get(key, DEFAULTS[key])  # noqa: E731
    return SamplingSettings(value("lat_dist"), value("temperature"), value("truncation"), "resample",
                            int(value("lat_seed")), *([n] if n else []))


def latent_ui(s, snap) -> None:
    # a viewer's drawings are the defaults', shared by every viewer of the run: drawing is the run's
    # worker's time, so only its owner chooses what G draws
    off = frame.viewing()
    c1, c2 = st.columns([2, 3], gap="large")
    with c1:
        st.radio(_("Distribution"), DISTRIBUTIONS, horizontal=True, key="lat_dist", persist_state="session",
                 format_func=frame.named(DISTRIBUTION_NAMES), disabled=off)
        st.slider(_("Temperature"), *frame.limits("temperature", SamplingSettings), DEFAULTS["temperature"], 0.05,
                  key="temperature", persist_state="session", help=_("scales z; low = typical digits, high = wild ones"), disabled=off)
        st.slider(_("Truncation (0 = off)"), *frame.limits("truncation", SamplingSettings), DEFAULTS["truncation"],
                  0.1, key="truncation", persist_state="session", help=_("entries of z beyond this are redrawn"), disabled=off)
        st.number_input(_("Seed"), *frame.limits("seed", SamplingSettings), DEFAULTS["lat_seed"], key="lat_seed", persist_state="session",
                        disabled=off)
        n = st.select_slider(_("Samples"), [16, 36, 64, 100], DEFAULTS["lat_n"], key="lat_n", persist_state="session", disabled=off)
    with c2:
        png = redrawn(snap, s.sample_png, sampling(n))
        if png:
            with st.container(key="latent_samples"):
                frame.img(render.data_uri(png), _("samples"), max_width=420)
    interpolation_ui(s, snap)


def interpolation_ui(s, snap) -> None:
    off = frame.viewing()
    st.markdown(_("**Interpolation** between two seeds"))
    d1, d2, d3, d4 = st.columns([1, 1, 1, 4])
    a = d1.number_input(_("From seed"), *frame.limits("seed", SamplingSettings), 1, key="interp_a", persist_state="session", disabled=off)
    b = d2.number_input(_("To seed"), *frame.limits("seed", SamplingSettings), 2, key="interp_b", persist_state="session", disabled=off)
    digit = d3.selectbox(_("Digit"), range(10), key="interp_digit", persist_state="session", disabled=off or not snap.spec.conditional,
                         help=_("a conditional G keeps drawing this digit while z moves"))
    t = d4.slider(_("Position"), 0.0, 1.0, 0.5, 0.05, key="interp_t", persist_state="session", disabled=off)
    result = redrawn(snap, s.interpolation_png, int(a), int(b), t, digit=digit)
    if result:
        strip, one = result
        e1, e2 = st.columns([1, 6])
        with e1:
            frame.img(render.data_uri(one), _("the image at {t:.2f}").format(t=t), width="84px")
        with e2:
            frame.img(render.data_uri(strip), _("seed {a} to seed {b}").format(a=a, b=b), max_width=900)
