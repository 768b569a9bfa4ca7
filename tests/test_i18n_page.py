"""The page in both languages, read through AppTest's element tree: every word a visitor reads comes
from the catalog, the Chinese page shows no English sentence, and the language changes while
training goes on.

"From the catalog" is checked by marking: a translation that wraps each text it finds in the catalog
in ⟦ ⟧ stands in for the real one, so whatever is left outside the marks on the page was drawn
without the catalog. Only numbers, formula symbols, layer names and the languages' own names may be."""
import gettext
import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from gan_core import config, host, i18n, models, session
from gan_core.config import LiveSettings, ModelSpec
from harness import rerun_until as wait_for

APP = "../app.py"
OPEN, CLOSE = "⟦", "⟧"
MARKED = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
# the models' layer names, as the gradient and update charts name them ("features.1", "D.head")
LAYERS = {f"{tag}{name}" for arch in config.ARCHS for conditional in (False, True)
          for model in models.build(ModelSpec(arch=arch, conditional=conditional, device="cpu"))
          for tag in ("", "G.", "D.") for name, _ in models.layers(model)}
# what may stand outside the catalog: numbers (1,234 · 0.5 · 1.5e-3 · 98%), icons, formula symbols,
# layer names, and names that are the same in every language
NEUTRAL = re.compile("|".join([
    r":material/\w+:",
    r":(?:small|gray)\[",                 # Markdown directives: a caption's look inside a larger text
    r"L_D|L_G|D\(G\(z\)\)|D\(x\)",
    *(rf"(?<![\w.]){re.escape(name)}(?![\w.])" for name in sorted(LAYERS, key=len, reverse=True)),
    r"English|简体中文|WGAN-GP|Adam|RMSprop",   # names, the same in every language
    r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?%?",
]))
# an English sentence: two English words in a row (names that stay in every language taken out first)
ENGLISH = re.compile(r"[A-Za-z]{2,}[ '-]+[A-Za-z]{2,}")
# names kept in every language, and code spans: values shown as they are (a link, a file's name), not words
KEEP_NAMES = re.compile(r"Fashion-MNIST|WGAN-GP|RMSprop|GAN Studio|English|pip install mlxtend|:material/\w+:|:(?:small|gray)\[|`[^`]*`")


class Marked(gettext.NullTranslations):
    """A language's catalog with each text it knows wrapped in ⟦ ⟧."""

    def __init__(self, inner: gettext.NullTranslations, known: set[str]):
        super().__init__()
        self.inner, self.known = inner, known

    def gettext(self, message):
        text = self.inner.gettext(message)
        return f"{OPEN}{text}{CLOSE}" if message in self.known else text

    def ngettext(self, singular, plural, n):
        text = self.inner.ngettext(singular, plural, n)
        return f"{OPEN}{text}{CLOSE}" if singular in self.known else text


@pytest.fixture
def marked(monkeypatch):
    from babel.messages.pofile import read_po
    with open(i18n.LOCALE_DIR / "messages.pot", "rb") as f:
        known = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(f) if m.id}
    real = i18n.translation
    monkeypatch.setattr(i18n, "translation", lambda lang: Marked(real(lang), known))


# -- reading the page -----------------------------------------------------------------------------------
def _chart_texts(spec) -> list[str]:
    out = []

    def walk(o, key=None):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "data":
                    continue            # the rows: their series names are the legend's domain below
                walk(v, k)
        elif isinstance(o, list):
            for v in o:
                walk(v, key)
        elif isinstance(o, str) and key in ("title", "text", "domain"):
            out.append(o)
    walk(spec)
    return out


FORMULA = re.compile(r"\$\$.*?\$\$", re.S)     # a display formula in a text: symbols, not words


def visible_texts(at) -> list[str]:
    """Every text the page shows or reads out: labels, helps, bodies, options, image alt texts,
    chart titles, axis titles, legends and tooltips. Formulas (st.latex, and `$$` blocks in a text) are left out."""
    out = []

    def walk(node):
        kind, proto = type(node).__name__, getattr(node, "proto", None)
        if proto is not None and kind not in ("Latex", "Divider"):
            if kind == "Html":
                out.extend(re.findall(r'alt="([^"]*)"', proto.body))
                out.append(re.sub(r"<[^>]*>", " ", proto.body))
            elif type(proto).__name__ == "VegaLiteChart":
                out.extend(_chart_texts(json.loads(proto.spec)))
            else:
                for name in ("label", "body", "help", "placeholder"):
                    if name in proto.DESCRIPTOR.fields_by_name and isinstance(getattr(proto, name), str):
                        out.append(FORMULA.sub(" ", getattr(proto, name)))
                if "options" in proto.DESCRIPTOR.fields_by_name:
                    out.extend(str(o) for o in proto.options)
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)
    walk(at._tree)
    return [t for t in out if t and t.strip()]


def outside_the_catalog(texts: list[str]) -> list[str]:
    bad = []
    for text in texts:
        rest = text
        while MARKED.search(rest):           # a Message's parameters can be Messages: marks nest
            rest = MARKED.sub(" ", rest)
        rest = NEUTRAL.sub(" ", rest)
        if re.search(r"[A-Za-z\u4e00-\u9fff]", rest):
            bad.append(text)
    return bad


