"""The page through streamlit's AppTest: widgets reach the running trainer."""
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from harness import seed_studio, rerun_until as wait_for

APP = "../app.py"
LESSON, USES, FILES = "studio/pages/lesson.py", "studio/pages/uses.py", "studio/pages/files.py"


def trainer(t):
    """For session.call: the trainer itself, read on the worker."""
    return t




@pytest.fixture
def app():
    return seed_studio(APP)


def session_of(at):
    return at.session_state["session"]


def step_shown(at) -> int:
    return int(at.metric[0].value.replace(",", ""))


def open_tab(at, name: str):
    """Open an insight tab, as a click does: the page draws that tab alone."""
    at.session_state["insight_tab"] = name
    return at.run()


def images(at, alt_prefix: str) -> list[str]:
    return [h.proto.body for h in at.get("html") if f'alt="{alt_prefix}' in h.proto.body]


def test_page_loads_with_controls_and_grid(app):
    assert {"start", "reset", "step_once"} <= {b.key for b in app.button}
    assert {"lr_g", "lr_d"} <= {s.key for s in app.select_slider}
    assert images(app, "generated digits")                 # the fixed-noise grid is drawn at step 0
    assert session_of(app).snapshot().spec.arch == "mlp"


def test_start_advances_and_pause_stops(app):
    app.button(key="start").click().run()
    assert wait_for(app, lambda: step_shown(app) > 10)
    assert "pause" in {b.key for b in app.button}
    app.button(key="pause").click().run()
    frozen = session_of(app).snapshot().step
    time.sleep(0.5)
    app.run()
    assert session_of(app).snapshot().step == frozen == step_shown(app)
    assert session_of(app).snapshot().state == "paused"


def test_step_button_takes_one_step(app):
    app.button(key="step_once").click().run()
    app.button(key="step_once").click().run()
    assert step_shown(app) == 2


def test_learning_rate_slider_reaches_the_running_optimizer(app):
    app.button(key="start").click().run()
    app.select_slider(key="lr_g").set_value(1e-3).run()
    app.select_slider(key="lr_d").set_value(5e-5).run()
    lrs = session_of(app).call(lambda t: [[g["lr"] for g in opt.param_groups] for opt in (t.opt_g, t.opt_d)])
    assert lrs == [[1e-3], [5e-5]]
    assert any("lr G **1e-3**" in c.value for c in app.caption)   # the settings shown as in effect


def test_reset_builds_a_new_model(app):
    app.button(key="step_once").click().run()
    before = session_of(app).call(trainer)
    app.selectbox(key="model_arch").set_value("mlp_wide").run()
    assert any("Reset" in w.value for w in app.warning)     # the change says it needs a reset
    assert session_of(app).call(trainer) is before               # ...and waits for it
    app.button(key="reset").click().run()
    after = session_of(app)
    assert after.call(trainer) is not before and after.snapshot().spec.arch == "mlp_wide"
    assert step_shown(app) == 0


def test_latent_sliders_redraw_the_samples(app):
    open_tab(app, "Latent space")
    first = images(app, "samples")
    app.slider(key="temperature").set_value(0.3).run()
    cooler = images(app, "samples")
    app.number_input(key="lat_seed").set_value(7).run()
    reseeded = images(app, "samples")
    assert first and cooler and reseeded
    assert first != cooler != reseeded


def test_a_link_opens_the_same_setup():
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update({"arch": "mlp", "lr_g": "0.001", "batch_size": "32", "seed": "3"})
    at.run()
    snap = session_of(at).snapshot()
    assert (snap.spec.arch, snap.spec.seed, snap.settings.lr_g, snap.settings.batch_size) == ("mlp", 3, 1e-3, 32)
    assert at.select_slider(key="lr_g").value == 1e-3      # the widgets show the link's values
    assert not at.error


def test_a_garbage_link_is_reported_and_the_page_still_works():
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update({"lr_g": "abc", "arch": "../../etc/passwd", "data": "/etc", "batch_size": "-5"})
    at.run()
    assert not at.exception
    assert at.error and "were not used" in at.error[0].value and "lr_g" in at.error[0].value
    assert session_of(at).snapshot().spec == __import__("gan_core").config.ModelSpec()
    at.button(key="step_once").click().run()
    assert session_of(at).snapshot().step == 1


