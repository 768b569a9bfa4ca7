"""Watching a run together in a real browser: one owner and two viewers in Debian's chromium.

The viewers follow the owner's run (the same step, the same grid image), cannot steer it, and are
counted on the owner's page; one forks and trains on alone from the step it forked at; the owner
closing its page leaves the watched run training. Screenshots: artifacts/watch_{owner,viewer,fork}.png.
The server runs with engines on (a class's host would): the runs train in processes of their own, and
the three pages do not wait on their trainers for the GIL (this test took 104-195 s with threads, 88 s so).
"""
import re
import time

import pytest

from harness import ARTIFACTS, Studio, broken, launch, step_of, until, watch_console

pytestmark = pytest.mark.browser


def open_pages(browser, url: str, n: int = 1) -> list:
    """harness.visit, with more patience: three pages share two busy cores here. The n pages load
    side by side."""
    pages = []
    for _ in range(n):
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(90_000)
        page.goto(url)
        pages.append(page)
    for page in pages:
        page.wait_for_selector(".st-key-start button, .st-key-pause button", timeout=120_000)
    return pages


def grid_of(page) -> tuple[int, str]:
    """(the grid's step, its image's data URI), read together."""
    step = re.search(r"Fixed noise, step ([\d,]+)", page.inner_text(".stMain")).group(1)
    return int(step.replace(",", "")), page.get_attribute(".st-key-samples img", "src")


def state_is(page, state: str) -> bool:
    return re.search(rf"State\s+{state}", page.inner_text(".stMain")) is not None


def watching(page) -> int:
    return int(re.search(r"Watching\s+(\d+)", page.inner_text(".st-key-viewers")).group(1))


def test_an_owner_and_two_viewers_watch_one_run_and_one_forks_it():
    errors: list[str] = []
    from playwright.sync_api import sync_playwright
    with Studio(env={"GAN_STUDIO_LEAVE_GRACE_S": "2", "GAN_STUDIO_MAX_RUNNING": "2", "GAN_STUDIO_ENGINES": "on"},
                log_name="watch.log") as studio, sync_playwright() as p:
        browser = launch(p)
        [owner] = open_pages(browser, studio.url + "/?arch=mlp&conditional=false")   # the seed model: quick steps
        watch_console(owner, errors, "owner: ")
        owner.click(".st-key-start button")
        assert until(lambda: step_of(owner, 30) > 5, timeout=90)
        link = re.search(r"\S*\?watch=[\w-]+", owner.inner_text(".st-key-watch_link")).group(0)
        assert link.startswith(studio.url)
        viewers = open_pages(browser, link, 2)
        for i, v in enumerate(viewers):
            watch_console(v, errors, f"viewer {i}: ")
        try:
            watched_together(owner, viewers)
        except Exception:   # what each page showed, to see why
            for name, page in (("owner", owner), ("viewer", viewers[0]), ("fork", viewers[1])):
                if not page.is_closed():
                    page.screenshot(path=str(ARTIFACTS / f"watch_failed_{name}.png"), full_page=True)
            raise
        browser.close()
    assert not broken(errors), broken(errors)


def watched_together(owner, viewers) -> None:
    """The viewers follow the owner's run, one forks it, the owner leaves."""
    # they follow the run, and cannot steer it
    first = [step_of(v, 30) for v in viewers]
    assert until(lambda: all(step_of(v, 30) > f + 3 for v, f in zip(viewers, first)), timeout=90), \
        "a viewer's step did not advance"
    for v in viewers:
        assert v.is_disabled(".st-key-pause button") and v.is_disabled(".st-key-reset button")
        assert v.is_disabled(".st-key-step_once button")
        assert "shared with you" in v.inner_text(".st-key-watching")
    assert until(lambda: watching(owner) == 2, timeout=60), owner.inner_text(".st-key-viewers")

    # paused by its owner, every page shows the same step and the same grid image
    owner.click(".st-key-pause button")
    owner.wait_for_selector(".st-key-start button", timeout=60_000)
    frozen = step_of(owner, 30)
    for v in viewers:
        assert until(lambda: state_is(v, "Paused") and step_of(v, 30) == frozen, timeout=60), v.inner_text(".st-key-step")
        # its controls, drawn by the page's whole runs, follow: Resume in place of Pause, still disabled
        assert until(lambda: v.locator(".st-key-start button").count() == 1, timeout=60), "the viewer still shows Pause"
        assert v.is_disabled(".st-key-start button")
    assert grid_of(viewers[0]) == grid_of(viewers[1]) == grid_of(owner)
    assert grid_of(owner)[1].startswith("data:image/png;base64,")

    # a viewer forks: its own run, from the step it forked at
    owner.click(".st-key-start button")
    assert until(lambda: step_of(viewers[1], 30) > frozen + 3, timeout=90)
    viewers[1].click(".st-key-fork button")
    fork = viewers[1]
    fork.wait_for_selector(".st-key-watch_link", timeout=90_000)   # its own run now, with its own link
    forked_at = step_of(fork, 30)
    assert forked_at > frozen and not fork.is_disabled(".st-key-pause button")
    owner.click(".st-key-pause button")
    owner.wait_for_selector(".st-key-start button", timeout=60_000)
    paused_at = step_of(owner, 30)
    assert until(lambda: step_of(fork, 30) > max(forked_at, paused_at) + 5, timeout=90), "the fork did not train on its own"
    assert step_of(owner, 30) == paused_at
    assert until(lambda: watching(owner) == 1, timeout=60)
    assert watching(fork) == 0

    # the owner closes its page: the run it shared trains on for the one still watching
    owner.click(".st-key-start button")
    assert until(lambda: step_of(viewers[0], 30) > paused_at + 3, timeout=90)
    # the top of each page (controls, grid, curves): a whole page's picture takes seconds under load
    owner.screenshot(path=str(ARTIFACTS / "watch_owner.png"))
    viewers[0].screenshot(path=str(ARTIFACTS / "watch_viewer.png"))
    fork.screenshot(path=str(ARTIFACTS / "watch_fork.png"))
    owner.context.close()
    time.sleep(3)                                   # past the 2 s grace after the owner's page went
    at_grace = step_of(viewers[0], 30)
    assert until(lambda: step_of(viewers[0], 30) > at_grace + 5, timeout=90), "the run stopped when its owner left"
    assert state_is(viewers[0], "Running")
    for v in viewers:
        assert v.locator("[data-testid='stException']").count() == 0
