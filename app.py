"""GAN Studio: watch a GAN learn to draw digits, and steer it while it learns.

The page only draws. Training runs in a TrainingSession (gan_core/session.py) kept in this
visitor's st.session_state; widgets send it commands and the live panel polls its snapshot.
A link with watch=<run id> shows another visitor's run instead, live and read-only (gan_core/runs.py):
its figures come from a cache shared by every page, built once per published snapshot version.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses

import streamlit as st

# Only modules that do not import torch come in here: the page draws its layout with them at once,
# while torch, the data and the first model load in the background (gan_core/preload.py). The others
# are imported at the end of this file, once that loading is done.
from gan_core import charts, config, i18n, preload, query, runs, text
from gan_core.config import ConfigError, LiveSettings, ModelSpec
from gan_core.i18n import N_

LR_OPTIONS = [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 1.5e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1]
BATCH_OPTIONS = [16, 32, 64, 128, 256, 512]
ARCH_NAMES = {"mlp": N_("MLP (the seed: 100→128→784)"), "mlp_wide": N_("Wide MLP"), "conv": N_("Small DCGAN (conv)")}
LOSS_NAMES = {"bce": N_("BCE (the seed's)"), "hinge": N_("Hinge"), "lsgan": N_("Least squares"), "wgan-gp": "WGAN-GP"}
MODEL_FIELDS = config.page_fields(ModelSpec)   # the model settings the sidebar offers
LIVE_EVERY_S = 1.0
REDRAW_EVERY_S = 5.0   # the latent tab's drawings of a training G
DATA_NAMES = {"bundled": N_("MNIST, 5,000 bundled digits"), "mnist": N_("MNIST, 60,000 (IDX files)"),
              "fashion": N_("Fashion-MNIST (IDX files)"), "own": N_("Own images (uploaded in Files)")}
STATE_NAMES = {"idle": N_("Idle"), "running": N_("Running"), "waiting": N_("Waiting"), "paused": N_("Paused"),
               "failed": N_("Failed"), "stopped": N_("Stopped")}
DISTRIBUTION_NAMES = {"normal": N_("normal"), "uniform": N_("uniform")}
WALK_NAMES = {"direction": N_("along one random direction"), "interpolation": N_("to a random partner and back")}
MASK_NAMES = {"bottom": N_("bottom part"), "band": N_("a band across"), "pixels": N_("random pixels"),
              "noise": N_("added noise")}
RULE_NAMES = {"d_winning": N_("D is winning"), "g_winning": N_("G is winning"), "mode_collapse": N_("mode collapse"),
              "oscillation": N_("oscillation"), "divergence": N_("divergence"), "d_collapsed": N_("D has stopped teaching")}
RESTORE_STEPS, RESTORE_RESTARTS = 150, 4   # about a second on the worker for the default model


# -- the visitor's language ------------------------------------------------------------------------------
# the language of the run in progress, read once by a live panel's run (see _language)
_current_translation: contextvars.ContextVar = contextvars.ContextVar("translation", default=None)


def _translation():
    return _current_translation.get() or i18n.translation(st.session_state.get("lang", i18n.DEFAULT))


@contextlib.contextmanager
def _language():
    """The visitor's language read once for a block of drawing: a live panel's refresh says a hundred
    words, and reading st.session_state for each took about a tenth of a viewer's refresh (py-spy)."""
    token = _current_translation.set(i18n.translation(st.session_state.get("lang", i18n.DEFAULT)))
    try:
        yield
    finally:
        _current_translation.reset(token)


def _(text: str) -> str:
    """The page's own words in the visitor's language (the catalog's msgid is the English text)."""
    return _translation().gettext(text)


def _n(singular: str, plural: str, n: int) -> str:
    return _translation().ngettext(singular, plural, n)


def _t(text) -> str:
    """A text made in gan_core (an i18n.Message, or an error raised with one) in the visitor's language."""
    return i18n.translate(text, _translation().gettext)


def _first_language() -> str:
    """The link's lang=, else the browser's preferred language (st.context), else English."""
    linked = query.language(st.query_params.to_dict())
    if linked:
        return linked
    headers = st.context.headers or {}
    return i18n.preferred(st.context.locale, headers.get("Accept-Language"))


def language_ui() -> None:
    """English or 简体中文, at the top of the sidebar. Outside the settings' fragment: a change
    redraws the whole page in the other language (the session trains on, untouched)."""
    st.selectbox(_("Language"), list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.get, key="lang")


# -- the visitor's session ---------------------------------------------------------------------------
@st.cache_resource(scope="session", on_release=lambda s: s.release())
def _watch_leave(_s: TrainingSession) -> TrainingSession:
    # a session-scoped entry is released when this visitor's websocket goes away; it is built
    # again when they reconnect, which cancels the pending stop
    _s.returned()
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


@st.cache_resource(scope="session", on_release=lambda w: w[0].unwatch(w[1]), show_spinner=False)
def _watch_run(run_id: str, _run: TrainingSession) -> tuple[TrainingSession, object]:
    # a viewer's page counts once while connected, like the owner's (_watch_leave): released at
    # disconnect, built again (counted again) at a reconnect
    return _run, _run.watch()


def get_session() -> tuple[TrainingSession, list[str]]:
    """The session this page shows: the run its link asks to watch, else this visitor's own, built
    on their first visit from the link's settings; and what the link said that was not used (on that
    first visit only). A viewer has no session of their own until they fork the run."""
    problems = []
    if "session" not in st.session_state and "watching" not in st.session_state:
        params = st.query_params.to_dict()
        run_id, problem = query.watch_id(params)
        run = runs.find(run_id) if run_id else None
        if run is not None:
            st.session_state.watching = run
        else:
            if problem:
                st.session_state["_refusal_watch"] = Message(
                    "warning", N_("This watch link cannot be used: {}. You have a studio of your own here."),
                    (problem,), ":material/link_off:")
            elif run_id:
                st.session_state["_refusal_watch"] = Message(
                    "warning", N_("No run on this server has the id {}: it has ended, or the link is wrong. "
                                  "You have a studio of your own here."), (run_id,), ":material/link_off:")
            live, spec, problems = query.decode(params)
            try:
                st.session_state.session = TrainingSession(spec, live)
            except (ConfigError, DataError) as e:
                problems.append(_said(e))
                st.session_state.session = TrainingSession(settings=live)
            if st.session_state.pop("_start_when_ready", False):   # pressed while the page was loading
                _start(st.session_state.session)
    if _viewing():
        run = st.session_state.watching
        st.session_state["_watch_token"] = _watch_run(run.run_id, run)[1]
        return run, problems
    s = st.session_state.session
    _watch_leave(s)
    return s, problems


def _viewing() -> bool:
    """Does this page watch someone else's run (read-only)?"""
    return "watching" in st.session_state


def _fork(run: TrainingSession) -> None:
    """The fork button: a session of this visitor's own from the run as it is now; it stops being watched."""
    if not _viewing():
        return      # a click delivered twice (a busy page resends it): forked already
    # Any access to st.session_state can end this callback (Streamlit checks there for a newer rerun,
    # as a click delivered twice brings), and the rerun calls it again: the fork is keyed by the
    # page's watch token, read first, so the second call gets the fork the first made, not another.
    token = st.session_state.get("_watch_token")
    st.session_state.pop("_refusal_watch", None)
    try:
        new = run.fork(key=token)
    except REFUSALS as e:
        st.session_state["_refusal_watch"] = Message("error", "{}", (_said(e),), ":material/error:")
        return
    st.session_state.session = new      # the page holds its fork first, then stops watching
    del st.session_state["watching"]
    run.unwatch(st.session_state.pop("_watch_token", None))
    _sync_widgets(new.snapshot())
    st.session_state["_forked"] = new.snapshot().step


def watch_notice_ui() -> None:
    """Why a watch link did not open a run, or why a fork was refused (kept until the next fork)."""
    m = st.session_state.get("_refusal_watch")
    if m is not None:
        message_ui(m.kind, _(m.template), *m.params, icon=m.icon)