# -- while torch and the first model load -------------------------------------------------------------
def test_the_page_draws_its_layout_while_loading_and_a_start_pressed_then_trains(loading):
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params.update({"arch": "mlp", "lr_g": "0.001"})
    at.run()
    assert not at.exception and not at.error
    assert "session" not in at.session_state                        # nothing built yet
    assert not at.button(key="start").disabled
    assert at.button(key="reset").disabled and at.button(key="step_once").disabled
    assert at.select_slider(key="lr_g").disabled and at.select_slider(key="lr_g").value == 1e-3   # the link's
    assert at.selectbox(key="model_arch").value == "mlp"
    assert [m.value for m in at.metric if m.label == "State"] == ["Loading"]
    at.button(key="start").click().run()
    assert not at.exception
    assert [m.value for m in at.metric if m.label == "State"] == ["Starting"]
    assert "session" not in at.session_state                        # still loading: remembered only

    loading.set()
    from gan_core import preload
    assert preload.loader.ready(timeout=10)
    at.run()                                                        # the page's next poll
    assert not at.exception and not at.error
    s = session_of(at)
    assert s.snapshot().spec.arch == "mlp" and s.snapshot().settings.lr_g == 1e-3
    assert s.snapshot().state == "running"                          # the Start pressed while loading
    assert s.snapshot().step >= 1                                   # the page was drawn after the first step
    assert wait_for(at, lambda: step_shown(at) > 5)
    assert not at.select_slider(key="lr_g").disabled


def test_the_page_loads_while_loading_takes_long_and_pressing_nothing_starts_nothing(loading):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    loading.set()
    from gan_core import preload
    assert preload.loader.ready(timeout=10)
    at.run()
    assert not at.exception
    assert session_of(at).snapshot().state == "idle" and step_shown(at) == 0


# -- insight tabs --------------------------------------------------------------------------------------
def test_insight_tabs_render_with_measurements(app):
    for _ in range(3):
        app.button(key="step_once").click().run()
    open_tab(app, "Quality").button(key="measure").click().run()
    assert not app.exception
    assert [t.label for t in app.tabs] == ["Game & gradients", "Quality", "History", "Latent space"]
    assert len(app.get("vega_lite_chart")) == 4        # 1 live (losses over D's outputs), 3 quality
    open_tab(app, "Game & gradients")
    text = " ".join(e.value for e in app.markdown)
    assert "$$\n" + r"L_D = -\mathbb{E}_x[\log D(x)]" in text and "D(x) = 0." in text   # formula and live value
    assert len(app.get("vega_lite_chart")) == 3        # 1 live, 2 game and gradients
    open_tab(app, "Quality")
    snap = session_of(app).snapshot()
    assert snap.quality and snap.game and snap.quality[-1]["step"] == 3
    assert any(m.label == "Measured at step" and m.value == "3" for m in app.metric)


def test_scrubber_goes_back_to_the_first_frame(app):
    for _ in range(3):
        app.button(key="step_once").click().run()
    open_tab(app, "History")
    assert images(app, "grid at step 3")
    app.slider(key="scrub").set_value(0).run()
    assert images(app, "grid at step 0") and not app.exception


def test_digit_selector_changes_the_drawn_digit(app):
    app.switch_page(USES).run()
    app.toggle(key="model_conditional").set_value(False).run()
    app.button(key="reset").click().run()
    assert not images(app, "digit ")                     # not conditional: a hint instead
    app.toggle(key="model_conditional").set_value(True).run()
    app.button(key="reset").click().run()
    first = images(app, "digit 0 from G")
    app.radio(key="cond_digit").set_value(7).run()
    seven = images(app, "digit 7 from G")
    assert first and seven and first != seven and not app.exception


def test_latent_walk_is_drawn_on_demand(app):
    app.switch_page(USES).run()
    assert not images(app, "latent walk")
    app.button(key="walk_go").click().run()
    [walk] = images(app, "latent walk")
    assert "data:image/gif;base64," in walk


