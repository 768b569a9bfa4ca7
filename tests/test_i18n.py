"""The message catalog: complete in both languages, in step with the code, compiled as committed;
and the pieces that carry a text from gan_core to the page in the visitor's language."""
import gettext
import io
import pickle
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from gan_core import checkpoint, i18n, query
from gan_core.checkpoint import CheckpointError
from gan_core.config import ConfigError, LiveSettings, ModelSpec, validate
from gan_core.data import DataError, load_images

ROOT = Path(__file__).resolve().parents[1]
POT = i18n.LOCALE_DIR / "messages.pot"
LANGUAGE_FOLDERS = {"zh": "zh_CN"}
KEYWORDS = {"_": None, "N_": None, "msg": None, "_n": (1, 2)}   # as scripts/catalog.sh extracts
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# texts the same in every language: names, and punctuation-free formats of numbers
SAME_IN_CHINESE = {"Adam β1"}


def po_path(lang: str) -> Path:
    return i18n.LOCALE_DIR / LANGUAGE_FOLDERS[lang] / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


def read(path: Path):
    with open(path, "rb") as f:
        return read_po(f)


def ids(catalog) -> set:
    return {m.id for m in catalog if m.id}


def test_the_template_lists_every_text_marked_in_the_code():
    """A text marked in app.py or gan_core but missing from messages.pot would show in English
    on every page: scripts/catalog.sh was not run after it was written."""
    mapping = parse_mapping_cfg(open(ROOT / "babel.cfg"))
    keywords = {"gettext": None, "ngettext": (1, 2), **KEYWORDS}
    found = {m[2] if isinstance(m[2], str) else tuple(m[2])
             for m in extract_from_dir(ROOT, method_map=mapping[0], options_map=mapping[1], keywords=keywords)}
    found = {f[0] if isinstance(f, tuple) else f for f in found if f}
    in_pot = {i[0] if isinstance(i, tuple) else i for i in ids(read(POT))}
    assert found - in_pot == set(), "marked in the code, missing from messages.pot"
    assert in_pot - found == set(), "in messages.pot, no longer in the code"


@pytest.mark.parametrize("lang", LANGUAGE_FOLDERS)
def test_every_text_is_translated_with_the_same_placeholders(lang):
    template, catalog = read(POT), read(po_path(lang))
    assert ids(catalog) == ids(template), "the .po is not merged with messages.pot (scripts/catalog.sh)"
    for m in catalog:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        msgid = m.id[0] if isinstance(m.id, tuple) else m.id
        assert not m.fuzzy, f"fuzzy (a guess from an older text), needs a translator: {msgid!r}"
        assert all(strings), f"untranslated: {msgid!r}"
        for s in strings:
            assert i18n.fields(s) == i18n.fields(msgid), f"placeholders differ: {msgid!r} -> {s!r}"
            # a translation that is still English, or that lost its Chinese
            assert CJK.search(s) or msgid in SAME_IN_CHINESE, f"not translated into Chinese: {s!r}"
    # Babel's own checks (brace and percent placeholders, plural forms): its msgfmt --check
    assert [(m.id, errors) for m, errors in catalog.check()] == []


@pytest.mark.parametrize("lang", LANGUAGE_FOLDERS)
def test_the_committed_mo_is_compiled_from_the_po(lang):
    """The app reads the .mo; it must say what the .po says (scripts/catalog.sh compiles it)."""
    with open(po_path(lang).with_suffix(".mo"), "rb") as f:
        compiled = gettext.GNUTranslations(f)._catalog
    expected = {}
    for m in read(po_path(lang)):
        if not m.id:
            continue
        if isinstance(m.id, tuple):
            for i, s in enumerate(m.string):
                expected[(m.id[0], i)] = s
        else:
            expected[m.id] = m.string
    compiled = {k: v for k, v in compiled.items() if k != ""}   # the header
    assert compiled == expected


