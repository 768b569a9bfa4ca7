"""The sidebar every page shares: the live settings, the model's, and the curves' smoothing.

Light on purpose (no torch): drawn disabled, with the link's values, while the page loads.
"""
from __future__ import annotations

import urllib.parse

import streamlit as st

from gan_core import config, i18n, query
from gan_core.config import LiveSettings, ModelSpec
from gan_core.i18n import N_
from studio import frame
from studio.frame import _, message_ui
from studio.panels import controls

LR_OPTIONS = [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 1.5e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1]
BATCH_OPTIONS = [16, 32, 64, 128, 256, 512]
LATENT_OPTIONS = [2, 8, 16, 32, 64, 100, 128, 256]
ARCH_NAMES = {"mlp": N_("MLP (the seed: 100→128→784)"), "mlp_wide": N_("Wide MLP"), "conv": N_("Small DCGAN (conv)")}
LOSS_NAMES = {"bce": N_("BCE (the seed's)"), "hinge": N_("Hinge"), "lsgan": N_("Least squares"), "wgan-gp": "WGAN-GP"}
DATA_NAMES = {"bundled": N_("MNIST, 5,000 bundled digits"), "mnist": N_("MNIST, 60,000 (IDX files)"),
              "fashion": N_("Fashion-MNIST (IDX files)"), "own": N_("Own images (uploaded in Files)")}


def _apply_live(s, name: str) -> None:
    with frame.refusals("settings"):
        s.apply(**{name: st.session_state[name]})
    _changed()


def _changed() -> None:
    st.session_state["_changed"] = True


@st.fragment
def sidebar_ui(s) -> None:
    """The settings, as a fragment: moving a slider reruns this panel alone, and the live panel shows
    the change at its next refresh, without a full rerun of the page under its timer. While nothing
    trains there is no refresh to wait for, so a change reruns the page; a refused one is said here.
    Without a session (the page is loading), the link's settings, shown disabled."""
    if s is None:
        settings, spec, unused = query.decode(st.query_params.to_dict())
    else:
        snap = s.snapshot()
        settings, spec = snap.settings, snap.spec
    frame.sync_widgets(settings, spec)
    st.title(_("GAN Studio"))
    live_settings_ui(s, settings)
    st.divider()
    model_settings_ui(s, spec)
    st.divider()
    st.slider(_("Curve smoothing (points)"), 0, 50, 10, key="smoothing", on_change=_changed,
              help=_("a trailing mean over this many points of the curves"))
    if s is None:
        return
    share_ui(snap)
    # only after a change made here: the full run that follows runs this fragment again
    if st.session_state.pop("_changed", False) and controls.refresh_every(snap.state) is None:
        st.rerun()


def share_ui(snap) -> None:
    """Keep the address bar in step with the settings, so the link reproduces this setup; a viewer's
    keeps its watch link (the address loses it when the visitor moves to another page)."""
    if frame.viewing():
        params = dict(urllib.parse.parse_qsl(query.watch_link("", snap.run_id, controls.replica()).lstrip("?")))
    else:
        params = query.encode(snap.settings, snap.spec, lang=st.session_state.get("lang", i18n.DEFAULT))
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def _with(options: list, *values) -> list:
    return sorted({*options, *values})


def live_settings_ui(s, current: LiveSettings) -> None:
    st.subheader(_("Live settings"), help=_("Applied between two steps; training goes on."))
    kw = lambda name: dict(key=name, on_change=_apply_live, args=(s, name),  # noqa: E731
                           disabled=frame.viewing() or s is None)
    # a value from a link or a checkpoint joins the options, so any valid setting can be shown
    lr_options = _with(LR_OPTIONS, current.lr_g, current.lr_d, st.session_state.lr_g, st.session_state.lr_d)
    st.select_slider(_("Learning rate of G"), lr_options, format_func=frame.short, **kw("lr_g"))
    st.select_slider(_("Learning rate of D"), lr_options, format_func=frame.short, **kw("lr_d"))
    optimizers_ui(kw)
    st.select_slider(_("Batch size"), _with(BATCH_OPTIONS, current.batch_size, st.session_state.batch_size),
                     **kw("batch_size"))
    st.slider(_("D steps per G step"), *frame.limits("d_steps"), **kw("d_steps"))
    st.slider(_("G steps per round"), *frame.limits("g_steps"), **kw("g_steps"),
              help=_("G updates after D's in each step"))
    st.selectbox(_("Loss"), frame.limits("loss"), format_func=frame.named(LOSS_NAMES), **kw("loss"))
    st.slider(_("Label smoothing (real target 1 − s)"), *frame.limits("label_smoothing"), step=0.05,
              **kw("label_smoothing"), help=_("one-sided; BCE only"))
    frame.refusal_ui("settings")


def optimizers_ui(kw) -> None:
    """Each player's optimizer, and the settings of the ones in use alone (config.OPTIMIZER_FIELDS): a
    switch starts that player's optimizer afresh, between two steps."""
    names = frame.named(config.OPTIMIZER_NAMES, "adam")
    help_ = _("A switch keeps the weights and starts the optimizer's state fresh; the curves mark it.")
    st.selectbox(_("Optimizer of G"), frame.limits("optimizer_g"), format_func=names, help=help_, **kw("optimizer_g"))
    st.selectbox(_("Optimizer of D"), frame.limits("optimizer_d"), format_func=names, help=help_, **kw("optimizer_d"))
    used = {f for o in (st.session_state.optimizer_g, st.session_state.optimizer_d) for f in config.OPTIMIZER_FIELDS[o]}
    if "beta1" in used:
        st.slider(_("Adam β1"), *frame.limits("beta1"), step=0.01, **kw("beta1"), help=_("momentum; 0.5 calms the game"))
    if "beta2" in used:
        st.slider(_("Adam β2"), *frame.limits("beta2"), step=0.001, format="%.3f", **kw("beta2"),
                  help=_("how long Adam remembers the gradients' size"))
    if "momentum" in used:
        st.slider(_("SGD momentum"), *frame.limits("momentum"), step=0.05, **kw("momentum"),
                  help=_("the share of the last step SGD keeps; 0 is plain gradient descent"))


def model_settings_ui(s, spec: ModelSpec) -> None:
    st.subheader(_("Model"), help=_("These need a new model: they take effect on Reset."))
    off = frame.viewing() or s is None    # a viewer's, or loading
    st.selectbox(_("Architecture"), frame.limits("arch", ModelSpec),
                 format_func=frame.named(ARCH_NAMES, config.DEFAULT_ARCH), key="model_arch", disabled=off)
    st.select_slider(_("Latent size"), LATENT_OPTIONS, key="model_latent_dim", disabled=off)
    st.number_input(_("Seed"), *frame.limits("seed", ModelSpec), step=1, key="model_seed", disabled=off)
    own = ["own"] if spec.data == "own" else []     # offered while the model trains on uploaded images
    st.selectbox(_("Data"), [*frame.limits("data", ModelSpec), *own], key="model_data",
                 format_func=frame.named(DATA_NAMES), disabled=off)
    st.toggle(_("Conditional (G and D see the digit)"), key="model_conditional", disabled=off)
    if frame.pending_spec(spec) != spec:
        message_ui("warning", _("Model settings changed: **Reset** starts over with a new model. "
                                "Until then the current model keeps training."), icon=":material/restart_alt:")