def test_quality_tab_raises_the_collapse_alarm_of_the_diagnosis(app):
    s = session_of(app)
    report = {"n": 256, "confident_share": 0.9, "fid": 50.0, "fid_real_n": 5.0, "near_copies": 0.0,
              "diversity": 1.0, "histogram": [0.0, 0.7, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25, 0.05, 0.0]}
    alarms = lambda: [e.value for e in app.error if "Collapse alarm" in e.value]  # noqa: E731
    open_tab(app, "Quality")
    # published as the worker publishes a report (a new snapshot version, so the page redraws it)
    reports = [{**report, "histogram": [0.1] * 10}]
    s.add_probe("quality", lambda t, rng: reports[-1], every=3600)
    s.measure("quality")
    app.run()
    assert not alarms()                                   # every digit drawn: no alarm
    reports.append(report)
    s.measure("quality")
    app.run()
    [alarm] = alarms()
    assert "mostly 1" in alarm and "Try:" in alarm


def test_latent_drawings_are_redrawn_when_g_or_their_settings_change_not_on_every_rerun(app):
    import functools
    s, calls = session_of(app), []
    original = s.sample_png

    @functools.wraps(original)
    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)
    s.sample_png = counted
    open_tab(app, "Latent space")
    app.run()
    assert len(calls) == 1                      # drawn when the tab opened; paused, nothing changed: it stays
    app.button(key="step_once").click().run()
    assert len(calls) == 2                      # G took a step
    app.slider(key="temperature").set_value(0.5).run()
    assert len(calls) == 3                      # the setting changed
    assert images(app, "samples")


def test_the_page_offers_the_ranges_and_options_config_accepts(app):
    from gan_core import config
    from gan_core.config import LiveSettings, ModelSpec
    from gan_core.sampling import SamplingSettings
    open_tab(app, "Latent space")
    for key, cls, name in (("beta1", LiveSettings, "beta1"), ("d_steps", LiveSettings, "d_steps"),
                           ("label_smoothing", LiveSettings, "label_smoothing"),
                           ("temperature", SamplingSettings, "temperature"),
                           ("truncation", SamplingSettings, "truncation")):
        w = app.slider(key=key)
        assert (w.min, w.max) == config.limits(cls, name), key
    for key in ("model_seed", "lat_seed", "interp_a", "interp_b"):
        w = app.number_input(key=key)
        assert (w.min, w.max) == (0, config.SEED_MAX), key
    w = app.switch_page(USES).run().number_input(key="walk_seed")
    assert (w.min, w.max) == (0, config.SEED_MAX), "walk_seed"
    assert len(app.selectbox(key="loss").options) == len(config.limits(LiveSettings, "loss"))
    assert len(app.selectbox(key="model_arch").options) == len(config.limits(ModelSpec, "arch"))
    app.selectbox(key="loss").set_value("wgan-gp").run()        # the last option reaches the trainer
    assert session_of(app).snapshot().settings.loss == "wgan-gp" and not app.exception


# -- backprop on the digits: Step D / Step G, D's advice, the slow-motion step -----------------------------
def test_step_d_keeps_the_grid_and_step_g_changes_it(app):
    app.button(key="step_once").click().run()
    grid = images(app, "generated digits")
    app.button(key="step_d").click().run()
    assert step_shown(app) == 2 and images(app, "generated digits at step 2")
    src = lambda html: [h.split('src="')[1].split('"')[0] for h in html]  # noqa: E731
    assert src(images(app, "generated digits")) == src(grid)      # the same pixels
    app.button(key="step_g").click().run()
    assert step_shown(app) == 3
    assert src(images(app, "generated digits")) != src(grid)
    assert not app.exception


def test_advice_is_drawn_beside_the_grid_once_per_new_state(app):
    import functools
    s, calls = session_of(app), []
    original = s.advice_pngs

    @functools.wraps(original)
    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)
    s.advice_pngs = counted
    assert not images(app, "D's advice")                 # off by default
    app.toggle(key="advice_show").set_value(True).run()
    first = images(app, "D's advice to G at step 0")
    assert first and images(app, "what D looks at") and images(app, "generated digits")
    assert any("99th percentile" in c.value for c in app.caption)
    app.run()
    app.run()
    assert len(calls) == 1                                # nothing changed: no new computation
    app.button(key="step_once").click().run()
    assert len(calls) == 2 and images(app, "D's advice to G at step 1") != first
    assert not app.exception


