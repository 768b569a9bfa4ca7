"""A real browser against `streamlit run`: Debian's chromium driven by playwright.

The page must go live with no interaction after Start, the digits must change, a slider must reach
the settings in effect, Pause must freeze the step, and no exception box may appear. It saves a
screenshot to artifacts/browser.png.
"""
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    (ROOT / "artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "artifacts" / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "GAN_STUDIO_LEAVE_GRACE_S": "2"})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.25)
        else:
            pytest.fail("streamlit did not become healthy; see artifacts/streamlit.log")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright
    assert os.path.exists(CHROMIUM), "the browser test needs Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        # launch() gives chromium a fresh, temporary profile of its own
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto(server)
        pg.wait_for_selector(".st-key-start button", timeout=60_000)
        yield pg
        browser.close()


def step_of(page) -> int:
    text = page.inner_text(".st-key-step")
    return int(re.search(r"Step\s+([\d,]+)", text).group(1).replace(",", ""))


def grid_src(page) -> str:
    return page.get_attribute(".st-key-samples img", "src")


def until(cond, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return False


def test_live_training_in_a_real_browser(page):
    assert step_of(page) == 0
    grid0 = grid_src(page)
    page.click(".st-key-start button")

    # the step advances with no interaction, and keeps advancing
    assert until(lambda: step_of(page) > 20), "the step did not advance after Start"
    first = step_of(page)
    assert until(lambda: step_of(page) > first + 20), "the step stopped advancing"
    assert until(lambda: grid_src(page) != grid0), "the digit grid did not change"

    # a slider reaches the settings in effect
    effect = page.inner_text(".st-key-in_effect")
    assert "lr G 2e-04" in effect
    page.focus(".st-key-lr_g input[type=range]")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert until(lambda: "lr G 5e-04" in page.inner_text(".st-key-in_effect")), page.inner_text(".st-key-in_effect")

    # Pause freezes the step
    page.click(".st-key-pause button")
    page.wait_for_selector(".st-key-start button", timeout=10_000)
    frozen = step_of(page)
    time.sleep(2.0)
    assert step_of(page) == frozen

    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ROOT / "artifacts" / "browser.png"), full_page=True)
