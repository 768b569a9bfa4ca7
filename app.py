"""GAN Studio: watch a GAN learn to draw digits, and steer it while it learns.

The page only draws. Training runs in a TrainingSession (gan_core/session.py) kept in this
visitor's st.session_state; widgets send it commands and the live panel polls its snapshot.
"""
from __future__ import annotations

import dataclasses

import streamlit as st

from gan_core import charts, config, query, render, session
from gan_core.checkpoint import CheckpointError
from gan_core.config import ConfigError, LiveSettings, ModelSpec
from gan_core.data import DataError
from gan_core.sampling import DISTRIBUTIONS, SamplingSettings
from gan_core.session import PAUSED, RUNNING, WAITING, TrainingSession

LR_OPTIONS = [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1]
BATCH_OPTIONS = [16, 32, 64, 128, 256, 512]
ARCH_NAMES = {"mlp": "MLP (the seed: 100→128→784)", "mlp_wide": "Wide MLP (default)", "conv": "Small DCGAN (conv)"}
LOSS_NAMES = {"bce": "BCE (the seed's)", "hinge": "Hinge", "lsgan": "Least squares", "wgan-gp": "WGAN-GP"}
LIVE_EVERY_S = 0.5


# -- the visitor's session ---------------------------------------------------------------------------
@st.cache_resource(scope="session", on_release=lambda s: s.release())
def _watch_leave(_s: TrainingSession) -> TrainingSession:
    # a session-scoped entry is released when this visitor's websocket goes away
    return _s


@st.cache_resource
def _configure_server() -> None:
    # once per process: [gan_studio] in st.secrets overrides the environment's limits
    try:
        overrides = dict(st.secrets.get("gan_studio", {}))
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        overrides = {}
    if overrides:
        session.configure(**overrides)


def get_session() -> TrainingSession:
    """This visitor's session, built on their first visit from the link's settings."""
    if "session" not in st.session_state:
        live, spec, problems = query.decode(st.query_params.to_dict())
        try:
            st.session_state.session = TrainingSession(spec, live)
        except (ConfigError, DataError) as e:
            problems.append(str(e))
            st.session_state.session = TrainingSession(settings=live)
        if problems:
            st.session_state["_error"] = "Some settings in the link were not used: " + "; ".join(problems)
    s = st.session_state.session
    _watch_leave(s)
    return s


def share_ui(snap: session.Snapshot) -> None:
    """Keep the address bar in step with the settings, so the link reproduces this setup."""
    params = query.encode(snap.settings, snap.spec)
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def _run(fn, *args, **kwargs):
    """Run a command; a bad setting or file becomes a message on the page, and nothing is lost."""
    try:
        return fn(*args, **kwargs)
    except (ConfigError, CheckpointError, DataError, RuntimeError) as e:
        st.session_state["_error"] = str(e)


# -- controls ------------------------------------------------------------------------------------------
def controls_ui(s: TrainingSession, snap: session.Snapshot) -> None:
    """Start/Pause and Reset, the step counter with its Step button, and the run's vital signs."""
    running = snap.state in (RUNNING, WAITING)
    c0, c1, c2, c3, c4 = st.columns([1.3, 1.3, 1, 1, 1], vertical_alignment="top")
    with c0:
        if running:
            st.button("Pause", key="pause", icon=":material/pause:", on_click=_run, args=(s.pause,),
                      width="stretch")
        else:
            st.button("Resume" if snap.state == PAUSED else "Start", key="start", type="primary",
                      icon=":material/play_arrow:", on_click=_run, args=(s.start,), width="stretch")
        st.button("Reset", key="reset", icon=":material/restart_alt:", on_click=_reset, args=(s,),
                  width="stretch", help="a new model, with the model settings in the sidebar")
    with c1.container(key="step"):
        st.metric("Step", f"{snap.step:,}")
        st.button("Step once", key="step_once", icon=":material/skip_next:", disabled=running,
                  on_click=_run, args=(s.step_once,), help="one D update, then one G update")
    c2.metric("Steps / s", f"{snap.steps_per_s:,.0f}" if snap.state == RUNNING else "–")
    c3.metric("Training time", f"{snap.elapsed:,.1f} s")
    c4.metric("State", snap.state.capitalize())
    if snap.state == WAITING:
        st.info(f"All trainers on this server are busy. You are number {snap.queue_position} in the "
                "queue; training starts by itself when a trainer frees up.", icon=":material/hourglass_top:")
    if snap.message:
        (st.error if snap.state == "failed" else st.warning)(snap.message)


def _apply_live(s: TrainingSession, name: str) -> None:
    _run(s.apply, **{name: st.session_state[name]})


