"""Server memory and threads with 0, 1 and 8 visitors, and after they leave.

    python benchmarks/memory.py [--visitors 8] [--settle 20]

Starts `streamlit run app.py` on 127.0.0.1 (cap 2 trainers, as on a small host), opens visitors as
browser contexts in Debian's chromium, presses Start in each, and prints RSS and thread counts of
the server process at each stage as JSON and as a table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from harness import Studio, launch, step_of, until, visit  # noqa: E402

ENV = {"GAN_STUDIO_MAX_RUNNING": "2", "GAN_STUDIO_LEAVE_GRACE_S": "2"}


def stage(studio: Studio, name: str) -> dict:
    names = studio.python_threads()
    return {"stage": name, "rss_mb": round(studio.rss_mb(), 1), "os_threads": studio.threads(),
            "trainer_threads": names.count("gan-trainer")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--visitors", type=int, default=8)
    p.add_argument("--settle", type=float, default=20.0, help="seconds of training before measuring")
    a = p.parse_args()
    from playwright.sync_api import sync_playwright
    rows = []
    with Studio(env=ENV, args=["--server.disconnectedSessionTTL=5"], log_name="memory.log") as studio, \
            sync_playwright() as pw:
        rows.append(stage(studio, "idle (server up, no visitor)"))
        browser = launch(pw)
        for n in (1, a.visitors):
            pages = [visit(browser, studio.url) for _ in range(n)]
            for pg in pages:
                pg.click(".st-key-start button")
            until(lambda: all(step_of(pg) > 0 for pg in pages), timeout=120)
            time.sleep(a.settle)
            rows.append(stage(studio, f"{n} visitor{'s' if n > 1 else ''} training"))
            for pg in pages:
                pg.context.close()
            until(lambda: "gan-trainer" not in studio.python_threads(), timeout=60)
            time.sleep(8)
            rows.append(stage(studio, f"after the {n} left"))
        browser.close()
    print(json.dumps(rows, indent=2))
    print()
    print(f"{'stage':34} {'RSS MB':>8} {'OS threads':>11} {'trainer threads':>16}")
    for r in rows:
        print(f"{r['stage']:34} {r['rss_mb']:8.1f} {r['os_threads']:11d} {r['trainer_threads']:16d}")


if __name__ == "__main__":
    main()