def watching_ui(snap: session.Snapshot) -> None:
    """For a viewer: whose run this is, and the fork button."""
    with st.container(key="watching"):
        message_ui("info", _("You are watching a run shared with you, live. Only the person who shared it can "
                             "steer it; **Fork** gives you a copy of your own, from this step on, to train and "
                             "change as you like."), icon=":material/visibility:")
        watch_notice_ui()
        st.button(_("Fork this run"), key="fork", icon=":material/fork_right:", type="primary",
                  on_click=_fork, args=(st.session_state.watching,),
                  help=_("your own session from this run's weights and history as they are now; it waits for "
                         "a free trainer like any run"))


def _base_url() -> str:
    return st.context.url or ""


def watch_ui(snap: session.Snapshot) -> None:
    """For the owner: the link that lets others watch this run, and how many watch it now."""
    # one line of captions, so the grid stays in view; the link in a code span: shown as it is, never
    # made into Markdown (st.code would pull a syntax highlighter into every owner's first paint)
    link = query.watch_link(_base_url(), snap.run_id, session.replica())
    c1, c2 = st.columns([6, 1], vertical_alignment="center")
    with c1.container(key="watch_link"):
        st.caption(":material/share: " + _("Watch link, live and read-only for whoever opens it: {link}").format(
            link=text.markdown_literal(link)))
    with c2.container(key="viewers"):
        st.caption(":material/visibility: " + _("Watching {n:,}").format(n=snap.viewers),
                   help=_("pages watching this run through its link"))


def others_ui(s: TrainingSession) -> None:
    """While this visitor waits for a trainer: links to watch runs training now."""
    now = [(rid, r) for rid, r in runs.all_runs() if r is not s and r.state == RUNNING][:5]
    if now:
        st.caption(_("Meanwhile, watch a run training now:"))
        for rid, r in now:    # link buttons: the address is the widget's, never Markdown
            st.link_button(_("a run at step {step:,}").format(step=r.step),
                           query.watch_link(_base_url(), rid, session.replica()), icon=":material/visibility:")


def share_ui(snap: session.Snapshot) -> None:
    """Keep the address bar in step with the settings, so the link reproduces this setup."""
    if _viewing():
        return      # the address keeps its watch link
    params = query.encode(snap.settings, snap.spec, lang=st.session_state.get("lang", i18n.DEFAULT))
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


# -- messages ----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Message:
    """Something to tell the visitor later: message_ui's arguments, kept (in English: they are
    translated when drawn, so a change of language reaches them too)."""
    kind: str                       # "error", "warning" or "info"
    template: str
    params: tuple[str, ...] = ()
    icon: str | None = None


def message_ui(kind: str, template: str, *params: object, icon: str | None = None) -> None:
    """The one place the page draws a message box. `template` is the page's own Markdown, already in
    the visitor's language; each "{}" in it takes one of params, which a visitor, a link or a file may
    control: they are translated if they are texts of the catalog (an error's reason), and shown as
    literal text (a code span, invisible characters made visible, cut to a readable length)."""
    parts = template.split("{}")
    assert len(parts) == len(params) + 1, "one parameter for each {} of the template"
    gettext_ = _translation().gettext
    body = parts[0] + "".join(text.markdown_literal(_t(p), gettext_=gettext_) + rest
                              for p, rest in zip(params, parts[1:]))
    {"error": st.error, "warning": st.warning, "info": st.info}[kind](body, icon=icon)


def _said(e: Exception) -> str:
    """What a refusal says, kept untranslated: an i18n.Message when gan_core raised it with one."""
    return e.args[0] if len(e.args) == 1 and isinstance(e.args[0], i18n.Message) else str(e)


def _command(place: str, fn, *args, **kwargs) -> None:
    """A widget's callback: run a command. Callbacks run before the page is drawn, so a refusal is
    kept and shown beside `place`'s controls (refusal_ui) until the next command there."""
    try:
        fn(*args, **kwargs)
        st.session_state.pop(f"_refusal_{place}", None)
    except REFUSALS as e:
        st.session_state[f"_refusal_{place}"] = Message("error", "{}", (_said(e),), ":material/error:")


def refusal_ui(place: str) -> None:
    m = st.session_state.get(f"_refusal_{place}")
    if m is not None:
        message_ui(m.kind, m.template, *m.params, icon=m.icon)


# -- controls ------------------------------------------------------------------------------------------
def controls_ui(s: TrainingSession, snap: session.Snapshot) -> None:
    """Start/Pause and Reset, the step counter with its Step button, and the run's vital signs."""
    running = _controls_shape(snap) == "pause"
    c0, c1, c2, c3, c4 = st.columns([1.3, 1.3, 1, 1, 1], vertical_alignment="top")
    with c0:
        play_button(s, snap)
        reset_button(s)
    with c1.container(key="step"):
        st.metric(_("Step"), f"{snap.step:,}")
        step_once_button(s, running)
    with c1:
        d, g = st.columns(2)
        with d:
            step_d_button(s, running)
        with g:
            step_g_button(s, running)
    vitals_ui(snap, (c2, c3, c4))
    notices_ui(s, snap)


def viewer_controls_ui(s: TrainingSession, snap: session.Snapshot) -> None:
    """A viewer's controls: the owner's, disabled, in one row. They change only when the owner starts
    or pauses the run, so the page's whole runs draw them, not each refresh (live_panel_ui reruns the
    page when _controls_shape changes): a viewer's refresh redraws only what moves."""
    running = _controls_shape(snap) == "pause"
    with st.container(horizontal=True, key="viewer_controls"):
        play_button(s, snap)
        reset_button(s)
        step_once_button(s, running)
        step_d_button(s, running)
        step_g_button(s, running)


def _controls_shape(snap: session.Snapshot) -> str:
    """What the controls show: Pause (training, or waiting for its turn), Resume, or Start. Turns
    rotate between running and waiting every few seconds under load without changing it."""
    return "pause" if snap.state in (RUNNING, WAITING) else "resume" if snap.state == PAUSED else "start"


def viewer_vitals_ui(s: TrainingSession, snap: session.Snapshot) -> None:
    """A viewer's live numbers, at each refresh: the step counter (in `step`, as on the owner's page)
    and the run's vital signs, in one row."""
    with st.container(horizontal=True, key="vitals"):
        with st.container(key="step"):
            st.metric(_("Step"), f"{snap.step:,}")
        vitals_ui(snap, (st, st, st))
    notices_ui(s, snap)


def play_button(s: TrainingSession, snap: session.Snapshot) -> None:
    shape = _controls_shape(snap)
    if shape == "pause":
        st.button(_("Pause"), key="pause", icon=":material/pause:", on_click=_command, args=("controls", s.pause),
                  width="stretch", disabled=_viewing())
    else:
        st.button(_("Resume") if shape == "resume" else _("Start"), key="start", type="primary",
                  icon=":material/play_arrow:", on_click=_start, args=(s,), width="stretch", disabled=_viewing())


def reset_button(s: TrainingSession) -> None:
    st.button(_("Reset"), key="reset", icon=":material/restart_alt:", on_click=_reset, args=(s,),
              width="stretch", help=_("a new model, with the model settings in the sidebar"), disabled=_viewing())


def step_once_button(s: TrainingSession, running: bool) -> None:
    st.button(_("Step once"), key="step_once", icon=":material/skip_next:", disabled=running or _viewing(),
              on_click=_command, args=("controls", s.step_once), help=_("one D update, then one G update"))


def step_d_button(s: TrainingSession, running: bool) -> None:
    st.button(_("Step D"), key="step_d", disabled=running or _viewing(), on_click=_command, args=("controls", s.step_d),
              width="stretch", help=_("one D update only: G, and so the grid, stay as they are"))


def step_g_button(s: TrainingSession, running: bool) -> None:
    st.button(_("Step G"), key="step_g", disabled=running or _viewing(), on_click=_command, args=("controls", s.step_g),
              width="stretch", help=_("one G update only: D stays as it is"))


