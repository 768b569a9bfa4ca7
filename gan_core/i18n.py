"""The studio's words in English and Simplified Chinese, through one gettext catalog.

English is the source language: every text is written in English in the code, marked for
extraction, and looked up at the moment a page draws it. `gan_core/locale/messages.pot` lists every
marked text; `gan_core/locale/zh_CN/LC_MESSAGES/gan_studio.po` translates them, compiled to the
`.mo` beside it (committed, so the app needs only the standard library's `gettext` at run time).

Marks that extraction finds (see babel.cfg and scripts/catalog.sh):
- `_("...")` and `_n("...", "...", n)` in app.py: translated at once, for the visitor's language;
- `N_("...")`: a constant marked here, translated where it is drawn;
- `msg("... {name} ...", name=value)`: a `Message`, for text made in gan_core (errors, the
  diagnosis, chart titles, session notices) that knows no visitor. It is a `str` holding the English
  text, so logs, the CLI and `str(error)` read English, and the page draws it with `translate()`.
"""
from __future__ import annotations

import functools
import gettext
import re
import string
from pathlib import Path
from typing import Any, Callable

DOMAIN = "gan_studio"
LOCALE_DIR = Path(__file__).with_name("locale")
# language -> its own name, shown as itself in every language
LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
_CATALOG = {"zh": "zh_CN"}   # language -> the catalog's folder under LOCALE_DIR; English needs none


def N_(text: str) -> str:
    """Mark a constant for extraction; it is translated where it is drawn."""
    return text


class Message(str):
    """A text with parameters, kept as its English template until a page translates it.

    Its value as a str is the English text, so it reads as English everywhere a str is expected."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> "Message":
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template, self.params = template, params
        return self

    def __reduce__(self):
        return _message, (self.template, self.params)

    def translate(self, gettext_: Callable[[str], str]) -> str:
        params = {k: translate(v, gettext_) if isinstance(v, (Message, BaseException)) else v
                  for k, v in self.params.items()}
        text = gettext_(self.template)
        return text.format(**params) if params else text


def _message(template: str, params: dict[str, Any]) -> Message:
    return Message(template, **params)


msg = Message   # the extraction keyword: msg("... {x} ...", x=1)


def translate(obj: Any, gettext_: Callable[[str], str]) -> str:
    """obj as text in the language of gettext_: a Message is translated, an exception by the Message
    it was raised with, a plain str is looked up as it is (unchanged if the catalog lacks it)."""
    if isinstance(obj, BaseException):
        if len(obj.args) == 1 and isinstance(obj.args[0], str):
            return translate(obj.args[0], gettext_)
        return str(obj)
    if isinstance(obj, Message):
        return obj.translate(gettext_)
    return gettext_(obj) if isinstance(obj, str) and obj else str(obj)


def translate_tree(obj: Any, gettext_: Callable[[str], str]) -> Any:
    """A copy of a plain structure (a chart spec) with every Message in it translated."""
    done: dict[int, str] = {}

    def walk(o):
        if isinstance(o, Message):
            if id(o) not in done:
                done[id(o)] = o.translate(gettext_)
            return done[id(o)]
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v) for v in o]
        return o
    return walk(obj)


@functools.cache
def translation(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of a language in LANGUAGES (English: the texts as written)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; known: {', '.join(LANGUAGES)}")
    if lang not in _CATALOG:
        return gettext.NullTranslations()
    # no fallback: a missing catalog is a broken install, not a reason to show English quietly
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[_CATALOG[lang]])


def language_of(tag: str | None) -> str | None:
    """The language of a BCP 47 tag ("zh-CN", "zh-Hans-SG", "en_US"), if the studio speaks it."""
    if not tag:
        return None
    primary = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
    if primary == "zh":
        # Traditional Chinese readers get English rather than Simplified characters they did not ask for
        return None if re.search(r"hant|-tw|-hk|-mo|_tw|_hk|_mo", tag.lower()) else "zh"
    return primary if primary in LANGUAGES else None


def preferred(locale: str | None = None, accept_language: str | None = None) -> str:
    """The visitor's language: the browser's own (navigator.language), else the first language of the
    Accept-Language header that the studio speaks, by weight; else English."""
    found = language_of(locale)
    if found:
        return found
    weighted = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):   # bounded: a header is input
        tag, _, params = part.strip().partition(";")
        q = re.search(r"q=([^;\s]*)", params)
        try:
            weight = float(q.group(1)) if q else 1.0
        except ValueError:
            weight = 0.0
        if weight > 0 and language_of(tag):
            weighted.append((-weight, i, language_of(tag)))
    return min(weighted)[2] if weighted else DEFAULT


def fields(template: str) -> set[str]:
    """The {placeholders} of a template, as str.format reads them."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