def test_slow_step_takes_one_step_and_shows_the_four_stages(app):
    app.switch_page(LESSON).run()
    app.button(key="slow_step").click().run()
    assert step_shown(app) == 1 and not app.exception and not app.error
    text = " ".join(m.value for m in app.markdown)
    for stage in ("1 · Forward", "2 · Loss", "3 · Backward", "4 · Update"):
        assert stage in text
    r = app.session_state["_slow"][0]
    assert f"L_D = **{r.loss_d:.4f}**" in text and f"L_G = **{r.loss_g:.4f}**" in text
    for alt in ("real batch", "generated batch after", "dL_G/dG(z)"):
        assert images(app, alt)
    assert len(session_of(app).snapshot().history["step"]) == 1       # one row, like any step


def test_g_steps_reaches_the_trainer_and_the_link(app):
    from gan_core import config
    from gan_core.config import LiveSettings
    w = app.slider(key="g_steps")
    assert (w.min, w.max) == config.limits(LiveSettings, "g_steps")
    w.set_value(3).run()
    assert session_of(app).call(lambda t: t.settings.g_steps) == 3
    assert app.query_params["g_steps"] == ["3"] or app.query_params["g_steps"] == "3"
    assert any("G steps **3**" in c.value for c in app.caption)


def test_a_waiting_visitor_sees_their_place_and_when_their_turn_comes():
    from gan_core import host, session
    from gan_core.config import LiveSettings, ModelSpec
    before = host.limits()
    kept = (before.max_running, before.slice_s, before.first_slice_s)
    host.configure(max_running=1, slice_s=90, first_slice_s=60)
    other = session.TrainingSession(ModelSpec(arch="mlp"), LiveSettings(batch_size=16))
    try:
        other.start()                       # another visitor's first turn: 60 s while others wait
        at = AppTest.from_file(APP, default_timeout=30).run()
        at.button(key="start").click().run()
        assert wait_for(at, lambda: session_of(at).snapshot().state == "waiting")
        notice = " ".join(i.value for i in at.info)
        # first in line; the place frees when the other's 60 s turn ends, a few seconds from now
        assert "number 1 in the queue" in notice, notice
        assert any(f"about {s} s" in notice for s in (45, 50, 55, 60)), notice
    finally:
        other.stop()
        host.configure(max_running=kept[0], slice_s=kept[1], first_slice_s=kept[2])


def test_the_replica_is_named_only_behind_a_load_balancer(monkeypatch):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not any(c.value.startswith("Server ") for c in at.caption)
    monkeypatch.setenv("GAN_STUDIO_REPLICA", "b")
    at.run()
    assert "Server b" in [c.value for c in at.caption]