def vitals_ui(snap: session.Snapshot, places: tuple) -> None:
    """Steps/s, training time and state, one metric in each of `places`."""
    c2, c3, c4 = places
    c2.metric(_("Steps / s"), f"{snap.steps_per_s:,.0f}" if snap.state == RUNNING else "–")
    c3.metric(_("Training time"), _("{seconds:,.1f} s").format(seconds=snap.elapsed))
    c4.metric(_("State"), _(STATE_NAMES.get(snap.state, snap.state)))


def notices_ui(s: TrainingSession, snap: session.Snapshot) -> None:
    # notices come and go inside one container, so the live panel keeps the same shape every run
    with st.container(key="notices"):
        if snap.state == WAITING:
            queue_ui(snap)
            others_ui(s)
        if snap.message:
            message_ui("error" if snap.state == "failed" else "warning", "{}", snap.message)
        refusal_ui("controls")


def queue_ui(snap: session.Snapshot) -> None:
    """Where a waiting visitor stands, and about when their turn comes (the scheduler's estimate)."""
    if snap.queue_eta_s is None:   # between two turns, for a moment
        text = _("All trainers on this server are busy. You are number {position} in the queue; training "
                 "starts by itself when a trainer frees up.").format(position=snap.queue_position)
    else:
        text = _("All trainers on this server are busy. You are number {position} in the queue; your turn "
                 "comes in about {wait}, and training starts by itself.").format(
                     position=snap.queue_position, wait=_wait(snap.queue_eta_s))
    message_ui("info", text, icon=":material/hourglass_top:")


def _wait(seconds: float) -> str:
    # a rough figure: the estimate assumes every turn ahead runs its full length
    if seconds < 90:
        return _("{seconds:.0f} s").format(seconds=max(5, 5 * round(seconds / 5)))
    return _n("{n} minute", "{n} minutes", round(seconds / 60)).format(n=round(seconds / 60))


def replica_ui() -> None:
    """Which replica serves this page, when several run behind a load balancer (GAN_STUDIO_REPLICA)."""
    name = session.replica()
    if name:
        with st.container(key="replica"):
            st.caption(_("Server {name}").format(name=name))


FIRST_STEP_WAIT_S = 0.5


def _start(s: TrainingSession) -> None:
    """Start, and draw the page once the first step is taken (at most FIRST_STEP_WAIT_S later): the
    page otherwise shows step 0 until its next timed refresh, a second on."""
    before = s.snapshot().step
    _command("controls", s.start)
    s.wait_for_step(before, FIRST_STEP_WAIT_S)


def _apply_live(s: TrainingSession, name: str) -> None:
    _command("settings", s.apply, **{name: st.session_state[name]})
    _changed()


def _changed() -> None:
    st.session_state["_changed"] = True


@st.fragment
def sidebar_ui(s: TrainingSession | None) -> None:
    """The settings, as a fragment: moving a slider reruns this panel alone, and the live panel shows
    the change at its next refresh, without a full rerun of the page under its timer. While nothing
    trains there is no refresh to wait for, so a change reruns the page; a refused one is said here.
    Without a session (the page is loading), the link's settings, shown disabled."""
    if s is None:
        settings, spec, _problems = query.decode(st.query_params.to_dict())
    else:
        snap = s.snapshot()
        settings, spec = snap.settings, snap.spec
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
    if st.session_state.pop("_changed", False) and _refresh_every(snap.state) is None:
        st.rerun()


def _with(options: list, *values) -> list:
    return sorted({*options, *values})


def _short(v: float) -> str:
    """1.5e-3, 1e-5: a learning rate in as few characters as it needs."""
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def live_settings_ui(s: TrainingSession | None, current: LiveSettings) -> None:
    st.subheader(_("Live settings"), help=_("Applied between two steps; training goes on."))
    viewing = _viewing()
    for key, value in dataclasses.asdict(current).items():
        if viewing:
            st.session_state[key] = value      # a viewer's sidebar shows the run's settings
        else:
            st.session_state.setdefault(key, value)
    kw = lambda name: dict(key=name, on_change=_apply_live, args=(s, name), disabled=viewing or s is None)  # noqa: E731
    # a value from a link or a checkpoint joins the options, so any valid setting can be shown
    lr_options = _with(LR_OPTIONS, current.lr_g, current.lr_d, st.session_state.lr_g, st.session_state.lr_d)
    st.select_slider(_("Learning rate of G"), lr_options, format_func=_short, **kw("lr_g"))
    st.select_slider(_("Learning rate of D"), lr_options, format_func=_short, **kw("lr_d"))
    st.slider(_("Adam β1"), *_range("beta1"), step=0.01, **kw("beta1"), help=_("momentum; 0.5 calms the game"))
    st.select_slider(_("Batch size"), _with(BATCH_OPTIONS, current.batch_size, st.session_state.batch_size),
                     **kw("batch_size"))
    st.slider(_("D steps per G step"), *_range("d_steps"), **kw("d_steps"))
    st.slider(_("G steps per round"), *_range("g_steps"), **kw("g_steps"),
              help=_("G updates after D's in each step"))
    st.selectbox(_("Loss"), _range("loss"), format_func=_named(LOSS_NAMES), **kw("loss"))
    st.slider(_("Label smoothing (real target 1 − s)"), *_range("label_smoothing"), step=0.05,
              **kw("label_smoothing"), help=_("one-sided; BCE only"))
    refusal_ui("settings")


def _range(name: str, cls=LiveSettings) -> tuple:
    # a widget's range or options, as config validates them
    return config.limits(cls, name)


def _named(names: dict[str, str], default: str | None = None):
    """A format_func naming options in this run's language. Bound now: AppTest calls a format_func
    outside the script's run, where the visitor's language cannot be read."""
    gettext_ = _translation().gettext
    marked = _("{name} (default)")

    def name(key: str) -> str:
        text = gettext_(names[key])
        return marked.format(name=text) if key == default else text
    return name


def model_settings_ui(s: TrainingSession | None, spec: ModelSpec) -> None:
    st.subheader(_("Model"), help=_("These need a new model: they take effect on Reset."))
    viewing = _viewing()
    for name in MODEL_FIELDS:
        if viewing:
            st.session_state[f"model_{name}"] = getattr(spec, name)
        else:
            st.session_state.setdefault(f"model_{name}", getattr(spec, name))
    off = viewing or s is None    # a viewer's, or loading
    st.selectbox(_("Architecture"), _range("arch", ModelSpec), format_func=_named(ARCH_NAMES, config.DEFAULT_ARCH),
                 key="model_arch", disabled=off)
    st.select_slider(_("Latent size"), [2, 8, 16, 32, 64, 100, 128, 256], key="model_latent_dim", disabled=off)
    st.number_input(_("Seed"), *_range("seed", ModelSpec), step=1, key="model_seed", disabled=off)
    own = ["own"] if spec.data == "own" else []     # offered while the model trains on uploaded images
    st.selectbox(_("Data"), [*_range("data", ModelSpec), *own], key="model_data", format_func=_named(DATA_NAMES),
                 disabled=off)
    st.toggle(_("Conditional (G and D see the digit)"), key="model_conditional", disabled=off)
    if _pending_spec(spec) != spec:
        message_ui("warning", _("Model settings changed: **Reset** starts over with a new model. "
                                "Until then the current model keeps training."), icon=":material/restart_alt:")


def _pending_spec(spec: ModelSpec) -> ModelSpec:
    values = {n: st.session_state.get(f"model_{n}", getattr(spec, n)) for n in MODEL_FIELDS}
    return dataclasses.replace(spec, **values)


def _reset(s: TrainingSession) -> None:
    spec = _pending_spec(s.snapshot().spec)
    _command("controls", lambda: s.reset(config.validate(ModelSpec, **dataclasses.asdict(spec))))


