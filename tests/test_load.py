"""A class at once. Twenty visitors' sessions driven directly (the turn policy's targets), and four
visitors in browsers on one server, each its own browser context and Streamlit session.

The cap (2 trainers) and the queue hold, turns rotate so everyone progresses, one visitor's slider
never reaches another's model, and threads and memory come back when they leave. Loopback only,
bounded in time.
"""
import sys
import time

import pytest

from harness import ARTIFACTS, ROOT, Studio, broken, launch, state_of, step_of, until, visit, watch_console

VISITORS = 4   # twice the cap: two train, two wait in line (twenty sessions: the test above)
RETAINED_PER_VISITOR_MB = 50   # what the server may keep per visitor after they left (see the end)
ENV = {"GAN_STUDIO_MAX_RUNNING": "2", "GAN_STUDIO_SLICE_S": "8", "GAN_STUDIO_LEAVE_GRACE_S": "1"}


def seen_step(page, i: int, errors: list[str]) -> int:
    """The step a visitor's page shows. With several visitors on two cores (and py-spy pausing the
    server to count trainers) one page's rerun can take seconds; one that shows no step for 15 s is
    reported with a screenshot, its text and the consoles."""
    try:
        return step_of(page, timeout=15)
    except Exception as e:
        page.screenshot(path=str(ARTIFACTS / f"load_visitor{i}.png"))
        raise AssertionError(f"visitor {i}'s page shows no step ({type(e).__name__}); state "
                             f"{page.inner_text('body', timeout=5000)[:300]!r}; console: {errors}") from None


@pytest.mark.slow
def test_a_class_of_twenty_starts_within_a_minute_without_losing_throughput_or_memory():
    # the studio's own policy on this host's limits; figures printed for the record. Throughput is
    # held to one visitor alone measured seconds before in this process (a ratio, as the machine's
    # other load drifts); memory to the process with one visitor, then without any
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import class_load
    r = class_load.real_class("studio", 20, seconds=50, alone_seconds=6)
    print(r)
    assert r["first_step_s"]["started"] == 20 and r["first_step_s"]["max"] <= 60, r["first_step_s"]
    assert r["steps_each"]["min"] > 0                                   # no one starved
    assert r["total_vs_alone"] >= 0.6, r   # the 0.9 target: benchmarks/class_load.py on a quiet host; this catches contention collapse (0.35 before the probe fix)
    assert r["mb_per_further_visitor"] <= 25, r
    assert r["after_vs_before"] <= 1.10, r


@pytest.mark.browser
def test_visitors_in_browsers_are_isolated_capped_fair_and_cleaned_up():
    from playwright.sync_api import sync_playwright
    with Studio(env=ENV, args=["--server.disconnectedSessionTTL=2"], log_name="load.log") as studio, \
            sync_playwright() as p:
        browser = launch(p)
        # two first visitors warm the process (torch and its thread pools, the judge) and leave:
        # what the server holds then is the baseline
        warm = [visit(browser, studio.url, 1300, 800) for _ in range(2)]
        for pg in warm:
            pg.click(".st-key-start button")
        assert until(lambda: all(step_of(pg) > 3 for pg in warm), timeout=60)
        for pg in warm:
            pg.context.close()
        assert until(lambda: "gan-trainer" not in studio.python_threads(), timeout=30)
        time.sleep(3)
        base_threads, base_rss = studio.threads(), studio.rss_mb()

        pages = [visit(browser, studio.url, 1300, 800) for _ in range(VISITORS)]
        errors: list[str] = []
        for i, pg in enumerate(pages):
            watch_console(pg, errors, f"visitor {i}: ")
            pg.click(".st-key-start button")

        # one visitor's learning rate stays theirs
        pages[0].focus(".st-key-lr_g input[type=range]")
        pages[0].keyboard.press("ArrowRight")
        assert until(lambda: "lr G 2e-3" in pages[0].inner_text(".st-key-in_effect"))  # 1.5e-3 -> next option

        peak_threads, peak_rss = 0, 0.0
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            # the cap, read in the server itself: pages may show a passed turn for a refresh or two
            assert not broken(errors), broken(errors)   # no page lost its element tree
            stepping = studio.trainers_stepping()
            assert stepping <= 2, stepping
            peak_threads, peak_rss = max(peak_threads, studio.threads()), max(peak_rss, studio.rss_mb())
            if all(seen_step(pg, i, errors) > 0 for i, pg in enumerate(pages)):
                break
            time.sleep(1)
        steps = [seen_step(pg, i, errors) for i, pg in enumerate(pages)]
        assert all(s > 0 for s in steps), f"not every visitor progressed: {steps}"   # turns rotate
        assert all("lr G 1.5e-3" in pg.inner_text(".st-key-in_effect") for pg in pages[1:])
        # two of four wait at any moment, but turns rotate every few seconds and a page shows its state
        # a refresh late: look until a waiting page is seen telling its visitor so
        def told_they_wait(pg) -> bool:
            return state_of(pg) == "waiting" and "in the queue" in pg.inner_text(".st-key-notices")
        assert until(lambda: any(told_they_wait(pg) for pg in pages), timeout=30), [state_of(pg) for pg in pages]

        peak_threads, peak_rss = max(peak_threads, studio.threads()), max(peak_rss, studio.rss_mb())
        trainers = studio.python_threads().count("gan-trainer")
        assert 2 <= trainers <= VISITORS, trainers                # one worker per visitor, no more
        assert not broken(errors), broken(errors)
        print("\n".join(["console errors:", *errors]))
        for pg in pages:
            pg.context.close()
        browser.close()
        # workers stop after the leave grace; sessions go after the disconnect TTL. The web server's
        # own idle pool (AnyIO worker threads) comes and goes on its own, so count trainers by name
        assert until(lambda: "gan-trainer" not in studio.python_threads(), timeout=30), studio.python_threads()
        time.sleep(3)
        after_rss = studio.rss_mb()
        print(f"\nthreads {base_threads} -> peak {peak_threads} -> {studio.threads()}; "
              f"RSS {base_rss:.0f} MB -> peak {peak_rss:.0f} MB -> {after_rss:.0f} MB")
        # against the baseline before these visitors came: a session that outlives its visitor keeps its
        # models, optimizers, histories and grids, about 60 MB each (peak - baseline over eight: 52-61 MB
        # measured here). What allocators keep may stay: 230-310 MB measured here after eight left
        # (29-39 MB each). Tolerance: 50 MB per visitor
        assert after_rss < base_rss + RETAINED_PER_VISITOR_MB * VISITORS, (base_rss, peak_rss, after_rss)