# -- watching a run ------------------------------------------------------------------------------------
def watcher(run_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["watch"] = run_id
    return at.run()


def test_the_owner_gets_a_watch_link_and_a_viewer_sees_the_run_read_only_and_can_fork(app):
    from gan_core import runs
    s = session_of(app)
    [line] = [c.value for c in app.caption if "watch=" in c.value]
    link = line.rsplit("`", 2)[1]                                   # the link is the line's code span
    assert link.endswith(f"watch={s.run_id}") and runs.find(s.run_id) is s
    app.button(key="step_once").click().run()

    viewer = watcher(s.run_id)
    assert not viewer.exception
    assert "session" not in viewer.session_state and viewer.session_state["watching"] is s  # no trainer of its own
    assert step_shown(viewer) == s.snapshot().step == 1
    assert s.snapshot().viewers == 1
    for key in ("start", "reset", "step_once"):
        assert viewer.button(key=key).disabled, key
    for key in ("lr_g", "lr_d", "batch_size"):
        assert viewer.select_slider(key=key).disabled, key
    assert viewer.slider(key="beta1").disabled and viewer.selectbox(key="model_arch").disabled
    assert any("shared with you" in i.value for i in viewer.info)
    assert not [c for c in viewer.caption if "watch=" in c.value]   # a viewer is offered no link of their own
    viewer.switch_page(USES).run()
    for key in ("start", "walk_go", "restore_go", "augment_go"):
        assert viewer.button(key=key).disabled, key
    app.run()
    assert [c.value for c in app.caption if "Watching" in c.value] == [":material/visibility: Watching 1"]

    viewer.button(key="fork").click().run()
    assert not viewer.exception
    forked = viewer.session_state["session"]
    assert forked is not s and "watching" not in viewer.session_state and s.snapshot().viewers == 0
    assert forked.snapshot().step == 1 and not viewer.button(key="step_once").disabled
    viewer.button(key="step_once").click().run()
    assert forked.snapshot().step == 2 and s.snapshot().step == 1  # the fork steps, the run does not


def keys(at, kind: str) -> set[str]:
    return {w.key for w in at.get(kind)}


def game_drawn(at) -> bool:
    """Is the "Game & gradients" tab's content on the page (its formula for D's loss)?"""
    return any(r"L_D = -\mathbb{E}_x" in m.value for m in at.markdown)


def test_a_viewer_draws_only_the_open_tab_and_cannot_steer_the_runs_drawings(app):
    s = session_of(app)
    app.button(key="step_once").click().run()
    viewer = watcher(s.run_id)
    assert not viewer.exception
    tabs = ["Game & gradients", "Quality", "History", "Latent space"]
    assert [t.label for t in viewer.tabs] == tabs
    # the first tab's content is there, the other three tabs' are not
    assert game_drawn(viewer) and "measure" not in keys(viewer, "button")
    assert not {"scrub", "temperature", "interp_t"} & keys(viewer, "slider")
    # the owner's page too
    assert game_drawn(app) and "measure" not in keys(app, "button") and not {"scrub", "temperature"} & keys(app, "slider")

    for tab, key, kind in (("Quality", "measure", "button"), ("History", "scrub", "slider"),
                           ("Latent space", "temperature", "slider")):
        open_tab(viewer, tab)
        assert not viewer.exception
        assert key in keys(viewer, kind) and not game_drawn(viewer), tab
    # the latent tab: the run's default drawings, which only its owner's page can change
    for key in ("temperature", "truncation", "interp_t"):
        assert viewer.slider(key=key).disabled, key
    for key in ("lat_seed", "interp_a", "interp_b"):
        assert viewer.number_input(key=key).disabled, key
    assert viewer.radio(key="lat_dist").disabled and viewer.select_slider(key="lat_n").disabled
    open_tab(app, "Latent space")
    assert not app.slider(key="temperature").disabled
    assert images(viewer, "samples") == images(app, "samples")


def test_an_unknown_or_malformed_watch_link_says_so_and_gives_a_studio_of_ones_own():
    for run_id, said in (("A" * 16, "No run on this server"), ("../../etc/passwd", "cannot be used")):
        at = watcher(run_id)
        assert not at.exception
        assert [w.value for w in at.warning if said in w.value], run_id
        assert "watching" not in at.session_state and not at.button(key="start").disabled
        st.cache_resource.clear()


def test_each_player_s_optimizer_is_switched_from_the_sidebar_with_its_own_settings(app):
    from gan_core import config
    app.button(key="step_once").click().run()
    assert app.slider(key="beta1") and app.slider(key="beta2")            # both on Adam: its β shown
    assert not [w for w in app.slider if w.key == "momentum"]            # ... and no momentum
    assert [o.removesuffix(" (default)") for o in app.selectbox(key="optimizer_d").options] == \
        [config.OPTIMIZER_NAMES[o] for o in config.OPTIMIZERS]
    app.selectbox(key="optimizer_d").set_value("sgd").run()
    opt_d = session_of(app).call(lambda t: type(t.opt_d).__name__)
    assert opt_d == "SGD" and not app.exception
    assert any("(Adam) · lr D" in c.value and "(SGD with momentum)" in c.value for c in app.caption)   # in effect
    app.slider(key="momentum").set_value(0.5).run()                     # SGD's setting shows, and reaches it
    assert session_of(app).call(lambda t: t.opt_d.param_groups[0]["momentum"]) == 0.5
    app.selectbox(key="optimizer_g").set_value("rmsprop").run()          # no player on Adam: no β
    assert not [w for w in app.slider if w.key in ("beta1", "beta2")]
    assert session_of(app).call(lambda t: type(t.opt_g).__name__) == "RMSprop"
    assert any("optimizer_d" in m for _, m in session_of(app).snapshot().markers)   # the curves mark it
