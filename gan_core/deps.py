"""Whether the packages the studio needs import in this Python, said in one sentence if not.

Imported before anything that needs torch (gan_core/__init__.py imports nothing), so a missing
package or a broken build (a CUDA torch without its libraries, say) reads as what to install
instead of a traceback, on the page and on the command line.
"""
from __future__ import annotations

import importlib
import sys

PIP_NAMES = {"PIL": "pillow"}   # import name -> the name pip installs it by, where they differ


def problem(*modules: str) -> str | None:
    """None when every module imports; else one sentence naming what failed and how to install it."""
    failed, first_reason = [], ""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:   # ImportError, or OSError/RuntimeError from a wrong build's libraries
            failed.append(PIP_NAMES.get(name, name))
            first_reason = first_reason or (str(e).splitlines() or [type(e).__name__])[0].rstrip(".")
    if not failed:
        return None
    return (f"GAN Studio needs {', '.join(failed)}, which did not import in this Python ({first_reason}): "
            f"install the pinned versions with `{sys.executable} -m pip install -r requirements.txt`.")


def exit_unless_importable(*modules: str) -> None:
    """For the command line: say what to install in one line on stderr and exit with status 2."""
    if why := problem(*modules):
        print(why, file=sys.stderr)
        raise SystemExit(2)
