"""The visitor's clock: how soon the page is there, how soon Start takes a step, how fast it trains
while the page is open, and how legible the grid is 10, 20 and 30 s after Start.

    python benchmarks/visitor.py [--runs 3] [--at 10,20,30] [--alone-s 8]
    python benchmarks/visitor.py --quick          # one short run, no lock: keeps the script working

Each run starts a fresh server (`streamlit run app.py`, tests/harness.Studio) and drives Debian's
headless Chromium at 1400x1000 like a visitor:
  first paint      page.goto() until the Start button is drawn: the first visitor of the fresh server,
                   then a second visitor once the first page is complete; the same two for the
                   smallest Streamlit page (benchmarks/one_button.py, one Start button) on a server of
                   its own, in the same browser, and the studio's against it (ratio)
  page complete    the first visitor's goto() until the fixed-noise grid is drawn (the model is in)
  start to step    the click on Start until the step counter shows a step
  steps/s          the page's own "Steps / s" read every second from 5 s on; and the counter's
                   steps over the same span; then `python -m gan_core train --seconds ALONE_S` on its
                   default threads (every CPU), as a learner runs it, for the ratio.
                   The browser shares the machine's CPUs with the server: its CPU over that span is
                   printed (Chromium's processes, from /proc), and the same page is then driven by a
                   websocket client that speaks Streamlit's protocol but draws nothing
                   (benchmarks/viewers.py's Page) on a fresh server: the page's steps/s without a
                   browser beside it, and its ratio to the CLI's
  legible, digits  the grid's 64 images, as the page shows them at each --at second after Start, read
                   by the project's judge: the share read with confidence over metrics.CONFIDENT, and
                   how many of the ten digits those cover
Prints one line per figure: the median over the runs, then each run's value. Timing-sensitive, so it
holds /tmp/bench.lock (flock) while it runs and prints the load before and after; the CPUs are shared.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import io
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from gan_core import judge, metrics  # noqa: E402
from harness import Studio, launch  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from viewers import Page, until  # noqa: E402

LOCK = "/tmp/bench.lock"
START = ".st-key-start button"
GRID = ".st-key-samples img"
# the step counter once it shows a step: its text is "Step\n1,234" (the English page)
FIRST_STEP_JS = "() => /Step\\s+[1-9]/.test(document.querySelector('.st-key-step')?.innerText || '')"


def tiles(png_uri: str, n: int = 64, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """The grid's images (n, 28, 28) uint8, cut from its data URI (render.grid_array's layout)."""
    blob = base64.b64decode(png_uri.split(",", 1)[1])
    mosaic = np.asarray(Image.open(io.BytesIO(blob)).convert("L"))
    cells = [mosaic[pad + r * (28 + pad): pad + r * (28 + pad) + 28, pad + c * (28 + pad): pad + c * (28 + pad) + 28]
             for r, c in (divmod(i, nrow) for i in range(n))]
    return np.stack(cells)


def judged(png_uri: str) -> tuple[float, int]:
    """(share of the grid read with confidence, how many digits the confident ones cover)."""
    probs = judge.predict(tiles(png_uri))                       # (64, 10)
    confident = probs.max(dim=1).values > metrics.CONFIDENT
    return confident.double().mean().item(), len(set(probs.argmax(dim=1)[confident].tolist()))


def metric(page, label: str) -> str:
    text = page.inner_text(".stMain")
    found = re.search(rf"{re.escape(label)}\s+([\d,.–]+)", text)
    return found.group(1) if found else ""


def number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def browser_ticks() -> int:
    """CPU ticks of every Chromium process on the machine: the benchmark's own browser."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "chrom" in text[text.find("(") + 1:text.rfind(")")]:
            fields = text.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total


def one_button_paints(browser) -> tuple[float, float]:
    """First paint of the one-button page: its fresh server's first visitor, then a second visitor."""
    paints = []
    with Studio(log_name="one_button.log", script="benchmarks/one_button.py") as server:
        for _ in range(2):
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
            page = context.new_page()
            t0 = time.monotonic()
            page.goto(server.url)
            page.wait_for_selector(START, timeout=60_000)
            paints.append(time.monotonic() - t0)
            context.close()
    return paints[0], paints[1]


def without_browser(settle: float, seconds: float) -> float:
    """Steps/s of a fresh server's run, its page driven by a client that draws nothing (viewers.Page):
    the step counter from `settle` s after Start for `seconds`."""
    import asyncio

    async def drive(studio: Studio) -> float:
        owner = await Page(studio.url, "").open()
        await until(lambda: owner.start_id and owner.full_runs, 120, "the page did not draw Start")
        await owner.rerun(trigger=owner.start_id)
        await until(lambda: owner.step and owner.step[1] > 0, 60, "the run did not train")
        await asyncio.sleep(settle)
        (ta, sa) = owner.step
        await asyncio.sleep(seconds)
        (tb, sb) = owner.step
        await owner.close()
        return (sb - sa) / (tb - ta)

    out = {}

    def run():   # a thread of its own: playwright's sync API holds an event loop on this one
        with Studio(log_name="visitor_no_browser.log") as studio:
            out["rate"] = asyncio.run(drive(studio))
    th = threading.Thread(target=run, name="no-browser")
    th.start()
    th.join()
    return out["rate"]