def live_settings_ui(s: TrainingSession, current: LiveSettings) -> None:
    st.subheader("Live settings", help="Applied between two steps; training goes on.")
    for key, value in dataclasses.asdict(current).items():
        st.session_state.setdefault(key, value)
    kw = lambda name: dict(key=name, on_change=_apply_live, args=(s, name))  # noqa: E731
    st.select_slider("Learning rate of G", LR_OPTIONS, format_func=lambda v: f"{v:.0e}", **kw("lr_g"))
    st.select_slider("Learning rate of D", LR_OPTIONS, format_func=lambda v: f"{v:.0e}", **kw("lr_d"))
    st.slider("Adam β1", 0.0, 0.95, step=0.05, **kw("beta1"), help="momentum; 0.5 calms the game")
    st.select_slider("Batch size", BATCH_OPTIONS, **kw("batch_size"))
    st.slider("D steps per G step", 1, 5, **kw("d_steps"))
    st.selectbox("Loss", config.LOSSES, format_func=LOSS_NAMES.get, **kw("loss"))
    st.slider("Label smoothing (real target 1 − s)", 0.0, 0.3, step=0.05, **kw("label_smoothing"),
              help="one-sided; BCE only")


def model_settings_ui(s: TrainingSession, spec: ModelSpec) -> None:
    st.subheader("Model", help="These need a new model: they take effect on Reset.")
    for name in ("arch", "latent_dim", "seed", "data", "conditional"):
        st.session_state.setdefault(f"model_{name}", getattr(spec, name))
    st.selectbox("Architecture", config.ARCHS, format_func=ARCH_NAMES.get, key="model_arch")
    st.select_slider("Latent size", [2, 8, 16, 32, 64, 100, 128, 256], key="model_latent_dim")
    st.number_input("Seed", 0, 2**31 - 1, step=1, key="model_seed")
    st.selectbox("Data", ["bundled", "mnist", "fashion"], key="model_data",
                 format_func={"bundled": "MNIST, 5,000 bundled digits", "mnist": "MNIST, 60,000 (IDX files)",
                              "fashion": "Fashion-MNIST (IDX files)"}.get)
    st.toggle("Conditional (G and D see the digit)", key="model_conditional")
    if _pending_spec(spec) != spec:
        st.warning("Model settings changed: **Reset** starts over with a new model. "
                   "Until then the current model keeps training.", icon=":material/restart_alt:")


def _pending_spec(spec: ModelSpec) -> ModelSpec:
    values = {n: st.session_state.get(f"model_{n}", getattr(spec, n))
              for n in ("arch", "latent_dim", "seed", "data", "conditional")}
    return dataclasses.replace(spec, **values)


def _reset(s: TrainingSession) -> None:
    spec = _pending_spec(s.snapshot().spec)
    _run(s.reset, config.validate(ModelSpec, **dataclasses.asdict(spec)))


# -- main: the live panel ----------------------------------------------------------------------------
def grid_ui(snap: session.Snapshot) -> None:
    st.markdown(f"**Fixed noise, step {snap.grid_step:,}**  ·  the same 64 latent vectors every frame")
    with st.container(key="samples"):
        if snap.grid is not None:
            uri = render.data_uri(render.mosaic_png(snap.grid))
            st.html(f'<img src="{uri}" alt="generated digits at step {snap.grid_step}" '
                    'style="width:100%;max-width:460px;image-rendering:pixelated;border-radius:6px">')


def curves_ui(snap: session.Snapshot) -> None:
    smoothing = st.session_state.get("smoothing", 0)
    if not snap.history.get("step"):
        st.caption("Curves appear once training starts.")
        return
    st.vega_lite_chart(charts.losses(snap.history, snap.markers, smoothing), width="stretch")
    st.vega_lite_chart(charts.d_outputs(snap.history, snap.markers, smoothing), width="stretch")


def in_effect_ui(snap: session.Snapshot) -> None:
    s = snap.settings
    st.caption(
        f"In effect: lr G **{s.lr_g:.0e}** · lr D **{s.lr_d:.0e}** · β1 **{s.beta1:g}** · "
        f"batch **{s.batch_size}** · D steps **{s.d_steps}** · loss **{s.loss}** · "
        f"smoothing **{s.label_smoothing:g}**  —  model **{snap.spec.arch}**, z **{snap.spec.latent_dim}**, "
        f"seed **{snap.spec.seed}**{', conditional' if snap.spec.conditional else ''} · data: {snap.data_name}")


def live_ui(s: TrainingSession) -> None:
    running = s.snapshot().state in (RUNNING, WAITING)

    @st.fragment(run_every=LIVE_EVERY_S if running else None)
    def live_panel():
        snap = s.snapshot()
        if running != (snap.state in (RUNNING, WAITING)):
            st.rerun()  # started, paused or stopped by itself: rerun the page once to set the timer
        controls_ui(s, snap)
        left, right = st.columns([5, 6], gap="large")
        with left:
            grid_ui(snap)
        with right:
            curves_ui(snap)
        with st.container(key="in_effect"):
            in_effect_ui(snap)

    live_panel()


