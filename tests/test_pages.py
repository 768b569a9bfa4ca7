"""The pages through AppTest: each draws, a viewer is offered the pages that make sense and steers none,
only the open insight tab is drawn (and its figures built), a choice outlives a closed tab or page,
the server's problems are said on every page, and the loading layout is the loaded panels'."""
import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from harness import seed_studio

from gan_core import runs, session

APP = "../app.py"
ROOT = Path(__file__).resolve().parents[1]
STUDIO, LESSON, USES, FILES = (f"studio/pages/{p}.py" for p in ("studio", "lesson", "uses", "files"))
TABS = ["Game & gradients", "Quality", "History", "Latent space"]
# what only each tab draws: a widget key of its own, or its formula
MARKS = {"Game & gradients": lambda at: any(r"L_D = -\mathbb{E}_x" in m.value for m in at.markdown),
         "Quality": lambda at: "measure" in keys(at, "button"),
         "History": lambda at: "scrub" in keys(at, "slider"),
         "Latent space": lambda at: "temperature" in keys(at, "slider")}


def keys(at, kind: str) -> set[str]:
    return {w.key for w in at.get(kind)}


@pytest.fixture
def app():
    return seed_studio(APP)


def watcher(run_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["watch"] = run_id
    return at.run()


def test_every_page_draws_with_the_run_s_controls_but_files(app):
    for page, own in ((LESSON, {"slow_step"}), (USES, {"walk_go", "restore_go", "augment_go"}), (FILES, set()),
                      (STUDIO, set())):
        app.switch_page(page).run()
        assert not app.exception and not app.error, page
        assert own <= keys(app, "button"), page
        assert ("start" in keys(app, "button")) == (page != FILES), page      # the live panel, on the run's pages
    app.switch_page(FILES).run()
    assert {"ckpt_upload", "data_upload"} <= keys(app, "file_uploader")


def test_only_the_open_tab_is_drawn_and_only_its_figures_are_built(app):
    app.button(key="step_once").click().run()
    for tab in TABS:
        app.session_state["insight_tab"] = tab
        app.run()
        assert not app.exception
        assert [name for name, drawn in MARKS.items() if drawn(app)] == [tab]
    s = app.session_state["session"]
    app.session_state["insight_tab"] = "History"
    app.button(key="step_once").click().run()          # a new snapshot version: its figures start empty
    snap = s.snapshot()
    built = runs.figures.get((snap.run_id, snap.version, "en", 10), lambda: None)._built
    assert {"grid", "curves", "findings"} <= set(built) and not {"game", "backprop", "frechet", "collapse"} & set(built)


def test_a_choice_outlives_a_closed_tab_and_another_page(app):
    app.session_state["insight_tab"] = "Latent space"
    app.run().slider(key="temperature").set_value(0.3).run()
    app.session_state["insight_tab"] = "Quality"
    app.run()
    assert "temperature" not in keys(app, "slider")
    app.switch_page(USES).run().switch_page(STUDIO).run()
    app.session_state["insight_tab"] = "Latent space"
    assert app.run().slider(key="temperature").value == 0.3
    assert not app.exception


def test_a_viewer_is_offered_the_run_s_pages_read_only_and_no_preset_resets_the_run(app):
    s = app.session_state["session"]
    app.button(key="step_once").click().run()
    viewer = watcher(s.run_id)
    assert not viewer.exception
    for page in (LESSON, USES):
        viewer.switch_page(page).run()
        assert not viewer.exception, page
        assert viewer.button(key="fork") and viewer.button(key="start").disabled, page
    viewer.switch_page(LESSON).run()
    viewer.radio(key="lesson_stop").set_value("wrong").run()
    presets = [b for b in viewer.button if b.key.startswith("preset_")]
    assert presets and all(b.disabled for b in presets)        # the run is its owner's to reset
    assert viewer.button(key="slow_step").disabled
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        viewer.switch_page(FILES)                              # not offered: no uploads into the owner's run
    assert s.snapshot().step == 1 and s.snapshot().spec.arch == "mlp"


def test_the_server_s_problems_are_said_once_on_every_page(monkeypatch):
    # the host's own configure (the keys are wrong, so nothing changes for the other tests), spied on
    from gan_core import host
    seen, configure = [], host.configure
    monkeypatch.setattr(host, "configure", lambda **overrides: seen.append(overrides) or configure(**overrides))
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["gan_studio"] = {"max_runing": 2, "threads": "x"}
    at.run()
    for page in (STUDIO, LESSON, USES, FILES):
        at.switch_page(page).run()
        boxes = [w.value for w in at.warning if "A setting of this server was not used" in w.value]
        assert len(boxes) == 2, page
        assert any("max_runing" in b and "max_running" in b for b in boxes), page   # the key, and the keys there are
        assert any("threads must be a number" in b for b in boxes), page
    assert seen == [{"max_runing": 2, "threads": "x"}]           # configured once for the process


def test_the_controls_know_every_state_of_a_session():
    from studio.panels import controls
    states = {session.IDLE, session.RUNNING, session.WAITING, session.PAUSED, session.FAILED, session.STOPPED}
    assert states <= set(controls.STATE_NAMES)


def test_the_loading_layout_has_the_loaded_controls_and_grid(loading):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    loading_buttons = [b.key for b in at.button]
    assert all(at.button(key=k).disabled for k in loading_buttons if k != "start")
    loading.set()
    from gan_core import preload
    assert preload.loader.ready(timeout=10)
    at.run()
    assert not at.exception
    loaded = [b.key for b in at.button]
    assert loading_buttons == loaded[:len(loading_buttons)] == ["start", "reset", "step_once", "step_d", "step_g"]


def test_pages_do_not_import_each_other_and_gan_core_imports_no_ui():
    def imported(path: Path) -> set[str]:
        tree = ast.parse(path.read_text())
        return {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
               {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    for page in (ROOT / "studio" / "pages").glob("*.py"):
        assert not {m for m in imported(page) if m.startswith("studio.pages")}, page
    for module in (ROOT / "gan_core").glob("*.py"):
        assert not {m for m in imported(module) if m.split(".")[0] in ("streamlit", "studio")}, module
    for module in [ROOT / "app.py", *(ROOT / "studio").rglob("*.py")]:
        assert len(module.read_text().splitlines()) <= (200 if module.name == "app.py" else 300), module
