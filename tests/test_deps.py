"""A missing or broken dependency reads as what to install, in one sentence, on the page and on the
command line, instead of a traceback. Each check runs in a subprocess whose PYTHONPATH shadows a
package with one that fails to import, as a missing package or a CUDA build without its libraries does."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAILURES = {
    "missing torch": ("torch", "raise ImportError(\"No module named 'torch'\")", "torch"),
    "torch without its CUDA libraries": (
        "torch", "raise ImportError('libcudnn.so.9: cannot open shared object file: No such file or directory')",
        "torch"),
    "missing pillow": ("PIL", "raise ImportError(\"No module named 'PIL'\")", "pillow"),
}


def run_shadowed(tmp_path: Path, module: str, body: str, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / module).mkdir()
    (tmp_path / module / "__init__.py").write_text(body + "\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def assert_one_sentence(text: str, package: str) -> None:
    assert text.count("\n") == 0 and text.endswith("."), text
    assert f"GAN Studio needs {package}," in text, text
    assert "-m pip install -r requirements.txt" in text and sys.executable in text, text
    assert "Traceback" not in text


@pytest.mark.parametrize("case", FAILURES)
def test_cli_says_what_to_install_and_exits_2(tmp_path, case):
    module, body, package = FAILURES[case]
    r = run_shadowed(tmp_path, module, body, "-m", "gan_core", "train", "--out", str(tmp_path / "out"), "--steps", "1")
    assert r.returncode == 2, r.stderr
    assert_one_sentence(r.stderr.rstrip("\n"), package)
    assert not (tmp_path / "out").exists()


# the page's first runs draw its layout while the packages load in the background (gan_core/preload.py):
# what it says once that is done is what counts
APP = ("import json; from streamlit.testing.v1 import AppTest; from gan_core import preload; "
       "preload.start().ready(timeout=120); at = AppTest.from_file('app.py', default_timeout=120).run(); "
       "print(json.dumps({'errors': [e.value for e in at.error], 'exceptions': [e.value for e in at.exception], "
       "'buttons': [b.key for b in at.button]}))")


@pytest.mark.slow   # a subprocess: the slow tier
@pytest.mark.untimed
@pytest.mark.parametrize("case", FAILURES)
def test_page_says_what_to_install(tmp_path, case):
    module, body, package = FAILURES[case]
    r = run_shadowed(tmp_path, module, body, "-c", APP)
    assert r.returncode == 0, r.stderr
    page = json.loads(r.stdout.splitlines()[-1])
    assert page["exceptions"] == [] and page["buttons"] == [], page   # no traceback, and nothing else drawn
    (error,) = page["errors"]
    assert_one_sentence(error, package)
