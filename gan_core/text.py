"""Text that a visitor, a link or a file controls, made safe to show back.

Such text is data, never markup: on the page it must not become a link, an image, HTML or a
Streamlit directive, and on a terminal it must not move the cursor or reorder what follows. Both
uses go through `printable`, which makes invisible characters visible and cuts long values,
saying so; the page shows the result in a Markdown code span (`markdown_literal`).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable

from .i18n import N_

MAX_SHOWN = 300         # characters of one value: enough for a file name or a reason, short enough to read
CUT_NOTE = N_("… (cut: {n:,} characters in all)")

# control (Cc), format (Cf: bidi overrides and isolates, zero-width characters), line and paragraph
# separators (Zl, Zp) and lone surrogates (Cs): none is visible, and several reorder or hide text
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def _visible(ch: str) -> str:
    if unicodedata.category(ch) not in _HIDDEN:
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(value: object, limit: int = MAX_SHOWN, gettext_: Callable[[str], str] = str) -> str:
    """str(value) on one line: invisible characters written as escapes (\\x1b, \\u202e), and at most
    `limit` characters of it kept, with a note of the full length when cut (in the language of
    `gettext_`; English by default)."""
    text = str(value)
    shown = "".join(_visible(ch) for ch in text[:limit])
    return shown if len(text) <= limit else shown + gettext_(CUT_NOTE).format(n=len(text))


def markdown_literal(value: object, limit: int = MAX_SHOWN, gettext_: Callable[[str], str] = str) -> str:
    """printable(value) as Markdown code spans, which render as exactly that text.

    A code span is the one inline form Markdown leaves alone: no link, image, autolink, HTML,
    emphasis, math, emoji or Streamlit directive is made inside it. (Backslash escapes are not
    enough: Streamlit links bare URLs and e-mail addresses in text after the escapes are read.)
    Streamlit rewrites ":material/" in the raw Markdown, code spans included, so that colon is
    written between two spans.
    """
    first, *rest = printable(value, limit, gettext_).split(":material/")
    return ":".join([_code_span(first), *(_code_span("material/" + piece) for piece in rest)])


def _code_span(shown: str) -> str:
    if not shown:
        return ""
    # the fence is one backtick longer than the longest run inside; a space pads content that
    # starts or ends with a backtick or a space, and CommonMark takes one off each side again
    fence = "`" * (max((len(run) for run in re.findall("`+", shown)), default=0) + 1)
    pad = " " if (shown[0] in "` " or shown[-1] in "` ") and shown.strip(" ") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"
