"""Two replicas of the studio behind Debian's nginx, configured by deploy/nginx.conf, on loopback.

A browser keeps its session on one replica across reruns (training, its page live) and a reload,
and a link naming a replica (?replica=b) reaches that replica. nginx runs as a child of the test,
on a free port, with the shipped configuration's addresses pointed at the two replicas.
"""
import re
import shutil
import subprocess
import tempfile
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest

from harness import ARTIFACTS, ROOT, Studio, free_port, launch, step_of, until, visit

pytestmark = pytest.mark.browser

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_conf(shipped: str, port: int, a: int, b: int, prefix: Path) -> str:
    """deploy/nginx.conf with its listen port and its replicas' addresses replaced, its pid and logs
    in `prefix`."""
    conf = shipped.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("127.0.0.1:8501", f"127.0.0.1:{a}").replace("127.0.0.1:8502", f"127.0.0.1:{b}")
    assert conf.count(f":{a};") == conf.count(f":{b};") == 1, "the shipped file names two replicas"
    return f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n" + conf


class Nginx:
    def __init__(self, a: Studio, b: Studio):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="gan-nginx-"))
        self.dir.chmod(0o755)   # nginx's workers run as another user when the test runs as root
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(nginx_conf((ROOT / "deploy/nginx.conf").read_text(), self.port, a.port, b.port, self.dir))

    def __enter__(self) -> "Nginx":
        self.proc = subprocess.Popen([NGINX, "-c", str(self.conf), "-p", str(self.dir), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        assert until(self._healthy, timeout=10), (self.dir / "error.log").read_text()
        return self

    def _healthy(self) -> bool:
        try:
            return urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1).read() == b"ok"
        except OSError:
            return False

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.copy(self.dir / "error.log", ARTIFACTS / "nginx_error.log")
        shutil.rmtree(self.dir, ignore_errors=True)


def step_or_0(page) -> int:
    # the step while the page shows it; 0 while a rerun under load has not drawn it yet
    try:
        return step_of(page)
    except Exception:
        return 0


def replica_of(page) -> str:
    assert until(lambda: page.locator(".st-key-replica").count() > 0, timeout=15)
    return re.search(r"Server (\w+)", page.inner_text(".st-key-replica")).group(1)


def test_a_browser_stays_on_its_replica_and_a_link_reaches_the_replica_it_names():
    assert Path(NGINX).exists(), "this test needs Debian's nginx: apt-get install -y nginx"
    from playwright.sync_api import sync_playwright
    env = {"GAN_STUDIO_LEAVE_GRACE_S": "2"}
    with ExitStack() as stack:
        a = stack.enter_context(Studio(env={**env, "GAN_STUDIO_REPLICA": "a"}, log_name="replica_a.log"))
        b = stack.enter_context(Studio(env={**env, "GAN_STUDIO_REPLICA": "b"}, log_name="replica_b.log"))
        lb = stack.enter_context(Nginx(a, b))
        p = stack.enter_context(sync_playwright())
        browser = launch(p)
        # a visitor through the balancer: on one replica, and on it while training reruns the page
        page = visit(browser, lb.url, timeout=120)      # each replica's first visitor imports torch
        home = replica_of(page)
        page.click(".st-key-start button")
        assert until(lambda: step_or_0(page) > 0, timeout=60)
        first = step_or_0(page)
        assert until(lambda: step_or_0(page) > first, timeout=60)   # live reruns over nginx's websocket
        assert replica_of(page) == home
        page.screenshot(path=str(ARTIFACTS / "replica_home.png"))
        page.reload()                                              # the cookie keeps the replica
        page.wait_for_selector(".st-key-start button, .st-key-pause button", timeout=120_000)
        assert replica_of(page) == home
        # a link naming each replica reaches it, whichever this browser was sent to at first
        for name in ("b", "a"):
            other = visit(browser, f"{lb.url}/?replica={name}", timeout=120)
            assert replica_of(other) == name
            other.context.close()
        browser.close()