# -- main: the live panel ----------------------------------------------------------------------------
def _figures(snap: session.Snapshot) -> dict:
    """The figures of this snapshot, built once per (run, version, language, smoothing) and shared by
    every page showing the run: the owner's and all its viewers'."""
    lang, smoothing = st.session_state.get("lang", i18n.DEFAULT), st.session_state.get("smoothing", 10)
    return runs.figures.get((snap.run_id, snap.version, lang, smoothing), lambda: _build_figures(snap, smoothing))


def _build_figures(snap: session.Snapshot, smoothing: int) -> dict:
    h, m, last = snap.history, snap.markers, snap.quality[-1] if snap.quality else None
    specs = {
        "curves": charts.stacked(charts.losses(h, m, smoothing), charts.d_outputs(h, m, smoothing)),
        # charts shown one under another are one element each (charts.stacked): a refresh sends fewer
        "game": charts.stacked(charts.output_histograms(snap.game[-1] if snap.game else None),
                               charts.output_heatmap(snap.game, "fake"), charts.output_heatmap(snap.game, "real")),
        "backprop": charts.stacked(charts.grad_norms(h, "G", m), charts.grad_norms(h, "D", m),
                                   charts.update_ratios(snap.updates)),
        "digit_histogram": charts.digit_histogram(last), "frechet": charts.frechet(snap.quality),
        "quality_shares": charts.quality_shares(snap.quality),
    }
    gettext_ = _translation().gettext
    figures = {name: charts.arrow_spec(spec, gettext_) for name, spec in specs.items()}
    figures["grid"] = None if snap.grid is None else render.data_uri(render.mosaic_png(snap.grid))
    figures["findings"] = diagnosis.diagnose(h, snap.quality)
    figures["collapse"] = diagnosis.mode_collapse(h, snap.quality)
    return figures


def grid_ui(s: TrainingSession, snap: session.Snapshot, figures: dict) -> None:
    st.markdown(_("**Fixed noise, step {step:,}**  ·  the same 64 latent vectors every frame").format(
        step=snap.grid_step))
    show = st.toggle(_("D's advice, pixel by pixel"), key="advice_show",
                     help=_("beside the grid: where G's next step adds or removes ink, and what D looks at"))
    grid_place, advice_place = st.columns(2) if show else (st, None)
    with grid_place.container(key="samples"):
        if figures["grid"] is not None:
            _img(figures["grid"], _("generated digits at step {step}").format(step=snap.grid_step))
    if show:
        with advice_place.container(key="advice"):
            advice_ui(s, snap)


def advice_ui(s: TrainingSession, snap: session.Snapshot) -> None:
    """The gradients of the losses with respect to the images, drawn over them (advice.py). Computed
    on the worker once per published version of the run, for the owner and every viewer together."""
    try:   # shared like the other figures: a run's viewers cost its worker one computation per version
        drawn = runs.figures.get(("advice", snap.run_id, snap.version), s.advice_pngs)
    except REFUSALS as e:
        message_ui("error", "{}", _said(e), icon=":material/error:")
        return
    (grid_png, grid_full), (real_png, real_full) = drawn["grid"], drawn["real"]
    _img(render.data_uri(grid_png), _("D's advice to G at step {step}").format(step=drawn["step"]))
    st.caption(_("**D's advice to G**: −∂L_G/∂x on the live G's images of the same noise (the grid shows their "
                 "running average). <span style='color:#ff961e'>Orange</span>: G's next step adds ink there; "
                 "<span style='color:#2896ff'>blue</span>: it removes ink. Full colour at |∂L_G/∂x| ≥ {full:.2g}, "
                 "the {pct}th percentile of this frame.").format(full=grid_full, pct=advice.PERCENTILE),
               unsafe_allow_html=True)
    _img(render.data_uri(real_png), _("what D looks at on real digits"))
    st.caption(_("**What D looks at**: −∂L_D/∂x on {n} real digits. Orange: more ink there would lower D's "
                 "loss (the digit would look more real to D); blue: less ink. Full colour at |∂L_D/∂x| ≥ "
                 "{full:.2g}.").format(n=advice.REAL_N, full=real_full))


def curves_ui(figures: dict) -> None:
    _chart(figures["curves"])    # the losses above D's outputs, as one element


def in_effect_ui(snap: session.Snapshot) -> None:
    s = snap.settings
    st.caption(_(
        "In effect: lr G **{lr_g}** · lr D **{lr_d}** · β1 **{beta1:g}** · batch **{batch_size}** · "
        "D steps **{d_steps}** · G steps **{g_steps}** · loss **{loss}** · smoothing **{label_smoothing:g}**  —  model **{arch}**, "
        "z **{latent_dim}**, seed **{seed}**{conditional} · data: {data}").format(
            lr_g=_short(s.lr_g), lr_d=_short(s.lr_d), beta1=s.beta1, batch_size=s.batch_size, d_steps=s.d_steps, g_steps=s.g_steps,
            loss=s.loss, label_smoothing=s.label_smoothing, arch=snap.spec.arch, latent_dim=snap.spec.latent_dim,
            seed=snap.spec.seed, conditional=_(", conditional") if snap.spec.conditional else "",
            data=_t(snap.data_name)))


def diagnosis_ui(snap: session.Snapshot, figures: dict) -> None:
    """The diagnosis rules' findings in plain words; one container, so the panel keeps its shape."""
    findings = figures["findings"]
    with st.container(key="findings"):
        for f in findings:
            message_ui(f.severity, _("**{finding}**  \nTry: {advice}").format(
                finding=_t(f.message), advice=_t(f.advice)), icon=":material/stethoscope:")
        if not findings and len(snap.history.get("step", [])) >= diagnosis.MIN_POINTS:
            st.caption(":material/stethoscope: " + _("Diagnosis: nothing wrong spotted in the recent steps."))


def _chart(spec: dict, where=st) -> None:
    """A Vega-Lite chart from _figures (translated, its rows already Arrow bytes)."""
    where.vega_lite_chart(spec, width="stretch")


def _img(uri: str, alt: str, width: str = "100%", max_width: int = 460) -> None:
    # an inline data URI: st.image's media URLs showed blank frames during live updates
    st.html(f'<img src="{uri}" alt="{alt}" style="width:{width};max-width:{max_width}px;'
            'image-rendering:pixelated;border-radius:6px">')


def _refresh_every(state: str) -> float | None:
    # live while training or queued. One interval for both: turns rotate every few seconds under
    # load, and a page that reran itself at each turn to change its timer met a Streamlit race
    # (a full run's unsent deltas dropped by the next timed run) that blanked and broke the page
    # a viewer's page always polls: only the run's owner can start it again
    return LIVE_EVERY_S if state in (RUNNING, WAITING) or _viewing() else None


def live_ui(s: TrainingSession) -> None:
    snap = s.snapshot()
    every = _refresh_every(snap.state)
    if _viewing():  # what a viewer cannot change, drawn once per whole run of the page
        watching_ui(snap)
        viewer_controls_ui(s, snap)
        st.session_state["_drawn_controls"] = _controls_shape(snap)

    @st.fragment(run_every=every)
    def live_panel():
        with _language():
            live_panel_ui(s, every)

    live_panel()


def live_panel_ui(s: TrainingSession, every: float | None) -> None:
    """The live panel's content, drawn at each refresh."""
    if "_forked" in st.session_state and not _viewing():
        step = st.session_state.pop("_forked")
        st.toast(_("Forked at step {step:,}: this copy is yours to steer.").format(step=step),
                 icon=":material/fork_right:")
        st.rerun()  # a viewer forked: the whole page becomes their own session's
    snap = s.snapshot()
    if _refresh_every(snap.state) != every:
        st.rerun()  # started, paused, queued or stopped by itself: rerun the page to reset the timer
    if _viewing():
        if _controls_shape(snap) != st.session_state.get("_drawn_controls"):
            st.rerun()  # the owner started or paused the run: the page redraws the viewer's controls
        viewer_vitals_ui(s, snap)
    else:
        controls_ui(s, snap)
        watch_ui(snap)
    figures = _figures(snap)
    left, right = st.columns([5, 6], gap="large")
    with left:
        grid_ui(s, snap, figures)
    with right:
        curves_ui(figures)
    with st.container(key="in_effect"):
        in_effect_ui(snap)
    diagnosis_ui(snap, figures)
    # one timer for the whole live page: several timed fragments raced under load and the
    # browser dropped its connection
    game, quality, history, latent = insight_tabs()
    with game:
        if game.open is not False:
            game_ui(s, snap, figures)
    with quality:
        if quality.open is not False:
            quality_ui(s, snap, figures)
    with history:
        if history.open is not False:
            history_ui(s, snap)
    with latent:
        if latent.open is not False:
            latent_ui(s, snap)


