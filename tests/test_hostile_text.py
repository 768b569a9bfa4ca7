"""Text that a link, a file or its name controls reaches the page as text, never as markup.

A table of hostile strings goes through every way in that can echo text: each setting of a link, the
checkpoint upload (its name and its content), the own-data upload (the zip's name, its members'
names, an image's metadata) and the CLI's messages. The oracle for Markdown is an independent
CommonMark renderer (markdown-it-py, GFM-like: raw HTML on, bare URLs linked): what the page sends
must render to no tag beyond the page's own and show the value literally. The browser test at the
end opens a hostile link in Chromium and reads the page as a visitor would see it.
"""
import dataclasses
import html.parser
import io
import re
import subprocess
import sys
import unicodedata
import urllib.parse
import zipfile

import numpy as np
import pytest
import torch
from markdown_it import MarkdownIt
from PIL import Image, PngImagePlugin
from streamlit.testing.v1 import AppTest

from gan_core import checkpoint, query, text
from gan_core.config import LiveSettings, ModelSpec

APP = "../app.py"

HOSTILE = {
    "link": "[Your session expired: log in again](https://example.org/login)",
    "image": "![t](https://example.org/pixel.png)",
    "raw html": '<img src="https://example.org/p.png" onerror="alert(1)"><b>bold</b>',
    "script": "<script>alert(document.cookie)</script>",
    "javascript url": "[click](javascript:alert(1)) <javascript:alert(1)>",
    "bare urls": "https://example.org/login www.example.org a@example.org <https://example.org>",
    "streamlit forms": ":red[red] :material/home: :smile: $x^2$ **bold** ~~gone~~",
    "indented": "    four spaces make a code block",
    "long": "A" * 5000,
    "control": "a\x1b[31mred\x1b[0m\rb\x07\x08\nc\td\x7f\x85",
    "bidi": "invoice\u202egnp.exe \u2066x\u2069\u200f\u2028",
    "backticks": "`x` ```fenced``` `` ` ``",
}
PAGE_TAGS = {"p", "strong", "em", "br", "h3", "h4", "code"}   # what the page's own Markdown makes
markdown = MarkdownIt("gfm-like")