@pytest.mark.parametrize("lang", LANGUAGE_FOLDERS)
def test_gnu_msgfmt_accepts_the_catalog(lang, tmp_path):
    if not shutil.which("msgfmt"):
        pytest.skip("GNU gettext's msgfmt is not installed (Babel's check above still ran)")
    out = subprocess.run(["msgfmt", "--check", "-o", str(tmp_path / "x.mo"), str(po_path(lang))],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# -- choosing the language ---------------------------------------------------------------------------
@pytest.mark.parametrize("locale, header, expected", [
    ("zh-CN", None, "zh"), ("zh", None, "zh"), ("zh-Hans-SG", None, "zh"), ("en-GB", "zh-CN", "en"),
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"), (None, "en-US,en;q=0.9,zh-CN;q=0.8", "en"),
    (None, "fr-FR,fr;q=0.9,zh;q=0.5", "zh"), (None, "fr, de", "en"), (None, None, "en"), ("", "", "en"),
    ("zh-TW", None, "en"), (None, "zh-Hant;q=1, en;q=0.5", "en"), (None, "en;q=0.2, zh;q=0.7", "zh"),
    (None, "zh;q=0, en;q=0.1", "en"), (None, "zh;q=abc", "en"), ("fr-FR", "de,zh;q=0.3", "zh"),
])
def test_the_preferred_language(locale, header, expected):
    assert i18n.preferred(locale, header) == expected


def test_a_link_names_its_language_and_carries_it():
    assert query.language({"lang": "zh"}) == "zh" and query.language({"lang": "zh-CN"}) == "zh"
    assert query.language({"lang": "xx"}) is None and query.language({}) is None
    assert query.encode(LiveSettings(), ModelSpec(), lang="zh") == {"lang": "zh"}
    assert query.encode(LiveSettings(), ModelSpec(), lang="en") == {}          # English is the default
    live, spec, problems = query.decode({"lang": "zh", "seed": "3"})
    assert spec.seed == 3 and problems == []                                    # not a setting


# -- texts made in gan_core ----------------------------------------------------------------------------
ZH = i18n.translation("zh").gettext


def test_a_message_reads_english_as_a_str_and_chinese_on_the_page():
    m = i18n.msg("paused: {reason}", reason=i18n.msg("the page was closed"))
    assert m == "paused: the page was closed" and isinstance(m, str) and "closed" in m
    assert m.translate(ZH) == "已暂停：页面已关闭"
    assert pickle.loads(pickle.dumps(m)).translate(ZH) == "已暂停：页面已关闭"
    assert i18n.translate("a plain text no catalog has", ZH) == "a plain text no catalog has"
    assert i18n.translate("Pause", ZH) == "暂停"                 # a plain str that is a msgid


def test_errors_say_english_and_translate_with_their_parameters():
    with pytest.raises(ConfigError) as e:
        validate(LiveSettings, lr_g=5.0)
    assert str(e.value) == "lr_g must be between 1e-06 and 0.1, got 5.0"
    assert i18n.translate(e.value, ZH) == "lr_g 必须在 1e-06 到 0.1 之间，收到的是 5.0"
    with pytest.raises(CheckpointError) as e:
        checkpoint.read(b"")
    assert (str(e.value), i18n.translate(e.value, ZH)) == ("the file is empty", "该文件是空的")
    buf = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.png", b"not an image")
    with pytest.raises(DataError) as e:
        load_images(buf.getvalue())
    assert str(e.value) == "a.png: not an image in a format read here (PNG, JPEG, BMP, GIF, TIFF, WebP, PGM)"
    assert i18n.translate(e.value, ZH) == "a.png：不是这里能读取的图像格式（PNG、JPEG、BMP、GIF、TIFF、WebP、PGM）"


def test_a_chart_spec_is_translated_whole_and_consistently():
    from gan_core import charts
    quality = [{"step": 1, "n": 256, "fid": 9.0, "fid_real_n": 2.0, "confident_share": 0.5, "near_copies": 0.0}]
    spec = i18n.translate_tree(charts.frechet(quality), ZH)
    assert spec["title"]["text"] == "识别器特征上的 Fréchet 距离（N = 256），越低越好"
    legend = spec["layer"][0]["encoding"]["color"]["scale"]["domain"]
    assert legend == ["G 的样本", "真实数字"]
    assert {r["series"] for r in spec["data"]["values"]} == set(legend)     # the rows name the same series
    sent = charts.arrow_spec(charts.frechet(quality), ZH)                  # as a page sends it: rows as Arrow
    assert {k: sent[k] for k in ("title", "layer")} == {k: spec[k] for k in ("title", "layer")}
    import pyarrow as pa
    rows = pa.ipc.open_stream(sent["datasets"]["rows"]).read_all().to_pylist()
    assert {r["series"] for r in rows} == set(legend)
    assert charts.frechet(quality)["title"]["text"].startswith("Fréchet distance")   # English as built