def english_sentences(texts: list[str]) -> list[str]:
    return [t for t in texts if ENGLISH.search(KEEP_NAMES.sub(" ", t))]


# -- driving the page into every panel ------------------------------------------------------------------


PAGES = ("studio/pages/lesson.py", "studio/pages/uses.py", "studio/pages/files.py", "studio/pages/studio.py")


def every_tab(at) -> list[str]:
    """The Studio page's texts with each insight tab open in turn (only the open one is drawn)."""
    texts = []
    for tab in at.tabs:
        at.session_state["insight_tab"] = tab.label
        at.run()
        assert not at.exception
        texts += visible_texts(at)
    return texts


def every_page(at) -> list[str]:
    """The texts of every page, the Studio's last (where the tour goes on)."""
    texts = []
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception
        texts += visible_texts(at)
    return texts


def step_shown(at) -> int:
    return int(at.metric[0].value.replace(",", ""))


def tour(lang: str) -> list[list[str]]:
    """The page's texts at each stage: a link with a bad value (its error box), waiting in the queue,
    training (running state, live figures), paused with measurements, a diagnosis and a collapse alarm, the latent walk,
    a model change waiting for Reset, and an unconditional model's hint."""
    seen = []
    # one trainer at a time on the server (a session takes the server's turns when it is made), and
    # another visitor's busy: this one waits in the queue
    max_running = host.limits().max_running
    host.configure(max_running=1)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"lang": lang, "arch": "mlp", "batch_size": "-5"})
    at.run()
    assert not at.exception and at.error                        # the link's bad value, reported
    seen.append(visible_texts(at))
    other = session.TrainingSession(ModelSpec(arch="mlp"), LiveSettings(batch_size=16))
    try:
        other.start()
        at.button(key="start").click().run()
        assert wait_for(at, lambda: at.session_state["session"].snapshot().state == "waiting")
        seen.append(visible_texts(at))
        assert any("All trainers" in t or "训练器都在忙" in t for t in seen[-1])   # the queue notice
    finally:
        other.stop()
        host.configure(max_running=max_running)
    assert wait_for(at, lambda: step_shown(at) >= 40)          # enough points for the diagnosis to speak
    seen.append(visible_texts(at))
    at.button(key="pause").click().run()
    at.session_state["insight_tab"] = at.tabs[1].label                  # Quality
    at.run().button(key="measure").click().run()
    s = at.session_state["session"]
    report = {"n": 256, "confident_share": 0.9, "fid": 50.0, "fid_real_n": 5.0, "near_copies": 0.0,
              "diversity": 1.0, "histogram": [0.0, 0.7, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25, 0.05, 0.0]}
    s.add_probe("quality", lambda t, rng: report, every=3600)   # G draws mostly ones: the collapse alarm
    s.measure("quality")                                          # (published: a new version)
    at.run()
    texts = every_tab(at)
    at.switch_page(PAGES[1]).run()
    at.button(key="walk_go").click().run()
    assert not at.exception
    texts += visible_texts(at) + every_page(at)
    assert any("Mode collapse" in t or "模式崩溃" in t for t in texts)        # the diagnosis speaks
    seen.append(texts)
    at.toggle(key="model_conditional").set_value(False).run()   # a change that waits for Reset
    seen.append(visible_texts(at))
    at.button(key="reset").click().run()                        # an unconditional model: the hint
    assert not at.exception
    seen.append(visible_texts(at) + every_page(at))
    return seen


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_text_on_the_page_comes_from_the_catalog(marked, lang):
    for texts in tour(lang):
        assert outside_the_catalog(texts) == []


def test_the_chinese_page_shows_no_english_sentence():
    stages = tour("zh")
    for texts in stages:
        assert english_sentences(texts) == []
    everything = " ".join(t for texts in stages for t in texts)
    for term in ("生成器", "判别器", "反向传播", "梯度", "潜在空间", "学习率", "损失", "模式崩溃"):
        assert term in everything, term


def test_the_english_page_is_english():
    # the oracle of the test above, shown to bite: English has sentences, and no Chinese
    stages = tour("en")
    assert english_sentences(stages[0])
    assert not re.search(r"[\u4e00-\u9fff]", " ".join(t for texts in stages for t in texts if t != "简体中文"))


def test_switching_language_while_training_does_not_interrupt_it():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"arch": "mlp"})
    at.run()
    assert at.selectbox(key="lang").value == "en"               # no browser language under AppTest
    at.button(key="start").click().run()
    assert wait_for(at, lambda: step_shown(at) > 10)
    s = at.session_state["session"]
    trainer, thread = s._trainer, s._thread
    at.selectbox(key="lang").set_value("zh").run()
    assert [t.label for t in at.tabs] == ["博弈与梯度", "质量", "历史", "潜在空间"]
    assert at.query_params["lang"] == ["zh"] or at.query_params["lang"] == "zh"   # the link carries it
    before = s.snapshot().step
    assert wait_for(at, lambda: step_shown(at) > before + 10)   # still training, shown in Chinese
    assert at.session_state["session"] is s and s._trainer is trainer and s._thread is thread
    assert s.snapshot().state == "running" and at.metric[3].value == "训练中"
    at.selectbox(key="lang").set_value("en").run()
    assert s.snapshot().state == "running" and at.metric[3].value == "Running"
    assert "lang" not in at.query_params
    assert not at.exception