def insight_tabs() -> list:
    """The four tabs under the curves. A viewer's page draws only the open one each refresh (a tab
    switch reruns the live panel): most of a refresh's work otherwise goes to tabs nobody looks at.
    The owner's page draws all four, so each tab shows at once when chosen; a tab's `.open` is None
    there, and every tab is drawn."""
    names = [_("Game & gradients"), _("Quality"), _("History"), _("Latent space")]
    if _viewing():
        return st.tabs(names, key="insight_tab", on_change="rerun")
    return st.tabs(names)


# -- the game and backprop -----------------------------------------------------------------------------
def _last(history: dict[str, list[float]], key: str) -> str:
    # a value for a formula; a dash before the first step
    return f"{history[key][-1]:.3f}" if history.get(key) else r"\text{--}"


def _with_formulas(text: str, *formulas: str, notes: tuple[str, ...] = ()) -> None:
    """A line of text, display formulas under it and caption-like notes under those, as one element
    (st.latex and st.caption write the same Markdown, an element each: every element costs each
    page's refresh its own trip to the browser)."""
    st.markdown("\n\n".join([text, *(f"$$\n{f}\n$$" for f in formulas), *map(_small, notes)]))


def _small(text: str) -> str:
    """Markdown that reads as a caption inside a larger element."""
    assert "]" not in text, "a ] would end the directive early"
    return f":small[:gray[{text}]]"


def formulas_ui(snap: session.Snapshot) -> None:
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


def _slow_step(s: TrainingSession) -> None:
    def run():
        r = s.slow_step()
        pictures = {k: render.data_uri(v) if isinstance(v, bytes) else v for k, v in slow_motion.pictures(r).items()}
        st.session_state["_slow"] = (r, pictures)
    _command("slow_motion", run)


def _values(values: list[float]) -> str:
    return " · ".join(f"{v:.2f}" for v in values)


def _norms_text(norms: dict[str, float]) -> str:
    return "  \n".join(f"`{name}` {v:.3g}" for name, v in norms.items())


def slow_motion_ui(s: TrainingSession, snap: session.Snapshot) -> None:
    """One real step on a batch of 8, read top to bottom: forward, loss, backward, update."""
    st.markdown(_("**One step in slow motion**: forward, loss, backward, update, on one batch of {n}").format(
        n=slow_motion.BATCH))
    st.button(_("Take one step in slow motion"), key="slow_step", icon=":material/slow_motion_video:",
              disabled=snap.state in (RUNNING, WAITING) or _viewing(), on_click=_slow_step, args=(s,),
              help=_("a real step of the run (pause first), on {n} images, shown stage by stage").format(
                  n=slow_motion.BATCH))
    refusal_ui("slow_motion")
    if _viewing():
        return      # the run's steps are its owner's to take; the button says the section is there
    if "_slow" not in st.session_state:
        st.caption(_("Press the button: the run takes one real step, D's update and then G's, on {n} real "
                     "digits and {n} of G's, and each stage of backprop is shown here.").format(n=slow_motion.BATCH))
        return
    r, pic = st.session_state["_slow"]
    st.caption(_("Step {step:,} · loss **{loss}** · D(·) is sigmoid(D's logit), one value per image, left to "
                 "right. G's update reuses the same z (a normal step draws a fresh one), so the same images "
                 "go through both updates.").format(step=r.step, loss=r.loss))
    strip = lambda name, alt: _img(pic[name], alt, max_width=520)  # noqa: E731
    full = _("Full colour at |∂L/∂x| ≥ {full:.2g}; orange: the step adds ink, blue: removes it.")

    st.markdown("##### " + _("1 · Forward"))
    c1, c2 = st.columns(2, gap="large")
    with c1:
        st.markdown(_("**D's update.** Real digits x, and G(z) (no graph into G)"))
        strip("real", _("real batch"))
        st.caption("D(x) = {values}".format(values=_values(r.d_real_before)))
        strip("fake", _("generated batch"))
        st.caption("D(G(z)) = {values}".format(values=_values(r.d_fake_before)))
    with c2:
        st.markdown(_("**G's update.** The same G(z), judged by D after its update"))
        strip("fake", _("generated batch"))
        st.caption("D(G(z)) = {values}".format(values=_values(r.d_fake_g_before)))

    st.markdown("##### " + _("2 · Loss"))
    c1, c2 = st.columns(2, gap="large")
    terms = {"real": _("on real digits"), "fake": _("on G's digits"), "penalty": _("gradient penalty")}
    c1.markdown("L_D = **{loss:.4f}**".format(loss=r.loss_d) + "  \n" + "  \n".join(
        f"{terms[k]}: {v:.4f}" for k, v in r.terms_d.items()))
    c2.markdown("L_G = **{loss:.4f}**".format(loss=r.loss_g) + "  \n" + _(
        "low when D(G(z)) is near 1: G wants D fooled"))

    st.markdown("##### " + _("3 · Backward"))
    c1, c2 = st.columns(2, gap="large")
    with c1:
        st.markdown(_("**‖∂L_D/∂θ‖ per layer of D**") + "  \n" + _norms_text(r.grad_norms_d))
        strip("pixel_real", _("dL_D/dx on the real batch"))
        st.caption(_("−∂L_D/∂x on the real digits. ") + full.format(full=pic["pixel_real_scale"]))
        strip("pixel_fake_d", _("dL_D/dx on the generated batch"))
        st.caption(_("−∂L_D/∂x on G's digits: backprop stops here, G is not updated by L_D. ")
                   + full.format(full=pic["pixel_fake_d_scale"]))
    with c2:
        st.markdown(_("**‖∂L_G/∂θ‖ per layer of G**") + "  \n" + _norms_text(r.grad_norms_g))
        strip("pixel_fake_g", _("dL_G/dG(z) on the generated batch"))
        st.caption(_("−∂L_G/∂G(z): the way G's update moves its images, through G's weights. ")
                   + full.format(full=pic["pixel_fake_g_scale"]))

    st.markdown("##### " + _("4 · Update"))
    st.caption(_("{n} images give a noisy gradient, and one Adam step on it can move D's outputs on these very "
                 "images far; a normal step averages over the batch size ({batch}).").format(
                     n=len(r.d_real_before), batch=snap.settings.batch_size))
    c1, c2 = st.columns(2, gap="large")
    with c1:
        st.markdown(_("**Adam steps D's weights.** The same images, D's outputs before → after"))
        st.caption("D(x): {before} → {after}".format(before=_values(r.d_real_before), after=_values(r.d_real_after)))
        st.caption("D(G(z)): {before} → {after}".format(before=_values(r.d_fake_before),
                                                            after=_values(r.d_fake_after)))
    with c2:
        st.markdown(_("**Adam steps G's weights.** The same z: G's images before, then after"))
        strip("fake", _("generated batch before"))
        strip("fake_after", _("generated batch after"))
        st.caption("D(G(z)): {before} → {after}".format(before=_values(r.d_fake_g_before),
                                                            after=_values(r.d_fake_g_after)))