class _Reader(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [v or "" for _, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


def rendered(body: str) -> _Reader:
    r = _Reader()
    r.feed(markdown.render(body))
    return r


def inert(body: str) -> str:
    """body's text as a CommonMark renderer shows it, after checking that it makes no tag the page
    does not make itself and no attribute pointing anywhere."""
    r = rendered(body)
    assert set(r.tags) <= PAGE_TAGS, (r.tags, body[:300])
    assert not r.attrs, (r.attrs, body[:300])
    return "".join(r.text)


def shown(value: str) -> str:
    """The value as the page must show it: hidden characters written out, cut at text.MAX_SHOWN."""
    return text.printable(value)


# -- the escaping itself, against hand-written expectations ------------------------------------------
def test_the_oracle_sees_markup_when_it_is_there():
    # the renderer would make links, images and raw HTML of these: escaping is what stops them
    assert "a" in rendered(HOSTILE["link"]).tags and "img" in rendered(HOSTILE["image"]).tags
    assert "script" in rendered(HOSTILE["script"]).tags and "a" in rendered("see www.example.org").tags


def test_printable_writes_hidden_characters_out_and_cuts_long_values():
    assert text.printable("a\x1b[31m\u202eb\n") == "a\\x1b[31m\\u202eb\\x0a"
    assert text.printable("\u2066\U000e0041") == "\\u2066\\U000e0041"
    assert text.printable("A" * 5000) == "A" * 300 + "… (cut: 5,000 characters in all)"
    assert text.printable("naïve 字 🙂 ok") == "naïve 字 🙂 ok"          # visible text is left alone


@pytest.mark.parametrize("name", HOSTILE)
def test_markdown_literal_renders_as_exactly_the_text(name):
    value = HOSTILE[name]
    out = inert(text.markdown_literal(value)).rstrip("\n")
    assert out == shown(value)
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in out)
    assert len(out) < 400


def test_a_code_span_fence_outgrows_the_backticks_inside():
    assert text.markdown_literal("lr_g='abc'") == "`lr_g='abc'`"
    assert text.markdown_literal("a ``b`` c") == "```a ``b`` c```"
    assert text.markdown_literal("`x") == "`` `x ``" and text.markdown_literal(" x") == "`  x `"
    assert text.markdown_literal("") == ""
    assert text.markdown_literal("a:material/home: b") == "`a`:`material/home: b`"


# -- the page, through AppTest -----------------------------------------------------------------------
def bodies(at) -> list[str]:
    """Every Markdown body the page sent: boxes, text, captions, toasts."""
    elements = [*at.error, *at.warning, *at.info, *at.success, *at.markdown, *at.caption, *at.toast]
    return [e.proto.body for e in elements]


def page_text(at) -> str:
    """The page's Markdown as a renderer shows it, every body checked inert; and its raw HTML
    (the drawings) checked to carry nothing of the hostile strings."""
    for h in at.get("html"):
        assert not re.search(r"example\.org|javascript:|<script|onerror", h.proto.body), h.proto.body[:300]
    return "\n".join(inert(b) for b in bodies(at))


FIELDS = [f.name for cls in (LiveSettings, ModelSpec) for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("name", HOSTILE)
def test_every_setting_of_a_link_is_echoed_as_text(name):
    params = {field: HOSTILE[name] for field in FIELDS}
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(params)
    at.run()
    assert not at.exception
    _, _, problems = query.decode(params)
    assert len(problems) == len(FIELDS)                     # every setting refused, and said
    [box] = [e for e in at.error if "were not used" in e.value]
    said = inert(box.proto.body)
    for problem in problems:
        assert shown(problem) in said
    page_text(at)
    if name == "long":
        assert said.count("(5,000 characters)") == len(FIELDS) and "AAAAAAAAAA" not in said


def _checkpoint_bytes(**fields) -> bytes:
    ckpt = {k: {} for k in checkpoint.KEYS} | {"format": checkpoint.FORMAT, "version": checkpoint.VERSION,
                                              "step": 0} | fields
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    return buf.getvalue()


@pytest.fixture
def studio_page():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    return at


@pytest.fixture
def files_page(studio_page):
    at = studio_page.switch_page("studio/pages/files.py").run()
    assert not at.exception
    return at


@pytest.mark.parametrize("name", HOSTILE)
def test_a_checkpoint_s_name_and_content_are_echoed_as_text(files_page, name):
    at, value = files_page, HOSTILE[name]
    for content, quoted in [(_checkpoint_bytes(version=value), repr(value)),          # a field's value
                            (_checkpoint_bytes(spec={value: 1}), repr(value))]:       # a field's name
        at.file_uploader(key="ckpt_upload").set_value((f"{value}.pt", content, "application/octet-stream")).run()
        assert not at.exception
        [box] = [e for e in at.error if "This checkpoint cannot be used" in e.value]
        said = inert(box.proto.body)
        assert shown(quoted)[:200] in said
        page_text(at)
    assert at.session_state["session"].snapshot().step == 0      # nothing was loaded


def _png(size: int, comment: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Comment", comment)
    info.add_text("Title", comment.encode("ascii", "replace").decode())
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size), 128, np.uint8)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for member, blob in members.items():
            z.writestr(member, blob)
    return buf.getvalue()


@pytest.mark.parametrize("name", HOSTILE)
def test_an_own_data_zip_s_names_and_metadata_are_echoed_as_text(files_page, name):
    at, value = files_page, HOSTILE[name].replace("\x00", "")
    uploads = [
        {f"{value}.png": _png(30, value)},                                  # a member's name, wrong size
        {f"{value}.png": b"not an image"},                                  # a member PIL cannot read
        {f"{i}.png": _png(28, value) for i in range(3)},                    # metadata, too few images
    ]
    for members in uploads:
        at.file_uploader(key="data_upload").set_value((f"{value}.zip", _zip(members), "application/zip")).run()
        assert not at.exception
        [box] = [e for e in at.error if "These images cannot be used" in e.value]
        said = inert(box.proto.body)
        page_text(at)
        member = next(iter(members))
        assert (shown(member)[:200] in said) if member.startswith(value[:20]) else "3 images" in said


def test_an_own_data_zip_with_hostile_metadata_is_accepted_and_nothing_of_it_is_shown(files_page):
    at = files_page
    members = {f"{i}.png": _png(28, HOSTILE["link"] + HOSTILE["script"]) for i in range(64)}
    at.file_uploader(key="data_upload").set_value((f"{HOSTILE['link']}.zip", _zip(members), "application/zip")).run()
    assert not at.exception and not [e for e in at.error if "cannot be used" in e.value]
    assert "example.org" not in page_text(at)
    assert any("64 images" in b for b in bodies(at))


# -- the CLI -----------------------------------------------------------------------------------------
def cli(*args):
    return subprocess.run([sys.executable, "-m", "gan_core", *args], capture_output=True, text=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def _terminal_safe(stderr: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr[:500]
    hidden = [c for c in lines[0] if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    assert not hidden, hidden


@pytest.mark.slow   # a subprocess: the slow tier
@pytest.mark.untimed
def test_the_cli_s_messages_cannot_drive_the_terminal(tmp_path):
    value = HOSTILE["control"].replace("\x00", "") + HOSTILE["bidi"] + "\x1b]8;;https://example.org\x07x\x1b]8;;\x07"
    r = cli("sample", "--checkpoint", str(tmp_path / value), "--n", "1", "--out", str(tmp_path / "s.npy"))
    assert r.returncode == 2
    _terminal_safe(r.stderr)
    assert text.printable(str(tmp_path / value)) in r.stderr

    # a zip whose member's name is hostile, read by train --data: the refusal names the member
    (tmp_path / "own.zip").write_bytes(_zip({f"{value}.png": b"not an image"}))
    r = cli("train", "--out", str(tmp_path / "o"), "--steps", "1", "--arch", "mlp", "--data", str(tmp_path / "own.zip"))
    assert r.returncode == 2
    _terminal_safe(r.stderr)
    assert text.printable(f"{value}.png") in r.stderr

    r = cli("train", "--out", str(tmp_path / "o"), "--data", str(tmp_path / ("A" * 5000)))
    assert r.returncode == 2
    _terminal_safe(r.stderr)
    assert len(r.stderr) < 2500 and "characters in all)" in r.stderr


# -- a real browser --------------------------------------------------------------------------------
# each value short enough to be quoted back (a link's value over 64 characters is refused by length)
LINK = {
    "arch": "[Your session expired: log in again](https://example.org/login)",
    "loss": "![t](https://example.org/pixel.png)",
    "data": "<img src=https://example.org/x.png><script>alert(1)</script>",
    "seed": "[x](javascript:alert(1)) www.example.org a@example.org",
    "lr_g": ":red[red] :material/home: :smile: $x^2$ **b**",
    "batch_size": "\u202egnp.exe\x1b[31m <https://example.org>",
    "latent_dim": "A" * 5000,
}


@pytest.mark.browser
def test_a_hostile_link_shows_its_text_and_nothing_else_in_a_real_browser():
    from playwright.sync_api import sync_playwright

    from harness import ARTIFACTS, Studio, launch

    _, _, problems = query.decode(LINK)
    with Studio(log_name="streamlit-hostile.log") as studio, sync_playwright() as p:
        browser = launch(p)
        requests: list[str] = []
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{studio.url}/?{urllib.parse.urlencode(LINK)}")
        page.wait_for_selector(".st-key-start button", timeout=60_000)
        alert = page.locator("[data-testid='stAlertContentError']").filter(has_text="were not used")
        alert.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)

        # in the box: paragraphs of text and the box's own icon, nothing the link made
        markup = page.locator("[data-testid='stAlertContentError'] [data-testid='stMarkdownContainer']")
        tags = markup.evaluate_all("els => els.flatMap(e => [...e.querySelectorAll('*')].map(c => c.tagName))")
        assert set(tags) <= {"P", "CODE"}, tags
        said = alert.inner_text()
        for problem in problems:
            assert shown(problem) in said, (shown(problem), said)
        assert "(5,000 characters)" in said and ":smile:" in said and "😄" not in said

        # on the whole page: no link or image to the outside, no script, no request to where the link said
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        srcs = page.eval_on_selector_all("img[src], iframe[src], script[src]", "els => els.map(e => e.src)")
        assert not [u for u in hrefs + srcs if "example.org" in u or u.startswith("javascript:")], (hrefs, srcs)
        assert page.locator("script:not([src])").evaluate_all(
            "els => els.filter(e => e.textContent.includes('alert(')).length") == 0
        assert page.locator("[data-testid='stException']").count() == 0
        assert not [u for u in requests if "example.org" in u and not u.startswith(studio.url)], requests
        page.screenshot(path=str(ARTIFACTS / "hostile-link.png"), full_page=True)
        browser.close()


# -- one drawing place -----------------------------------------------------------------------------
def test_message_boxes_are_drawn_only_by_message_ui():
    import ast
    from pathlib import Path
    root = Path(__file__).parents[1]
    boxes = {"error", "warning", "info", "success", "exception"}
    for fn in (fn for path in [root / "app.py", *sorted((root / "studio").rglob("*.py"))]
               for fn in ast.walk(ast.parse(path.read_text()))):
        if isinstance(fn, ast.FunctionDef) and fn.name != "message_ui":
            used = [n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute) and n.attr in boxes
                    and isinstance(n.value, ast.Name) and n.value.id == "st"]
            assert not used, f"{fn.name} draws st.{used[0]} itself: use message_ui"


def test_a_refused_command_is_said_until_the_next_command_there(studio_page):
    at = studio_page
    s = at.session_state["session"]
    with s._cv:
        s._state = "failed"   # as after a crash: Start is refused until a Reset
    at.button(key="start").click().run()
    assert not at.exception
    assert [e for e in at.error if "reset it first" in e.value]
    at.run()
    assert [e for e in at.error if "reset it first" in e.value]        # kept while nothing else happens
    at.button(key="reset").click().run()
    assert not [e for e in at.error if "reset it first" in e.value]    # the next command there clears it