def cli_alone(seconds: float) -> float:
    """Steps/s of `python -m gan_core train --seconds N` on this machine, its default threads (every CPU
    this process may use), in a process of its own as a learner runs it: its own count of training steps."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run([sys.executable, "-m", "gan_core", "train", "--out", out, "--seconds", str(seconds)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300 + seconds)
    found = re.search(r"^(\d+) steps in ([\d.]+)s", r.stderr, re.M)
    if r.returncode != 0 or not found:
        raise RuntimeError(f"the CLI did not train: {r.stderr[-500:]}")
    return int(found.group(1)) / float(found.group(2))


def one_run(p, at: list[float], alone_s: float) -> dict[str, float]:
    r: dict[str, float] = {}
    browser = launch(p)
    try:
        with Studio(log_name="visitor.log") as studio:
            first = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US").new_page()
            t0 = time.monotonic()
            first.goto(studio.url)
            first.wait_for_selector(START, timeout=120_000)
            r["first paint, fresh server (s)"] = paint = time.monotonic() - t0
            first.wait_for_selector(GRID, timeout=120_000)
            r["page complete, fresh server (s)"] = time.monotonic() - t0

            second = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
            page2 = second.new_page()
            t0 = time.monotonic()
            page2.goto(studio.url)
            page2.wait_for_selector(START, timeout=60_000)
            r["first paint, second visitor (s)"] = time.monotonic() - t0
            page2.wait_for_selector(GRID, timeout=60_000)
            r["page complete, second visitor (s)"] = time.monotonic() - t0
            second.close()                                # one visitor trains

            time.sleep(1.0)                               # the first page settles
            t0 = time.monotonic()
            first.click(START)
            first.wait_for_function(FIRST_STEP_JS, polling="raf", timeout=30_000)
            r["start to first step (s)"] = time.monotonic() - t0

            grids, shown, counted = {}, [], []
            settled = min(5.0, max(at) / 2)     # the page's rate is smoothed over about a second
            for when in sorted({*at, *np.arange(settled, max(at) + 0.01, 1.0)}):
                time.sleep(max(0.0, t0 + when - time.monotonic()))
                if when in at:
                    grids[when] = first.get_attribute(GRID, "src")
                if when == settled:
                    ticks0 = browser_ticks()
                if when >= settled:
                    shown.append(number(metric(first, "Steps / s")))
                    counted.append((time.monotonic(), number(metric(first, "Step"))))
            browser_cores = (browser_ticks() - ticks0) / os.sysconf("SC_CLK_TCK") / (counted[-1][0] - counted[0][0])
        r["the browser's CPU while it trains (cores)"] = browser_cores
        button_fresh, button_second = one_button_paints(browser)
        r["first paint, one-button page, fresh server (s)"] = button_fresh
        r["first paint, one-button page, second visitor (s)"] = button_second
        r["first paint, fresh server / one-button page's"] = paint / button_fresh
        r["first paint, second visitor / one-button page's"] = r["first paint, second visitor (s)"] / button_second
    finally:
        browser.close()
    r["steps/s shown by the page"] = statistics.median(v for v in shown if v is not None)
    (ta, sa), (tb, sb) = counted[0], counted[-1]
    r["steps/s by the step counter"] = (sb - sa) / (tb - ta)
    r["the CLI alone (steps/s)"] = cli_alone(alone_s)
    r["page / the CLI (counter)"] = r["steps/s by the step counter"] / r["the CLI alone (steps/s)"]
    r["steps/s, the page without a browser beside it"] = without_browser(settled, max(at) - settled)
    r["page without a browser / the CLI"] = (r["steps/s, the page without a browser beside it"]
                                             / r["the CLI alone (steps/s)"])
    for when, uri in grids.items():
        share, covered = judged(uri)
        r[f"legible share of the grid at {when:g} s"] = share
        r[f"digits covered at {when:g} s"] = covered
    return r


@contextlib.contextmanager
def bench_lock(take: bool):
    if not take:
        yield
        return
    with open(LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--at", default="10,20,30", help="seconds after Start at which the grid is judged")
    ap.add_argument("--alone-s", type=float, default=8.0, help="seconds of the CLI's training, per run")
    ap.add_argument("--quick", action="store_true", help="one run, grid at 4 s, no lock: a check that it works")
    a = ap.parse_args()
    runs, at, alone_s = (1, [4.0], 3.0) if a.quick else (a.runs, [float(x) for x in a.at.split(",")], a.alone_s)
    from playwright.sync_api import sync_playwright
    with bench_lock(not a.quick):
        load_before = os.getloadavg()[0]
        with sync_playwright() as p:
            results = [one_run(p, at, alone_s) for _ in range(runs)]
        load_after = os.getloadavg()[0]
    print(f"load (1-min average) before {load_before:.2f}, after {load_after:.2f}; {runs} run(s), "
          f"{os.cpu_count()} CPUs; median, then each run")
    for name in results[0]:
        values = [r[name] for r in results]
        fmt = (lambda v: f"{v:.0f}") if name.startswith("digits") else (lambda v: f"{v:.2f}")
        print(f"{name}: {fmt(statistics.median(values))}  [{', '.join(fmt(v) for v in values)}]")


if __name__ == "__main__":
    main()