def game_ui(s: TrainingSession, snap: session.Snapshot, figures: dict) -> None:
    formulas_ui(snap)
    with st.container(key="slow_motion"):
        slow_motion_ui(s, snap)
    st.caption(_("About once a second the worker shows D a batch of {n} real and {n} generated digits and "
                 "counts its answers in {bins} bins.").format(n=probe.GAME_BATCH, bins=probe.HIST_BINS))
    _chart(figures["game"])         # the latest histograms, then D's outputs over time: one element
    st.markdown("\n\n".join([
        _("**Backprop made visible**: how large each layer's gradient is, and how far a step moves it"),
        _small(_("Every {n} steps the weights are copied before the step and compared after it. A healthy ratio is "
                 "around 1e-3 (a step moves a layer by a thousandth of its size); much higher means the learning "
                 "rate is too large, much lower that the layer barely learns.").format(
                     n=session.limits().update_every_steps))]))
    _chart(figures["backprop"])     # G's gradients, D's, and the update ratios: one element


# -- quality -------------------------------------------------------------------------------------------
def quality_ui(s: TrainingSession, snap: session.Snapshot, figures: dict) -> None:
    last = snap.quality[-1] if snap.quality else None
    lim = session.limits()
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
        refusal_ui("quality")
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
    _chart(figures["digit_histogram"], q1)
    _chart(figures["frechet"], q2)
    _chart(figures["quality_shares"])
    st.button(_("Measure now"), key="measure", icon=":material/straighten:", on_click=_command,
              args=("quality", s.measure), help=_("also while paused; takes about half a second"),
              disabled=_viewing())


# -- history -------------------------------------------------------------------------------------------
def history_ui(s: TrainingSession, snap: session.Snapshot) -> None:
    frames = s.frames()
    c1, c2 = st.columns([5, 6], gap="large")
    with c2:
        # a position in the run, not a step: the frames' steps change as the history thins
        pos = st.slider(_("Scrub back through the run"), 0, 100, 100, format="%d%%", key="scrub")
        st.caption(_n("{n} frame of the fixed-noise grid is kept, spread evenly over the run "
                      "(at most 60: older ones are thinned as training goes on).",
                      "{n} frames of the fixed-noise grid are kept, spread evenly over the run "
                      "(at most 60: older ones are thinned as training goes on).", len(frames)).format(n=len(frames)))
        st.download_button(_("Timelapse (GIF)"), lambda: s.timelapse_gif(), _("timelapse.gif"), "image/gif",
                           key="timelapse", icon=":material/movie:")
    with c1:
        step, mosaic = frames[round(pos / 100 * (len(frames) - 1))]
        st.markdown(_("**Fixed noise at step {step:,}**").format(step=step))
        uri = runs.figures.get((snap.run_id, snap.version, "frame", pos),
                               lambda: render.data_uri(render.mosaic_png(mosaic)))
        _img(uri, _("grid at step {step}").format(step=step))


