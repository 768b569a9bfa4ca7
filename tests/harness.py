"""Run the studio as a visitor would: `streamlit run app.py` on 127.0.0.1 and Debian's chromium.

Shared by the browser test, the load test and benchmarks/memory.py. Traffic stays on loopback.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Studio:
    """`streamlit run app.py` (or another `script` of the repository) in a child process, healthy on
    entry, terminated on exit."""

    def __init__(self, env: dict[str, str] | None = None, args: list[str] = (), log_name: str = "streamlit.log",
                 script: str = "app.py"):
        self.script = script
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.args, self.log_path = env or {}, list(args), ARTIFACTS / log_name

    def __enter__(self) -> "Studio":
        ARTIFACTS.mkdir(exist_ok=True)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", self.script, "--server.headless=true",
             "--server.address=127.0.0.1", f"--server.port={self.port}", "--browser.gatherUsageStats=false",
             *self.args],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1).read() == b"ok":
                    return self
            except OSError:
                time.sleep(0.25)
        self.__exit__()
        raise RuntimeError(f"streamlit did not become healthy; see {self.log_path}")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()

    def _status(self, field: str) -> int:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+)", text, re.M).group(1))

    def python_stacks(self) -> list[tuple[str, str]]:
        """(name, stack text) of each of the server's Python threads, read from outside by py-spy."""
        out = subprocess.run(["py-spy", "dump", "--pid", str(self.proc.pid)], capture_output=True,
                             text=True, timeout=30).stdout
        parts = re.split(r'^Thread \S+ \([^)]*\): "([^"]*)"\n', out, flags=re.M)
        return list(zip(parts[1::2], parts[2::2]))

    def python_threads(self) -> list[str]:
        """Names of the server's Python threads."""
        return [name for name, _ in self.python_stacks()]

    def trainers_stepping(self) -> int:
        """How many trainer threads are inside a training step right now."""
        return sum(name == "gan-trainer" and "_train_step" in stack for name, stack in self.python_stacks())

    def rss_mb(self) -> float:
        return self._status("VmRSS") / 1024

    def threads(self) -> int:
        return self._status("Threads")


def launch(playwright):
    assert os.path.exists(CHROMIUM), "the browser tests need Debian's chromium: apt-get install -y chromium"
    # launch() gives chromium a fresh, temporary profile of its own
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


def visit(browser, url: str, width: int = 1400, height: int = 1000, locale: str | None = None,
          timeout: float = 60.0):
    """A new visitor (its own browser context, so its own Streamlit session) on the page; `locale`
    is the browser's language (navigator.language and Accept-Language). `timeout`: seconds for the
    page's controls to appear (a server's first visitor imports torch)."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(".st-key-start button, .st-key-pause button", timeout=timeout * 1000)
    # the page draws its controls while torch and the model load (gan_core/preload.py); the grid
    # comes with the whole page
    page.wait_for_selector(".st-key-samples img", timeout=timeout * 1000)
    return page


# what the page's own script reports when its element tree and the server's disagree: the page is
# blank or frozen from then on, and it stops sending reruns
BROKEN_PAGE = re.compile(r"delta path|setIn|Cannot send rerun backMessage")


def watch_console(page, sink: list[str], tag: str = "") -> None:
    """Append the page's console errors and uncaught exceptions to sink, as they happen."""
    page.on("console", lambda m: sink.append(f"{tag}{m.text[:300]}") if m.type == "error" else None)
    page.on("pageerror", lambda e: sink.append(f"{tag}uncaught: {str(e)[:300]}"))


def broken(errors: list[str]) -> list[str]:
    return [e for e in errors if BROKEN_PAGE.search(e)]


def _shown(page, selector: str, pattern: str, timeout: float) -> str:
    """The first group of pattern in the element's text, once the page has drawn it (a container
    can arrive before what is inside it)."""
    end = time.monotonic() + timeout
    while True:
        text = page.inner_text(selector, timeout=max(end - time.monotonic(), 0.1) * 1000)
        found = re.search(pattern, text)
        if found:
            return found.group(1)
        if time.monotonic() > end:
            raise AssertionError(f"{selector} shows {text[:200]!r}, not {pattern}")
        time.sleep(0.1)


def step_of(page, timeout: float = 5.0, label: str = "Step") -> int:
    """The step counter's value; `label` is its name in the page's language."""
    return int(_shown(page, ".st-key-step", rf"{label}\s+([\d,]+)", timeout).replace(",", ""))


def state_of(page) -> str:
    return _shown(page, ".stMain", r"State\s+(\w+)", 5.0).lower()


def until(cond, timeout: float = 30.0, every: float = 0.2) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(every)
    return False


def rerun_until(at, cond, timeout: float = 30.0) -> bool:
    """AppTest's page has no live timer: run it again until cond() holds, or timeout seconds pass."""
    def ran_and_holds() -> bool:
        at.run()
        return cond()
    return until(ran_and_holds, timeout, every=0.1)


def seed_studio(app: str, timeout: float = 60):
    """The page through AppTest with the seed's MLP (fast enough for tests), reset and ready."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(app, default_timeout=timeout).run()
    assert not at.exception
    at.selectbox(key="model_arch").set_value("mlp")
    at.button(key="reset").click().run()
    return at
