import threading

import pytest
import torch

from gan_core import data


@pytest.fixture(scope="session")
def digits():
    return data.load("bundled")[0]


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    # tests run beside other work on 2 cores: one torch thread avoids oversubscription, in the test's
    # thread and in every session's worker (a run alone would take every CPU: host.fit_threads)
    from gan_core import host
    monkeypatch.setattr(host.limits(), "threads", 1)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _clean_cache(request):
    """In a module that drives the page through AppTest: every AppTest has the same session id, so
    session-scoped cache entries would leak from one test into the next."""
    if not hasattr(request.module, "AppTest"):
        yield
        return
    import streamlit as st
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def _page_loaded(request):
    """A module that drives the page through AppTest (or harness.seed_studio) sees it as a visitor does once the background
    loading (gan_core/preload.py) is done; test_app's loading tests put a loader of their own in place."""
    if hasattr(request.module, "AppTest") or hasattr(request.module, "seed_studio"):
        from gan_core import preload
        assert preload.start().ready(timeout=300), "the page's background loading did not finish"
        assert preload.loader.error is None, preload.loader.error


@pytest.fixture
def loading(monkeypatch):
    """The page before its background loading is done: a loader that finishes when the test says."""
    from gan_core import preload
    release = threading.Event()
    loader = preload.Loader(load=lambda: None if release.wait(60) else "never released", after=None)
    monkeypatch.setattr(preload, "loader", loader)
    yield release
    release.set()


@pytest.fixture(autouse=True)
def _no_worker_left():
    """Every test ends with all sessions stopped and no trainer thread alive."""
    yield
    import threading

    from gan_core import host
    host.stop_all()
    alive = [t for t in threading.enumerate() if t.name == "gan-trainer" and t.is_alive()]
    if alive:   # where each one is, so that a worker that outlives its stop says what it was doing
        import sys
        import traceback
        frames = sys._current_frames()
        where = ["".join(traceback.format_stack(frames[t.ident])) for t in alive if t.ident in frames]
        raise AssertionError(f"worker threads left alive: {[t.name for t in alive]}\n" + "\n".join(where))