# -- latent sampling ---------------------------------------------------------------------------------
def _redrawn(snap: session.Snapshot, draw, *args, **kwargs):
    """draw(*args), a drawing of G made on the worker, kept until its arguments change, G takes a
    step while paused, or G trains REDRAW_EVERY_S more seconds: the live panel refreshes every
    second, and the latent tab need not cost the trainer three drawings each time (~20 ms)."""
    when = int(snap.elapsed // REDRAW_EVERY_S) if snap.state == RUNNING else snap.step
    # shared by every page of the run: viewers asking for the same drawing cost the trainer one
    key = (snap.run_id, draw.__name__, args, tuple(sorted(kwargs.items())), snap.spec, when)
    try:
        return runs.figures.get(key, lambda: draw(*args, **kwargs))
    except REFUSALS as e:
        message_ui("error", "{}", _said(e), icon=":material/error:")     # said where the drawing would be
        return None


def latent_ui(s: TrainingSession, snap: session.Snapshot) -> None:
    # a viewer's drawings are the defaults', shared by every viewer of the run: drawing is the run's
    # worker's time, so only its owner chooses what G draws
    off = _viewing()
    c1, c2 = st.columns([2, 3], gap="large")
    with c1:
        dist = st.radio(_("Distribution"), DISTRIBUTIONS, horizontal=True, key="lat_dist",
                        format_func=_named(DISTRIBUTION_NAMES), disabled=off)
        temperature = st.slider(_("Temperature"), *_range("temperature", SamplingSettings), 1.0, 0.05,
                                key="temperature", help=_("scales z; low = typical digits, high = wild ones"),
                                disabled=off)
        truncation = st.slider(_("Truncation (0 = off)"), *_range("truncation", SamplingSettings), 0.0, 0.1,
                               key="truncation", help=_("entries of z beyond this are redrawn"), disabled=off)
        seed = st.number_input(_("Seed"), *_range("seed", SamplingSettings), 0, key="lat_seed", disabled=off)
        n = st.select_slider(_("Samples"), [16, 36, 64, 100], 36, key="lat_n", disabled=off)
    with c2:
        png = _redrawn(snap, s.sample_png, SamplingSettings(dist, temperature, truncation, "resample", int(seed), n))
        if png:
            with st.container(key="latent_samples"):
                _img(render.data_uri(png), _("samples"), max_width=420)
    st.markdown(_("**Interpolation** between two seeds"))
    d1, d2, d3, d4 = st.columns([1, 1, 1, 4])
    a = d1.number_input(_("From seed"), *_range("seed", SamplingSettings), 1, key="interp_a", disabled=off)
    b = d2.number_input(_("To seed"), *_range("seed", SamplingSettings), 2, key="interp_b", disabled=off)
    digit = d3.selectbox(_("Digit"), range(10), key="interp_digit", disabled=off or not snap.spec.conditional,
                         help=_("a conditional G keeps drawing this digit while z moves"))
    t = d4.slider(_("Position"), 0.0, 1.0, 0.5, 0.05, key="interp_t", disabled=off)
    result = _redrawn(snap, s.interpolation_png, int(a), int(b), t, digit=digit)
    if result:
        strip, one = result
        e1, e2 = st.columns([1, 6])
        with e1:
            _img(render.data_uri(one), _("the image at {t:.2f}").format(t=t), width="84px")
        with e2:
            _img(render.data_uri(strip), _("seed {a} to seed {b}").format(a=a, b=b), max_width=900)
    conditional_ui(s, snap, SamplingSettings(dist, temperature, truncation, "resample", int(seed)))


def conditional_ui(s: TrainingSession, snap: session.Snapshot, sampling: SamplingSettings) -> None:
    """A conditional G draws any digit asked for (the label goes in next to z)."""
    st.markdown(_("**Ask for a digit**"))
    with st.container(key="conditional"):
        if not snap.spec.conditional:
            st.caption(_("This model is not conditional. Turn on **Conditional** in the sidebar's Model "
                         "section and press Reset: G and D then see the digit, and you can ask G for any one."))
            return
        digit = st.radio(_("Digit"), list(range(10)), horizontal=True, key="cond_digit", disabled=_viewing())
        png = _redrawn(snap, s.sample_digit_png, digit, 16, sampling)
        if png:
            _img(render.data_uri(png), _("digit {digit} from G").format(digit=digit), max_width=420)


@st.fragment
def walk_ui(s: TrainingSession) -> None:
    """The fixed grid animated along a path in z on the live G; drawn when asked, not on a timer."""
    st.markdown(_("**Latent walk**: the fixed noise moves through z, and G draws every point of the path"))
    c1, c2, c3 = st.columns([3, 1, 2], vertical_alignment="bottom")
    mode = c1.radio(_("Path"), WALKS, horizontal=True, key="walk_mode", format_func=_named(WALK_NAMES))
    seed = c2.number_input(_("Walk seed"), *_range("seed", SamplingSettings), 0, key="walk_seed")
    refused = None
    if c3.button(_("Animate on the current G"), key="walk_go", icon=":material/animation:", disabled=_viewing()):
        try:
            gif = s.latent_walk_gif(mode, int(seed))
            st.session_state["_walk"] = (render.data_uri(gif, "image/gif"), s.snapshot().step, mode)
        except REFUSALS as e:
            refused = _said(e)
    with st.container(key="walk"):
        if refused:
            message_ui("error", "{}", refused, icon=":material/error:")
        if "_walk" in st.session_state:
            uri, step, shown = st.session_state["_walk"]
            _img(uri, _("latent walk"), max_width=420)
            st.caption(_("G at step {step:,}, {path}; press Animate again to see the G of now.").format(
                step=step, path=_(WALK_NAMES[shown])))


# -- guided experiments ----------------------------------------------------------------------------------
@st.fragment
def lesson_ui(s: TrainingSession) -> None:
    """The lesson's stops, each with one-click presets that set the studio up (reset, then start)."""
    st.markdown("#### " + _("Guided experiments"))
    with st.container(key="lesson"):
        titles = {stop.key: _(stop.title) for stop in lessons.STOPS}
        key = st.radio(_("Stop"), list(titles), format_func=titles.get, key="lesson_stop", horizontal=True)
        stop = next(x for x in lessons.STOPS if x.key == key)
        st.markdown(_(stop.text))
        for name in stop.presets:
            preset_ui(s, lessons.PRESETS[name])
        refusal_ui("lesson")
    if st.session_state.pop("_preset_started", False):
        st.rerun()   # the whole page: the live panel's timer starts with the training


def preset_ui(s: TrainingSession, p: lessons.Preset) -> None:
    c1, c2 = st.columns([1, 3], vertical_alignment="top")
    c1.button(_(p.title), key=f"preset_{p.key}", icon=":material/science:", width="stretch",
              help=_("resets the studio to this setup and starts training"), on_click=_start_preset, args=(s, p))
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


def _start_preset(s: TrainingSession, p: lessons.Preset) -> None:
    # a callback: it runs before the sidebar's widgets are drawn, so they can take the preset's values
    def setup():
        spec, settings = p.configs()   # validated by config, as any visitor's settings
        s.reset(spec, settings, judge_every_s=p.judge_every_s)
        s.start()
    _command("lesson", setup)
    _sync_widgets(s.snapshot())
    st.session_state["_preset_started"] = True


# -- restoration and augmentation ----------------------------------------------------------------------------
@st.cache_resource
def _held_out() -> tuple:
    # the 1,000 digits the judge never trained on (uint8 (1000, 28, 28)) and their labels; read-only
    digits = data.load("bundled")[0]
    _, test_idx = data.held_out_split(digits)
    return digits.images[test_idx], digits.labels[test_idx]


@st.fragment
def restore_ui(s: TrainingSession) -> None:
    """Hide part of a real digit and find the z whose image matches the rest: gradient descent on z."""
    st.markdown(_("**Restoration**: hide part of a digit; backprop then finds the latent vector z whose image "
                  "best matches the visible pixels. G is frozen: only z learns."))
    c1, c2 = st.columns([2, 3], gap="large")
    images, labels = _held_out()
    with c1:
        n = st.number_input(_("Held-out digit (0 to {last})").format(last=len(images) - 1), 0, len(images) - 1, 0,
                            key="restore_index", help=_("one of the 1,000 digits the judge never trained on (the GAN trains on all 5,000)"))
        up = st.file_uploader(_("…or your own 28x28 image"), type=["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif",
                                                                   "tiff", "pgm"], key="restore_upload")
        kind = st.radio(_("Hide"), restore.MASKS, horizontal=True, format_func=_named(MASK_NAMES), key="restore_mask")
        amount = st.slider(_("How much (share hidden, or the noise's spread)"), 0.1, 0.9, restore.DEFAULT_HIDDEN, 0.05,
                           key="restore_amount")
        go = st.button(_("Restore"), key="restore_go", icon=":material/healing:", type="primary",
                       help=_("{steps} gradient steps on z from {restarts} starts; about a second").format(
                           steps=RESTORE_STEPS, restarts=RESTORE_RESTARTS),
                       disabled=_viewing())   # it runs on the run's worker: a viewer's would slow the run
    with c2, st.container(key="restore"):
        image = images[int(n)]                                  # (28, 28) uint8
        if up is not None:
            try:
                image = restore_source(up)
            except DataError as e:
                message_ui("error", _("This image cannot be used: {}"), _said(e), icon=":material/error:")
                return
        if go:
            try:
                st.session_state["_restore"] = (s.look(restore.demo, image, kind, amount, RESTORE_STEPS,
                                                       RESTORE_RESTARTS), s.snapshot().step)
            except REFUSALS as e:
                message_ui("error", "{}", _said(e), icon=":material/error:")
        if "_restore" in st.session_state:
            restore_result_ui(*st.session_state["_restore"])
        else:
            st.caption(_("Press Restore. A GAN trained for a minute or more fills the gap with strokes a digit "
                         "has; an untrained one, with noise."))


def restore_source(up):
    """An uploaded image, read once by data.decode_image (bounded; 28x28 only): (28, 28) uint8."""
    if st.session_state.get("_restore_up_id") != up.file_id:
        st.session_state["_restore_up"] = data.decode_image(up.name, up.getvalue())   # DataError
        st.session_state["_restore_up_id"] = up.file_id
    return st.session_state["_restore_up"]


def restore_result_ui(d: restore.Demo, step: int) -> None:
    names = {"original": _("original"), "damaged": _("what G sees"), "restored": _("restored")}
    for col, (which, img) in zip(st.columns(3), d.panels()):
        digit, conf = d.reads[which]
        with col:
            _img(render.data_uri(render.png(img, scale=4)), names[which], max_width=140)
            st.caption(_("{name}: the judge reads {digit} ({confidence:.0%})").format(
                name=names[which], digit=digit, confidence=conf))
    steps, strip = d.strip()
    st.markdown(_("**The search, step by step** (steps {steps})").format(steps=", ".join(map(str, steps))))
    _img(render.data_uri(render.png(strip, nrow=len(steps), scale=3)), _("restoration steps"), max_width=700)
    st.caption(_("G at training step {step:,}. Error on the visible pixels: {start:.4f} at the first step, "
                 "{end:.4f} at the last.").format(step=step, start=d.result.loss[0], end=d.result.loss[-1]))


@st.fragment
def augment_ui(s: TrainingSession) -> None:
    """Does adding G's digits help a classifier that saw few real ones? Run on a background thread."""
    st.markdown(_("**Data augmentation**: a small classifier learns from {k} real digits of each class, once "
                  "alone and once with {n} digits of each class from G added; both are scored on 1,000 held-out "
                  "digits, over {seeds} seeds.").format(k=augment.K, n=augment.GENERATED, seeds=augment.SEEDS))
    c1, c2 = st.columns([1, 4])
    if c1.button(_("Run the experiment"), key="augment_go", icon=":material/science:",
                 help=_("takes a few seconds; training goes on meanwhile"), disabled=_viewing()):
        try:
            fake, labels = s.look(augment.sampler())
            st.session_state["_augment"] = (augment.start(fake, labels), s.snapshot().step)
        except REFUSALS as e:
            st.session_state["_augment"] = e
    with st.container(key="augment"):
        job = st.session_state.get("_augment")
        if isinstance(job, Exception):
            message_ui("error", "{}", _said(job), icon=":material/error:")
        elif job is not None and not job[0].done():
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


# -- exports and imports -------------------------------------------------------------------------------
def files_ui(s: TrainingSession) -> None:
    @st.fragment  # no timer: downloads are built when clicked
    def panel():
        downloads_ui(s)
        st.divider()
        own_data_ui(s)

    panel()


def downloads_ui(s: TrainingSession) -> None:
    snap = s.snapshot()
    c1, c2, c3 = st.columns(3)
    if snap.grid is not None:
        c1.download_button(_("Grid (PNG)"), lambda: render.mosaic_png(snap.grid, scale=4),   # built when clicked
                           _("grid_step{step}.png").format(step=snap.step), "image/png", icon=":material/image:",
                           width="stretch")
    c2.download_button(_("Checkpoint"), lambda: s.checkpoint_bytes(), _("gan_step{step}.pt").format(step=snap.step),
                       "application/octet-stream", icon=":material/save:", width="stretch")
    c3.download_button(_("Metrics (CSV)"), lambda: s.metrics_csv(), _("metrics_step{step}.csv").format(step=snap.step),
                       "text/csv", icon=":material/table:", width="stretch")
    up = st.file_uploader(_("Continue from a checkpoint (.pt)"), type=["pt"], key="ckpt_upload",
                          help=_("validated before use; files with code in them are refused"), disabled=_viewing())
    if up is None:
        return
    if st.session_state.get("_loaded") != up.file_id:
        st.session_state["_loaded"] = up.file_id
        try:
            s.load_checkpoint(up.getvalue())
        except REFUSALS as e:
            # said here, beside the file, while it stays chosen
            st.session_state["_refused"] = _said(e)
        else:
            st.session_state.pop("_refused", None)
            _sync_widgets(s.snapshot())
            st.toast(_("Loaded a checkpoint at step {step:,}").format(step=s.snapshot().step), icon=":material/check:")
            st.rerun()
    if st.session_state.get("_refused"):
        message_ui("error", _("This checkpoint cannot be used: {}"), st.session_state["_refused"],
                   icon=":material/error:")


def own_data_ui(s: TrainingSession) -> None:
    """A zip of 28x28 grayscale images, validated by data.load_images; trained on after confirmation."""
    up = st.file_uploader(_("Train on your own images: a .zip of 28x28 grayscale images (at least {n})").format(
        n=data.MIN_IMAGES), type=["zip"], key="data_upload", disabled=_viewing())
    with st.container(key="own_data"):
        if up is None:
            return
        if st.session_state.get("_upload_id") != up.file_id:
            st.session_state["_upload_id"] = up.file_id
            try:
                st.session_state["_upload"] = data.load_images(up.getvalue())
            except DataError as e:
                st.session_state["_upload"] = e
        digits = st.session_state["_upload"]
        if isinstance(digits, DataError):
            message_ui("error", _("These images cannot be used: {}"), _said(digits), icon=":material/error:")
            return
        st.markdown(_("**{n:,} images** in the zip; the first ones:").format(n=len(digits)))
        _img(render.data_uri(render.preview_png(digits.images)), _("uploaded images"), max_width=900)
        if st.button(_("Reset and train on these {n:,} images").format(n=len(digits)), key="use_upload",
                     type="primary", icon=":material/restart_alt:",
                     help=_("a new model; the current one and its history are dropped")):
            try:
                s.reset_onto(digits)
            except REFUSALS as e:
                message_ui("error", "{}", _said(e), icon=":material/error:")
                return
            _sync_widgets(s.snapshot())
            st.toast(_("Training data: your images. Press Start."), icon=":material/check:")
            st.rerun()


def _sync_widgets(snap: session.Snapshot) -> None:
    for key, value in dataclasses.asdict(snap.settings).items():
        st.session_state[key] = value
    for name in MODEL_FIELDS:
        st.session_state[f"model_{name}"] = getattr(snap.spec, name)


# -- while the page loads ----------------------------------------------------------------------------
LOADING_POLL_S = 0.25


def _start_when_ready() -> None:
    st.session_state["_start_when_ready"] = True


def loading_ui() -> None:
    """The live panel's place while torch, the data and the first model load (gan_core/preload.py):
    the same controls row, disabled but for Start, which is remembered and starts training as soon as
    the model is there, and a dark square where the grid comes. It asks the loader a few times a
    second and draws the whole page once it is done."""
    @st.fragment(run_every=LOADING_POLL_S)
    def loading_panel():
        if preload.loader.ready():
            st.rerun()
        pressed = st.session_state.get("_start_when_ready", False)
        c0, c1, c2, c3, c4 = st.columns([1.3, 1.3, 1, 1, 1], vertical_alignment="top")   # as in controls_ui
        with c0:
            st.button(_("Start"), key="start", type="primary", icon=":material/play_arrow:", on_click=_start_when_ready,
                      width="stretch")
            st.button(_("Reset"), key="reset", icon=":material/restart_alt:", disabled=True, width="stretch",
                      help=_("a new model, with the model settings in the sidebar"))
        with c1.container(key="step"):
            st.metric(_("Step"), "0")
            st.button(_("Step once"), key="step_once", icon=":material/skip_next:", disabled=True,
                      help=_("one D update, then one G update"))
        d, g = c1.columns(2)   # the rest of the rows the loaded page has above the grid, disabled
        d.button(_("Step D"), disabled=True, width="stretch")
        g.button(_("Step G"), disabled=True, width="stretch")
        c2.metric(_("Steps / s"), "–")
        c3.metric(_("Training time"), _("{seconds:,.1f} s").format(seconds=0.0))
        c4.metric(_("State"), _("Starting") if pressed else _("Loading"))
        st.caption(":material/share: " + _("Watch link, live and read-only for whoever opens it: {link}").format(
            link="…"))   # the run's link comes with the run; the line holds its place
        left, _right = st.columns([5, 6], gap="large")
        with left:
            st.markdown(_("**Fixed noise, step {step:,}**  ·  the same 64 latent vectors every frame").format(step=0))
            st.toggle(_("D's advice, pixel by pixel"), disabled=True)
            loading = _("Loading PyTorch, the digits and the model…")   # outside the f-string: extractable by Babel
            with st.container(key="samples"):
                st.html('<div role="status" style="width:100%;max-width:460px;aspect-ratio:1;border-radius:6px;'
                        'background:#000;color:#ccc;display:flex;align-items:center;justify-content:center;'
                        f'text-align:center;padding:2em">{loading}</div>')

    loading_panel()


# -- page ----------------------------------------------------------------------------------------------
def main() -> None:
    if "lang" not in st.session_state:
        st.session_state.lang = _first_language()
    st.set_page_config(page_title=_("GAN Studio"), page_icon=":material/draw:", layout="wide")
    if preload.loader.problem:
        message_ui("error", preload.loader.problem)   # what to install, instead of a traceback from the imports
        return
    s, link_problems = None, []
    if LOADED:
        _configure_server()
        s, link_problems = get_session()
    with st.sidebar:
        language_ui()
        sidebar_ui(s)
        if s is not None:   # session.replica() needs the loaded modules
            replica_ui()
    st.markdown("### " + _("Watch a GAN learn to draw digits"))
    st.caption(_("G turns random noise z into images; D learns to tell them from real handwritten digits. "
                 "Each step: one backprop update of D on a real and a generated batch, then one of G, "
                 "which learns from D's gradients how to look more real."))
    if s is None:
        return loading_ui()
    if not _viewing():
        watch_notice_ui()
    if link_problems:
        message_ui("error", _("Some settings in the link were not used: {problems}").format(
            problems=_("; ").join(["{}"] * len(link_problems))), *link_problems, icon=":material/error:")
    live_ui(s)
    st.divider()
    walk_ui(s)       # outside the timer: its GIF is large and drawn only when asked
    st.divider()
    lesson_ui(s)
    st.divider()
    st.markdown("#### " + _("Uses of a trained G, by backprop"))
    restore_ui(s)
    augment_ui(s)
    st.divider()
    st.markdown("#### " + _("Files"))
    files_ui(s)


# -- the modules that import torch ---------------------------------------------------------------------
# Brought in once gan_core/preload.py has loaded them in the background (the first visit starts it):
# an import here before then would wait for it, and the page would show nothing for seconds.
LOADED = preload.start().ready() and not preload.loader.problem
if LOADED:
    from gan_core import advice, augment, data, diagnosis, lessons, metrics, probe, render, restore, session, slow_motion
    from gan_core.checkpoint import CheckpointError
    from gan_core.data import DataError
    from gan_core.sampling import DISTRIBUTIONS, WALKS, SamplingSettings
    from gan_core.session import PAUSED, RUNNING, WAITING, TrainingSession

    REFUSALS = (ConfigError, CheckpointError, DataError, RuntimeError)   # a command said no; nothing is lost

if __name__ == "__main__":
    main()
