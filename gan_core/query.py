"""Settings in a URL query string, so that a link opens the same setup.

A query string is visitor input: every value is parsed and validated on its own, and anything wrong
is reported and left at its default. A link can name only the known data sets, never a path. The
problems quote what the link said; whoever shows them treats that as text, not markup.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from . import config, i18n, runs
from .config import ConfigError, LiveSettings, ModelSpec
from .i18n import msg

MAX_VALUE_LEN = 64
LANGUAGE = "lang"    # the page's language in a link: lang=zh; not a setting of the run
WATCH = "watch"      # a run to watch: watch=<run id>; not a setting either
REPLICA = "replica"  # the server holding that run, for a load balancer; the page ignores it


def _parse(text: str, kind: str) -> Any:
    if kind == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        return text  # validation names it
    if kind in ("float", "int"):
        try:
            return float(text) if kind == "float" or not text.lstrip("-").isdigit() else int(text)
        except ValueError:
            return text
    return text


def _decode(cls, params: Mapping[str, str], problems: list[str]):
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in params:
            continue
        text = str(params[f.name])
        if len(text) > MAX_VALUE_LEN:   # no setting is this long: refused whole, never read cut short
            problems.append(msg("ignored {name}=({n:,} characters): at most {limit} fit a setting", name=f.name,
                                n=len(text), limit=MAX_VALUE_LEN))
            continue
        try:
            value = _parse(text, str(f.type))
            if cls is ModelSpec and f.name == "data" and value not in config.DATA_SOURCES:
                raise ConfigError(msg("data must be one of {options} in a link", options=", ".join(config.DATA_SOURCES)))
            config.validate(cls, **{f.name: value})
            values[f.name] = value
        except ConfigError as e:
            problems.append(msg("ignored {name}={text!r}: {reason}", name=f.name, text=text, reason=e))
    return config.validate(cls, **values)


def decode(params: Mapping[str, str]) -> tuple[LiveSettings, ModelSpec, list[str]]:
    """(live settings, model spec, problems) from a query string's parameters; unknown keys are ignored."""
    problems: list[str] = []
    live = _decode(LiveSettings, params, problems)
    spec = _decode(ModelSpec, params, problems)
    return live, spec, problems


def encode(live: LiveSettings, spec: ModelSpec, lang: str = i18n.DEFAULT) -> dict[str, str]:
    """The settings that differ from the defaults, and the page's language, as query parameters."""
    out = {LANGUAGE: lang} if lang != i18n.DEFAULT else {}
    for obj, default in ((live, LiveSettings()), (spec, ModelSpec())):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value != getattr(default, f.name) and not (f.name == "data" and value not in config.DATA_SOURCES):
                out[f.name] = str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)
    return out


def language(params: Mapping[str, str]) -> str | None:
    """The language a link asks for (lang=zh, or a tag such as zh-CN), or None: the visitor's own then."""
    return i18n.language_of(str(params.get(LANGUAGE, ""))[:MAX_VALUE_LEN])


def watch_id(params: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(the run id a link asks to watch, or None; a problem with it, or None). An id is checked for
    length and characters before anything looks it up."""
    text = str(params.get(WATCH, ""))
    if not text:
        return None, None
    if len(text) != runs.ID_LEN or not set(text) <= runs.ID_CHARS:
        shown = text if len(text) <= MAX_VALUE_LEN else f"({len(text):,} characters)"
        return None, msg("ignored {name}={text!r}: not a run's id", name=WATCH, text=shown)
    return text, None


def watch_link(base_url: str, run_id: str, replica: str | None = None) -> str:
    """The link that opens run_id for watching; it names the replica holding it, when there are several."""
    return f"{base_url.split('?')[0]}?{WATCH}={run_id}" + (f"&{REPLICA}={replica}" if replica else "")
