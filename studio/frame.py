"""What every page and panel shares: the visitor's language, message boxes, refusals said where they
happened, uploads read once, the settings' widgets in step with the run, and two drawing helpers.

This module imports nothing that loads torch: the frame draws the loading layout with it while torch,
the data and the first model load in the background (gan_core/preload.py).
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import Any, Callable

import streamlit as st

from gan_core import config, i18n, preload, text
from gan_core.config import ConfigError, LiveSettings, ModelSpec

MODEL_FIELDS = config.page_fields(ModelSpec)   # the model settings the sidebar offers


def loaded() -> bool:
    """Are torch, the data and the first model there (gan_core/preload.py), with nothing missing?"""
    return preload.start().ready() and not preload.loader.problem


# -- the visitor's language ------------------------------------------------------------------------------
# the language of the run in progress, read once by a live panel's run (see language())
_current_translation: contextvars.ContextVar = contextvars.ContextVar("translation", default=None)


def _translation():
    return _current_translation.get() or i18n.translation(st.session_state.get("lang", i18n.DEFAULT))


@contextlib.contextmanager
def language():
    """The visitor's language read once for a block of drawing: a live panel's refresh says a hundred
    words, and reading st.session_state for each took about a tenth of a viewer's refresh (py-spy)."""
    token = _current_translation.set(i18n.translation(st.session_state.get("lang", i18n.DEFAULT)))
    try:
        yield
    finally:
        _current_translation.reset(token)


def _(message: str) -> str:
    """The page's own words in the visitor's language (the catalog's msgid is the English text)."""
    return _translation().gettext(message)


def _n(singular: str, plural: str, n: int) -> str:
    return _translation().ngettext(singular, plural, n)


def _t(made) -> str:
    """A text made in gan_core (an i18n.Message, or an error raised with one) in the visitor's language."""
    return i18n.translate(made, _translation().gettext)


def named(names: dict[str, str], default: str | None = None) -> Callable[[str], str]:
    """A format_func naming options in this run's language. Bound now: AppTest calls a format_func
    outside the script's run, where the visitor's language cannot be read."""
    gettext_ = _translation().gettext
    marked = _("{name} (default)")

    def name(key: str) -> str:
        shown = gettext_(names[key])
        return marked.format(name=shown) if key == default else shown
    return name


def short(v: float) -> str:
    """1.5e-3, 1e-5: a learning rate in as few characters as it needs."""
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def limits(name: str, cls=LiveSettings) -> tuple:
    """A widget's range or options, as config validates them."""
    return config.limits(cls, name)


# -- messages ----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Message:
    """Something to tell the visitor later: message_ui's arguments, kept (in English: they are
    translated when drawn, so a change of language reaches them too)."""
    kind: str                       # "error", "warning" or "info"
    template: str
    params: tuple[str, ...] = ()
    icon: str | None = None

    def ui(self) -> None:
        message_ui(self.kind, _(self.template), *self.params, icon=self.icon)


def message_ui(kind: str, template: str, *params: object, icon: str | None = None) -> None:
    """The one place the page draws a message box. `template` is the page's own Markdown, already in
    the visitor's language; each "{}" in it takes one of params, which a visitor, a link or a file may
    control: they are translated if they are texts of the catalog (an error's reason), and shown as
    literal text (a code span, invisible characters made visible, cut to a readable length)."""
    parts = template.split("{}")
    assert len(parts) == len(params) + 1, "one parameter for each {} of the template"
    gettext_ = _translation().gettext
    body = parts[0] + "".join(text.markdown_literal(_t(p), gettext_=gettext_) + rest
                              for p, rest in zip(params, parts[1:]))
    {"error": st.error, "warning": st.warning, "info": st.info}[kind](body, icon=icon)


def said(e: Exception) -> str:
    """What a refusal says, kept untranslated: an i18n.Message when gan_core raised it with one."""
    return e.args[0] if len(e.args) == 1 and isinstance(e.args[0], i18n.Message) else str(e)


