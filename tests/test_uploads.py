"""Hostile uploads (tests/hostile.py builds them) are refused in one sentence naming the file, or read
correctly, within the memory bound of docs/deployment.md and without writing anything to disk.

Each load runs in one child process that measures its peak resident memory (the kernel's high-water
mark, reset before each load), so zlib's, Pillow's and torch's native buffers count.
"""
import io
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import hostile
from gan_core import checkpoint, data
from gan_core.data import DataError

# the bound (docs/deployment.md) on what one upload may add to the server's memory, beyond the upload's own bytes
MEMORY_BOUND_MB = 160

CORPUS = hostile.own_image_corpus() + hostile.checkpoint_corpus(hostile.good_checkpoint)   # built when sent


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    results, left = hostile.run_probe(CORPUS, tmp_path_factory.mktemp("probe"))
    assert [r["name"] for r in results] == [name for name, *_ in CORPUS]
    return {r["name"]: (case, r) for case, r in zip(CORPUS, results)}, left


@pytest.mark.slow
@pytest.mark.untimed
@pytest.mark.parametrize("name", [name for name, *_ in CORPUS])
def test_each_upload_is_refused_in_one_sentence_or_read_within_the_bound(probed, name):
    (_, kind, _, (outcome, expected)), r = probed[0][name]
    assert r["outcome"] == outcome, r
    if outcome == "refused":
        msg = r["message"]
        assert re.search(expected, msg), msg
        assert "\n" not in msg and ". " not in msg and len(msg) < 200, msg
    elif kind == "zip":
        n, first = expected
        assert r["n"] == n and (first is None or r["first"] == first), r
    assert r["peak_mb"] <= MEMORY_BOUND_MB, r
    assert r["writes"] == [], r


@pytest.mark.slow
@pytest.mark.untimed
def test_nothing_is_left_on_disk(probed):
    assert probed[1] == []


def test_the_bomb_that_once_took_2_gb_is_refused_before_any_member_is_read(monkeypatch):
    """The refusal comes from the declared sizes: no member is opened (an oracle for 'before reading')."""
    blob = hostile.zip_of([(f"{i}.png", b"A" * 999_999) for i in range(300)])
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: opened.append(a) or real_open(self, *a, **k))
    with pytest.raises(DataError, match="unpacks to 286 MB"):
        data.load_images(blob)
    assert opened == []


def test_real_bytes_are_counted_whatever_the_headers_say(tmp_path, monkeypatch):
    """A folder's files are read with the same caps on their real bytes, one file and all of them."""
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(hostile.image_bytes() + b"\0" * 1000)   # Pillow ignores what follows IEND
    monkeypatch.setattr(data, "MAX_UNPACKED_BYTES", 2000)
    with pytest.raises(DataError, match=rf"^{tmp_path.name}: unpacks to more than 0 MB, the most own images may take$"):
        data.load_images(tmp_path)
    budget = data._Budget("x.zip")
    with pytest.raises(DataError, match=r"^a\.png: unpacks to more than 1 MB, far more than a 28x28 image$"):
        budget.read("a.png", io.BytesIO(b"\0" * (data.MAX_MEMBER_BYTES + 1)))


def test_an_upload_is_named_by_its_file_name():
    upload = io.BytesIO(hostile.zip_of([("a.txt", b"x")]))
    upload.name = "my digits.zip"
    with pytest.raises(DataError, match=r"^my digits\.zip: 0 images; at least 64 are needed$"):
        data.load_images(hostile.zip_of([("__MACOSX/._a.png", b"x")]), name="my digits.zip")
    with pytest.raises(DataError, match=r"^a\.txt: not an image"):
        data.load_images(upload)


def test_sixteen_bit_gray_is_scaled_not_clipped():
    ramp = (np.arange(784, dtype=np.uint32).reshape(28, 28) * 83).astype(np.uint16)   # 0 .. 65,027
    buf = io.BytesIO()
    from PIL import Image
    Image.fromarray(ramp).save(buf, format="PNG")
    d = data.load_images(hostile.zip_of([(f"{i}.png", buf.getvalue()) for i in range(64)]))
    expected = (ramp.astype(np.uint32) * 255 + 32767) // 65535   # v * 255 / 65535, rounded
    assert np.array_equal(d.images[0].numpy(), expected)


def test_a_checkpoint_path_is_refused_on_its_size_before_it_is_read(tmp_path, monkeypatch):
    big = tmp_path / "huge.pt"
    with open(big, "wb") as f:
        f.truncate(10 * 2**30)   # 10 GB, sparse: nothing of it is on the disk
    monkeypatch.setattr(checkpoint, "open", lambda *a, **k: pytest.fail("the file was opened"), raising=False)
    with pytest.raises(checkpoint.CheckpointError, match=r"^huge\.pt is 10240\.0 MB; the limit for a checkpoint is 64 MB$"):
        checkpoint.read(big)


@pytest.mark.parametrize("blob, message", [
    (hostile.zip_of([(f"{i}.png", b"A" * 999_999) for i in range(300)]),
     r"^error: bomb\.zip: unpacks to 286 MB; own images may take at most 256 MB$"),
    (hostile.digits_zip(extra=[("huge.png", hostile.png_claiming(60000, 60000))]),
     r"^error: huge\.png: its header claims a huge image \(a decompression bomb\), refused before decoding$"),
    (hostile.digits_zip(extra=[("../evil.png", hostile.image_bytes())]),
     r"^error: \.\./evil\.png: a path that leaves the zip's folder$"),
], ids=["bomb", "huge header", "dot-dot name"])
@pytest.mark.slow   # a subprocess: the slow tier
@pytest.mark.untimed
def test_the_cli_gives_the_same_refusals_with_exit_2(tmp_path, blob, message):
    (tmp_path / "bomb.zip").write_bytes(blob)
    r = subprocess.run([sys.executable, "-m", "gan_core", "train", "--data", str(tmp_path / "bomb.zip"),
                        "--out", str(tmp_path / "out"), "--steps", "1", "--threads", "1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), r.stderr
    assert not (tmp_path / "out").exists()
