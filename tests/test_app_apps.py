"""The page's restoration, augmentation and guided-experiment sections through AppTest."""
import pytest
from harness import seed_studio, until

from gan_core import lessons, restore

APP = "../app.py"
LESSON, USES = "studio/pages/lesson.py", "studio/pages/uses.py"


@pytest.fixture
def app():
    return seed_studio(APP).switch_page(USES).run()


def html_with(at, alt: str) -> list[str]:
    return [h.proto.body for h in at.get("html") if f'alt="{alt}' in h.proto.body]


def test_restore_runs_on_the_worker_and_shows_the_search(app):
    assert "Press Restore" in " ".join(c.value for c in app.caption)
    app.radio(key="restore_mask").set_value("band")
    app.button(key="restore_go").click().run()
    assert not app.exception
    demo, step = app.session_state["_restore"]
    assert demo.mask[10:16].eq(0).all() and len(demo.result.loss) == restore.DEFAULTS.steps + 1
    assert html_with(app, "restored") and html_with(app, "restoration steps")
    assert any("the judge reads" in c.value for c in app.caption)


def test_a_preset_resets_and_starts_the_studio(app):
    app.switch_page(LESSON).run()
    app.radio(key="lesson_stop").set_value("wrong").run()
    assert {"preset_divergence", "preset_cure"} <= {b.key for b in app.button}
    app.button(key="preset_cure").click().run()
    assert not app.exception
    s = app.session_state["session"]
    spec, settings = lessons.PRESETS["cure"].configs()
    snap = s.snapshot()
    assert snap.spec == spec and snap.settings == settings and snap.state in ("running", "waiting")
    assert app.selectbox(key="loss").value == "wgan-gp"       # the sidebar shows the preset's settings
    assert app.button(key="pause")                            # and the run's controls, training, beside the lesson
    s.pause()


def test_augmentation_needs_a_conditional_g_and_says_so(app):
    app.toggle(key="model_conditional").set_value(False)
    app.button(key="reset").click().run()
    app.button(key="augment_go").click().run()
    assert not app.exception
    assert any("not conditional" in e.value for e in app.error)


def test_augmentation_runs_off_the_page_thread(app):
    app.button(key="augment_go").click().run()
    job, step = app.session_state["_augment"]
    assert until(job.done, timeout=240)
    app.run()
    r = job.result()
    assert len(r.without) == len(r.with_g) == 5
    assert any("Accuracy per seed" in c.value for c in app.caption)


def test_an_experiment_replaced_by_another_is_read_by_the_judge_and_shown_beside_it(app):
    app.switch_page(LESSON).run()
    app.radio(key="lesson_stop").set_value("questions").run()
    assert app.button(key="compare_now").disabled                  # no experiment's run yet
    app.button(key="preset_collapse").click().run()
    s = app.session_state["session"]
    assert until(lambda: s.snapshot().step >= 40)
    app.button(key="preset_cure").click().run()                   # the collapse's end is read as it goes
    assert not app.exception
    [(key, o)] = app.session_state["_outcomes"].items()
    assert key == "collapse" and o.step >= 40 and o.n == lessons.OUTCOME_N and o.mosaic.dtype.name == "uint8"
    assert html_with(app, "Mode collapse")                        # its grid, under its name
    assert until(lambda: s.snapshot().step >= 20)
    app.button(key="compare_now").click().run()                   # and the running cure, on asking
    assert list(app.session_state["_outcomes"]) == ["collapse", "cure"]
    assert html_with(app, "Mode collapse") and html_with(app, "The cure: WGAN-GP")
    assert sum(c.value.startswith("Step ") and "samples legible" in c.value for c in app.caption) == 2
    s.pause()
    app.button(key="reset").click().run()                          # a plain reset: no experiment to read
    assert app.button(key="compare_now").disabled