# -- latent sampling ---------------------------------------------------------------------------------
def latent_ui(s: TrainingSession) -> None:
    running = s.snapshot().state in (RUNNING, WAITING)

    @st.fragment(run_every=2.0 if running else None)
    def panel():
        c1, c2 = st.columns([2, 3], gap="large")
        with c1:
            dist = st.radio("Distribution", DISTRIBUTIONS, horizontal=True, key="lat_dist")
            temperature = st.slider("Temperature", 0.0, 2.0, 1.0, 0.05, key="temperature",
                                    help="scales z; low = typical digits, high = wild ones")
            truncation = st.slider("Truncation (0 = off)", 0.0, 3.0, 0.0, 0.1, key="truncation",
                                   help="entries of z beyond this are redrawn")
            seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="lat_seed")
            n = st.select_slider("Samples", [16, 36, 64, 100], 36, key="lat_n")
        with c2:
            png = _run(s.sample_png, SamplingSettings(dist, temperature, truncation, "resample", int(seed), n))
            if png:
                with st.container(key="latent_samples"):
                    st.html(f'<img src="{render.data_uri(png)}" alt="samples" '
                            'style="width:100%;max-width:420px;image-rendering:pixelated;border-radius:6px">')
        st.markdown("**Interpolation** between two seeds")
        d1, d2, d3 = st.columns([1, 1, 4])
        a = d1.number_input("From seed", 0, 2**31 - 1, 1, key="interp_a")
        b = d2.number_input("To seed", 0, 2**31 - 1, 2, key="interp_b")
        t = d3.slider("Position", 0.0, 1.0, 0.5, 0.05, key="interp_t")
        result = _run(s.interpolation_png, int(a), int(b), t)
        if result:
            strip, one = result
            e1, e2 = st.columns([1, 6])
            e1.html(f'<img src="{render.data_uri(one)}" style="width:84px;image-rendering:pixelated">')
            e2.html(f'<img src="{render.data_uri(strip)}" style="width:100%;image-rendering:pixelated">')

    panel()


# -- exports and imports -------------------------------------------------------------------------------
def files_ui(s: TrainingSession) -> None:
    snap = s.snapshot()
    c1, c2, c3 = st.columns(3)
    if snap.grid is not None:
        c1.download_button("Grid (PNG)", render.mosaic_png(snap.grid, scale=4), f"grid_step{snap.step}.png",
                           "image/png", icon=":material/image:", width="stretch")
    c2.download_button("Checkpoint", lambda: s.checkpoint_bytes(), f"gan_step{snap.step}.pt",
                       "application/octet-stream", icon=":material/save:", width="stretch")
    c3.download_button("Metrics (CSV)", lambda: s.metrics_csv(), f"metrics_step{snap.step}.csv", "text/csv",
                       icon=":material/table:", width="stretch")
    up = st.file_uploader("Continue from a checkpoint (.pt)", type=["pt"], key="ckpt_upload",
                          help="validated before use; files with code in them are refused")
    if up is not None and st.session_state.get("_loaded") != up.file_id:
        st.session_state["_loaded"] = up.file_id
        if _run(s.load_checkpoint, up.getvalue()) is None and "_error" not in st.session_state:
            _sync_widgets(s.snapshot())
            st.toast(f"Loaded a checkpoint at step {s.snapshot().step:,}", icon=":material/check:")
            st.rerun()


def _sync_widgets(snap: session.Snapshot) -> None:
    for key, value in dataclasses.asdict(snap.settings).items():
        st.session_state[key] = value
    for name in ("arch", "latent_dim", "seed", "data", "conditional"):
        st.session_state[f"model_{name}"] = getattr(snap.spec, name)


# -- page ----------------------------------------------------------------------------------------------
def main() -> None:
    st.set_page_config(page_title="GAN Studio", page_icon=":material/draw:", layout="wide")
    _configure_server()
    s = get_session()
    snap = s.snapshot()
    share_ui(snap)
    with st.sidebar:
        st.title("GAN Studio")
        live_settings_ui(s, snap.settings)
        st.divider()
        model_settings_ui(s, snap.spec)
    st.markdown("### Watch a GAN learn to draw digits")
    st.caption("G turns random noise z into images; D learns to tell them from real handwritten digits. "
               "Each step: one backprop update of D on a real and a generated batch, then one of G, "
               "which learns from D's gradients how to look more real.")
    if "_error" in st.session_state:
        st.error(st.session_state.pop("_error"), icon=":material/error:")
    live_ui(s)
    st.slider("Curve smoothing (points)", 0, 50, 0, key="smoothing")
    st.divider()
    st.markdown("#### Latent space")
    latent_ui(s)
    st.divider()
    st.markdown("#### Files")
    files_ui(s)


if __name__ == "__main__":
    main()