# -- refusals ------------------------------------------------------------------------------------------
def _refusals() -> tuple[type[Exception], ...]:
    # what a command raises to say no (nothing is lost); imported when first needed: a command
    # exists only once the modules that import torch are loaded
    from gan_core.checkpoint import CheckpointError
    from gan_core.data import DataError
    return ConfigError, CheckpointError, DataError, RuntimeError


@contextlib.contextmanager
def refusals(place: str):
    """The one way a refused command is handled: `with refusals("controls"): s.start()`. A refusal ends
    the block and is kept for `place`, where refusal_ui(place) says it, until the next command there
    succeeds. The same in a widget's callback (run before the page is drawn) and in the drawing itself."""
    try:
        yield
    except _refusals() as e:
        st.session_state[f"_refused_{place}"] = said(e)
    else:
        st.session_state.pop(f"_refused_{place}", None)


def refused(place: str) -> bool:
    return f"_refused_{place}" in st.session_state


def refusal_ui(place: str, template: str = "{}") -> None:
    """The refusal kept for `place`, if any, said there; `template` (translated) frames the reason."""
    reason = st.session_state.get(f"_refused_{place}")
    if reason is not None:
        message_ui("error", template, reason, icon=":material/error:")


# -- uploads -------------------------------------------------------------------------------------------
def read_once(key: str, up, read: Callable[[Any], Any]) -> tuple[Any, bool]:
    """(read(up), fresh): the file chosen in uploader `key`, read once while it stays chosen (a page's
    every rerun would read it again); `fresh` on the run that read it. A refusal is kept for `key`
    (refusal_ui) and the value is None then."""
    kept = st.session_state.get(f"_read_{key}")
    if kept is not None and kept[0] == up.file_id:
        return kept[1], False
    value = None
    with refusals(key):
        value = read(up)
    st.session_state[f"_read_{key}"] = (up.file_id, value)
    return value, True


# -- widgets in step with the run --------------------------------------------------------------------
def viewing() -> bool:
    """Does this page watch someone else's run (read-only)?"""
    return "watching" in st.session_state


def shown_run():
    """The run a page shows: the one watched, else the visitor's own (the frame made both)."""
    return st.session_state["watching"] if viewing() else st.session_state["session"]


def resync() -> None:
    """The run changed under the settings' widgets (a fork, a checkpoint, a preset, own data): they take
    its values at their next drawing."""
    st.session_state["_resync"] = True


def sync_widgets(settings: LiveSettings, spec: ModelSpec) -> None:
    """The one place the settings' widgets take the run's values: at their first drawing (a link's or
    a checkpoint's values), at every drawing of a viewer's page (the owner changes them), and after
    resync(). Otherwise a widget keeps what the visitor chose (a model change waits for Reset)."""
    force = st.session_state.pop("_resync", False) or viewing()
    values = {**dataclasses.asdict(settings), **{f"model_{n}": getattr(spec, n) for n in MODEL_FIELDS}}
    for key, value in values.items():
        if force:
            st.session_state[key] = value
        else:
            st.session_state.setdefault(key, value)


def pending_spec(spec: ModelSpec) -> ModelSpec:
    """The model the sidebar's Model section describes: what Reset builds."""
    values = {n: st.session_state.get(f"model_{n}", getattr(spec, n)) for n in MODEL_FIELDS}
    return dataclasses.replace(spec, **values)


# -- drawing -------------------------------------------------------------------------------------------
def chart(spec: dict, where=st) -> None:
    """A Vega-Lite chart from the live panel's figures (translated, its rows already Arrow bytes)."""
    where.vega_lite_chart(spec, width="stretch")


def img(uri: str, alt: str, width: str = "100%", max_width: int = 460) -> None:
    # an inline data URI: st.image's media URLs showed blank frames during live updates
    st.html(f'<img src="{uri}" alt="{alt}" style="width:{width};max-width:{max_width}px;'
            'image-rendering:pixelated;border-radius:6px">')
