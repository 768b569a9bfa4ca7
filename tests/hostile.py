"""Hostile uploads, built here, and a probe that feeds them to the loaders in a child process.

The probe measures each load's peak memory as the rise of the process's resident set (freed memory
returned with malloc_trim, then the kernel's high-water mark reset before each load, so native
buffers of zlib, Pillow and torch count too),
watches for any file opened for writing or process started (audit hooks), and lists its working and
temporary folders afterwards. Run as a script, it prints the table docs/deployment.md quotes:

    python3 tests/hostile.py
"""
from __future__ import annotations

import functools
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20


# ---------------------------------------------------------------------------------------------
# building blocks

def image_bytes(mode: str = "L", value=128, size=(28, 28), fmt: str = "PNG", **save) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, value).save(buf, format=fmt, **save)
    return buf.getvalue()


def zip_of(members, method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, blob in members:
            z.writestr(name, blob)
    return buf.getvalue()


def digits_zip(n: int = 64, extra=(), value=None) -> bytes:
    """n distinct gray 28x28 PNGs, then `extra` (name, bytes) members."""
    rng = np.random.default_rng(0)
    pngs = []
    for i in range(min(n, 256)):
        buf = io.BytesIO()
        a = rng.integers(0, 4, (28, 28), dtype=np.uint8) * 85 if value is None else np.full((28, 28), value, np.uint8)
        Image.fromarray(a, "L").save(buf, format="PNG")
        pngs.append(buf.getvalue())
    return zip_of([(f"digits/{i:05d}.png", pngs[i % len(pngs)]) for i in range(n)] + list(extra))


def streamed_zip(name: str, nbytes: int, byte: bytes = b"\0") -> bytes:
    """One member of `nbytes` repeated bytes, compressed as it is written: the parent never holds it."""
    buf = io.BytesIO()
    chunk = byte * MIB
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:   # the fastest level
        with z.open(name, "w", force_zip64=True) as f:
            for _ in range(nbytes // MIB):
                f.write(chunk)
    return buf.getvalue()


def central_entries(blob: bytes):
    """Offsets of each central directory entry (46 fixed bytes each) and its local header's offset."""
    end = blob.rfind(b"PK\x05\x06")
    size, offset = struct.unpack_from("<2L", blob, end + 12)
    pos = offset
    while pos < offset + size:
        name_len, extra_len, comment_len = struct.unpack_from("<3H", blob, pos + 28)
        yield pos, struct.unpack_from("<L", blob, pos + 42)[0]
        pos += 46 + name_len + extra_len + comment_len


def _patch_headers(blob: bytes, fmt: str, value: int, central_at: int, local_at: int) -> bytes:
    """The same zip with one field of every member's central and local header set to value."""
    b = bytearray(blob)
    for cd, local in list(central_entries(blob)):
        struct.pack_into(fmt, b, cd + central_at, value)
        struct.pack_into(fmt, b, local + local_at, value)
    return bytes(b)


def lie_about_sizes(blob: bytes, declared: int) -> bytes:
    """The same zip with every member claiming to unpack to `declared` bytes."""
    return _patch_headers(blob, "<L", declared, 24, 22)


def set_flags(blob: bytes, flags: int) -> bytes:
    return _patch_headers(blob, "<H", flags, 8, 6)


def index_bomb(entries: int) -> bytes:
    """A central directory of `entries` one-letter entries and no data: zipfile builds an object for each."""
    entry = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"a"
    index = entry * entries
    return index + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(index), 0, 0)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header for a width x height gray image, then a few bytes of pixels."""
    ihdr = struct.pack(">2I5B", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def bmp_claiming(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 14 + 40 + 1024 + 16, 0, 0, 14 + 40 + 1024)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 0, 0, 2835, 2835, 256, 0)
    return header + info + bytes(1024) + bytes(16)


# ---------------------------------------------------------------------------------------------
# the corpus: (name, kind, payload, expected); expected is ("refused", regex) or ("accepted", (n, first pixel))

@functools.cache
def _repeated() -> bytes:
    # deflate's fastest level: 2 GB still pack into ~9 MB, in a third of the time level 6 takes
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for i in range(2000):
            z.writestr(f"{i}.png", b"A" * 999_999)
    return buf.getvalue()


@functools.cache
def _gigabyte() -> bytes:
    return streamed_zip("big.png", 1024 * MIB)


def own_image_corpus() -> list[tuple[str, str, Callable[[], bytes], tuple]]:
    """(name, kind, make, expected): `make` builds the upload when the probe sends it."""
    gray, ok = image_bytes(), ("accepted", (64, 128))
    cases = [
        ("64 gray PNGs", "zip", lambda: digits_zip(value=128), ok),
        # zip bombs
        ("2,000 members of 999,999 repeated bytes (2 GB)", "zip",
         lambda: _repeated(),
         ("refused", r"^uploaded zip: unpacks to 1,907 MB; own images may take at most 256 MB$")),
        ("the same members, headers claiming 100 bytes each", "zip",
         lambda: lie_about_sizes(_repeated(), 100),
         ("refused", r"^0\.png: corrupt or truncated in the zip \(Bad CRC-32 for file '0\.png'\)$")),
        ("one member of 1 GB of zeros", "zip", lambda: _gigabyte(),
         ("refused", r"^uploaded zip: unpacks to 1,024 MB; own images may take at most 256 MB$")),
        ("one member of 1 GB of zeros claiming 500 bytes", "zip", lambda: lie_about_sizes(_gigabyte(), 500),
         ("refused", r"^big\.png: corrupt or truncated in the zip \(Bad CRC-32 for file 'big\.png'\)$")),
        ("one member of 2 MB", "zip", lambda: zip_of([("big.png", b"\0" * 2 * MIB)]),
         ("refused", r"^big\.png: unpacks to 2\.0 MB, far more than a 28x28 image$")),
        ("200,000 index entries (9 MB)", "zip", lambda: index_bomb(200_000),
         ("refused", r"^uploaded zip: more than 100,000 files in the zip$")),
        ("1,400,000 index entries (64 MB)", "zip", lambda: index_bomb(1_400_000),
         ("refused", r"^uploaded zip: its index takes 63 MB; a zip of at most 100,000 files needs far less$")),
        ("70,001 empty members", "zip", lambda: zip_of([(f"{i}.png", b"") for i in range(70_001)], zipfile.ZIP_STORED),
         ("refused", r"^uploaded zip: 70,001 files; at most 70,000 images are read$")),
        ("a bzip2 member", "zip", lambda: zip_of([("a.png", gray)], zipfile.ZIP_BZIP2),
         ("refused", r"^a\.png: compressed with method 12; only stored or deflated zips are read$")),
        ("an encrypted member", "zip", lambda: set_flags(zip_of([("a.png", gray)]), 1),
         ("refused", r"^a\.png: encrypted; zip the images without a password$")),
        # archives in archives, things that are not images
        ("a zip inside the zip", "zip", lambda: digits_zip(extra=[("more.zip", digits_zip())]),
         ("refused", r"^more\.zip: a zip archive inside the upload; put the images themselves in one zip$")),
        ("a gzip inside the zip", "zip", lambda: digits_zip(extra=[("a.png.gz", zlib.compress(gray, wbits=31))]),
         ("refused", r"^a\.png\.gz: a gzip archive inside the upload; put the images themselves in one zip$")),
        ("a text file", "zip", lambda: digits_zip(extra=[("readme.txt", b"my digits\n" * 10)]),
         ("refused", r"^readme\.txt: not an image in a format read here \(PNG, JPEG, BMP, GIF, TIFF, WebP, PGM\)$")),
        ("an EPS file", "zip", lambda: digits_zip(extra=[("a.eps", image_bytes(fmt="EPS"))]),
         ("refused", r"^a\.eps: not an image in a format read here")),
        # modes other than 8-bit gray: converted as a screen shows them, transparency refused
        ("16-bit gray PNG", "zip",
         lambda: zip_of([(f"{i}.png", image_bytes("I;16", 51400)) for i in range(64)]), ("accepted", (64, 200))),
        ("RGB PNG", "zip", lambda: zip_of([(f"{i}.png", image_bytes("RGB", (200, 100, 50))) for i in range(64)]),
         ("accepted", (64, (200 * 299 + 100 * 587 + 50 * 114 + 500) // 1000))),
        ("palette PNG", "zip", lambda: zip_of([(f"{i}.png", _palette_png((200, 100, 50))) for i in range(64)]),
         ("accepted", (64, (200 * 299 + 100 * 587 + 50 * 114 + 500) // 1000))),
        ("1-bit PNG", "zip", lambda: zip_of([(f"{i}.png", image_bytes("1", 1)) for i in range(64)]), ("accepted", (64, 255))),
        ("CMYK TIFF", "zip", lambda: zip_of([(f"{i}.tif", image_bytes("CMYK", (0, 0, 0, 55), fmt="TIFF")) for i in range(64)]),
         ("accepted", (64, 200))),
        ("CMYK JPEG", "zip", lambda: zip_of([(f"{i}.jpg", image_bytes("CMYK", (0, 0, 0, 55), fmt="JPEG", quality=100))
                                     for i in range(64)]), ("accepted", (64, 200))),
        ("opaque RGBA PNG", "zip", lambda: zip_of([(f"{i}.png", image_bytes("RGBA", (90, 90, 90, 255))) for i in range(64)]),
         ("accepted", (64, 90))),
        ("RGBA PNG with transparent pixels", "zip", lambda: digits_zip(extra=[("ink.png", image_bytes("RGBA", (0, 0, 0, 0)))]),
         ("refused", r"^ink\.png: has transparent pixels; save it as grayscale without transparency$")),
        ("32x32 image", "zip", lambda: digits_zip(extra=[("big.png", image_bytes(size=(32, 32)))]),
         ("refused", r"^big\.png: 32x32 pixels, expected 28x28$")),
        # names that leave the folder
        ("a member named ../evil.png", "zip", lambda: digits_zip(extra=[("../evil.png", gray)]),
         ("refused", r"^\.\./evil\.png: a path that leaves the zip's folder$")),
        ("a member named /etc/evil.png", "zip", lambda: digits_zip(extra=[("/etc/evil.png", gray)]),
         ("refused", r"^/etc/evil\.png: a path that leaves the zip's folder$")),
        ("a member named ..\\evil.png", "zip", lambda: digits_zip(extra=[("..\\evil.png", gray)]),
         ("refused", r"^\.\.\\evil\.png: a path that leaves the zip's folder$")),
        # truncated and empty
        ("an empty upload", "zip", lambda: b"",
         ("refused", r"^uploaded zip: not a readable zip file \(File is not a zip file\)$")),
        ("a zip cut in half", "zip", lambda: digits_zip()[:3000],
         ("refused", r"^uploaded zip: not a readable zip file \(File is not a zip file\)$")),
        ("an empty member", "zip", lambda: digits_zip(extra=[("empty.png", b"")]),
         ("refused", r"^empty\.png: the file is empty$")),
        ("a truncated PNG", "zip", lambda: digits_zip(extra=[("cut.png", _noise_png()[:60])]),
         ("refused", r"^cut\.png: a truncated or corrupt image \(.+\)$")),
        # huge image headers
        ("PNG whose header says 60000x60000", "zip", lambda: digits_zip(extra=[("huge.png", png_claiming(60000, 60000))]),
         ("refused", r"^huge\.png: its header claims a huge image \(a decompression bomb\), refused before decoding$")),
        ("BMP whose header says 60000x60000", "zip", lambda: digits_zip(extra=[("huge.bmp", bmp_claiming(60000, 60000))]),
         ("refused", r"^huge\.bmp: its header claims a huge image \(a decompression bomb\), refused before decoding$")),
        ("PNG whose header says 10000x10000", "zip", lambda: digits_zip(extra=[("big.png", png_claiming(10000, 10000))]),
         ("refused", r"^big\.png: 10000x10000 pixels, expected 28x28$")),
        ("a tar inside the zip", "zip", lambda: digits_zip(extra=[("a.tar", _tar_of("a.png", gray))]),
         ("refused", r"^a\.tar: a tar archive inside the upload; put the images themselves in one zip$")),
        ("250 PNGs, each with 1 MB of text (260 MB)", "zip", lambda: zip_of([(f"{i}.png", padded_png(1_040_000))
                                                                            for i in range(250)]),
         ("accepted", (250, 128))),
        ("70,000 PNGs, long names, 30,000 folders", "zip", lambda: largest_accepted(), ("accepted", (70_000, None))),
    ]
    return cases


def largest_accepted() -> bytes:
    """The most a zip may hold: 70,000 images and 30,000 folders, names long enough to fill the 16 MB index."""
    pngs = [image_bytes(value=v) for v in range(256)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for i in range(30_000):
            z.writestr(zipfile.ZipInfo(f"{i:05d}{'d' * 100}/"), b"")
        for i in range(70_000):
            z.writestr(f"{i % 30_000:05d}{'d' * 100}/{i:05d}{'i' * 10}.png", pngs[i % 256])
    return buf.getvalue()


def padded_png(text_bytes: int) -> bytes:
    """A gray 28x28 PNG carrying `text_bytes` of text: all of it is parsed before the pixels."""
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("note", "x" * text_bytes)
    return image_bytes(pnginfo=info)


def _tar_of(name: str, blob: bytes) -> bytes:
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo(name)
        info.size = len(blob)
        t.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def _palette_png(rgb) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (28, 28), rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(buf, format="PNG")
    return buf.getvalue()


def _noise_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8), "L").save(buf, format="PNG")
    return buf.getvalue()


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _records(good: bytes) -> list[tuple[str, bytes]]:
    z = zipfile.ZipFile(io.BytesIO(good))
    return [(m.filename, z.read(m)) for m in z.infolist()]


def _record_bomb(good: bytes) -> bytes:
    """The checkpoint's records deflated, the first tensor's followed by 512 MB of zeros."""
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for name, blob in _records(good):
            with out.open(name, "w", force_zip64=True) as f:
                f.write(blob)
                if name.endswith("data/0"):
                    for _ in range(512):
                        f.write(b"\0" * MIB)
    return bomb.getvalue()


def _claiming(good: bytes, nbytes: int) -> bytes:
    """The checkpoint with its first record claiming `nbytes`, stored and unpacked alike."""
    lying = bytearray(good)
    struct.pack_into("<2L", lying, next(central_entries(good))[0] + 20, nbytes, nbytes)
    return bytes(lying)


def checkpoint_corpus(good: Callable[[], bytes]) -> list[tuple[str, str, Callable[[], bytes], tuple]]:
    return [
        ("a checkpoint of this studio", "ckpt", good, ("accepted", None)),
        ("65 MB of zeros", "ckpt", lambda: b"\0" * 65 * MIB,
         ("refused", r"^the file is 65\.0 MB; the limit for a checkpoint is 64 MB$")),
        ("an empty file", "ckpt", lambda: b"", ("refused", r"^the file is empty$")),
        ("a plain pickle", "ckpt", lambda: b"\x80\x02}q\x00.",
         ("refused", r"^not a checkpoint: the file is not in the zip format torch\.save writes$")),
        ("its records deflated", "ckpt", lambda: zip_of(_records(good())),
         ("refused", r"^not a checkpoint: the file holds a compressed record \(.+\), which torch\.save never writes$")),
        ("a record of 512 MB of zeros, deflated", "ckpt", lambda: _record_bomb(good()),
         ("refused", r"^not a checkpoint: the file holds a compressed record \(.+\), which torch\.save never writes$")),
        ("a record claiming 2 GB", "ckpt", lambda: _claiming(good(), 2**31),
         ("refused", r"^not a checkpoint: the file claims 2,0\d\d\.\d MB of records in \d\.\d MB$")),
        ("5,000 records", "ckpt", lambda: zip_of([(f"archive/data/{i}", b"") for i in range(5000)], zipfile.ZIP_STORED),
         ("refused", r"^not a checkpoint: the file holds more than 1,000 records$")),
        ("1,400,000 index entries (64 MB)", "ckpt", lambda: b"PK\x03\x04" + bytes(26) + index_bomb(1_400_000),
         ("refused", r"^not a checkpoint: the file has an index of 63 MB, far more than 1,000 records need$")),
        ("a 60 MB tensor", "ckpt", lambda: _saved({"x": torch.zeros(15 * MIB)}),
         ("refused", r"^not a checkpoint of this studio \(its 'format' field is missing or different\)$")),
    ]


# ---------------------------------------------------------------------------------------------
# the probe: runs in a child, one load after another, reading cases from stdin

PROBE = r'''
import gc, json, os, resource, struct, sys, time
from gan_core import checkpoint, data
from gan_core.checkpoint import CheckpointError
from gan_core.data import DataError

def status(key):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key)) / 1024  # MiB

writes = []
watching = False
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def hook(event, args):
    if not watching:
        return
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None))[:3]
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & WRITE):
            writes.append(f"open {path!r} {mode or flags}")
    elif event in ("os.mkdir", "os.rename", "os.remove", "os.symlink", "os.link", "shutil.copyfile",
                   "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork", "tempfile.mkstemp",
                   "tempfile.mkdtemp", "os.truncate"):
        writes.append(f"{event} {args!r:.80}")
sys.addaudithook(hook)

# what a server has done before any upload: built a model (a checkpoint is checked against one built on
# the meta device, whose first use imports torch._dynamo, which makes its cache folder)
import torch
from gan_core import models
from gan_core.config import ModelSpec
with torch.device("meta"):
    models.build(ModelSpec())

import ctypes
libc = ctypes.CDLL("libc.so.6")

def reset_peak():
    # memory an earlier load freed goes back to the system first, so no load grows into it unseen
    libc.malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

stdin = sys.stdin.buffer
while True:
    head = stdin.read(12)
    if len(head) < 12:
        break
    name_len, payload_len = struct.unpack("<IQ", head)
    name, kind = stdin.read(name_len).decode().split("\0")
    payload = stdin.read(payload_len)
    gc.collect()
    reset_peak()
    before = status("VmRSS")
    t0, c0, watching, writes[:] = time.perf_counter(), time.process_time(), True, []
    try:
        if kind == "zip":
            d = data.load_images(payload)
            result = {"outcome": "accepted", "n": len(d), "first": int(d.images[0, 0, 0])}
        else:
            checkpoint.read(payload)
            result = {"outcome": "accepted"}
    except (DataError, CheckpointError) as e:
        result = {"outcome": "refused", "message": str(e)}
    except BaseException as e:
        result = {"outcome": "escaped", "message": f"{type(e).__name__}: {e}"[:300]}
    watching = False
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = status("VmHWM")
    d = None
    print(json.dumps({"name": name, **result, "peak_mb": round(peak - before, 1), "seconds": round(seconds, 3), "cpu_s": round(cpu, 3),
                      "bytes": len(payload), "writes": list(writes), "rss_before_mb": round(before, 1)}), flush=True)
'''


def run_probe(cases, workdir: Path) -> tuple[list[dict], list[str]]:
    """Each case's result in a fresh child; and what the child left in its working and temporary folders."""
    cwd, tmp = workdir / "cwd", workdir / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    # torch's first optimizer makes its compiler's cache folder under TMPDIR, whatever is loaded: put
    # apart from the folders watched for what uploads leave (a parent that ran an optimizer before
    # starting the child passed it its own folder through the environment)
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "TORCHINDUCTOR_CACHE_DIR": str(workdir / "torch_cache")}
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-c", PROBE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=err, cwd=cwd, env=env)

        def feed():   # each case built while the child reads the one before (the bombs take seconds)
            try:
                for name, kind, make, _ in cases:
                    label, payload = f"{name}\0{kind}".encode(), make()
                    child.stdin.write(struct.pack("<IQ", len(label), len(payload)) + label + payload)
            except BrokenPipeError:
                pass        # the child died: its exit status and stderr say why
            finally:
                child.stdin.close()

        writer, limit = threading.Thread(target=feed, daemon=True), threading.Timer(900, child.kill)
        writer.start()
        limit.start()
        out = child.stdout.read()
        writer.join()
        code = child.wait()
        limit.cancel()
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"probe failed ({code}): {err.read().decode()[-2000:]}")
    left = [str(p) for folder in (cwd, tmp) for p in folder.rglob("*")]
    return [json.loads(line) for line in out.decode().splitlines()], left


@functools.cache
def good_checkpoint() -> bytes:
    sys.path.insert(0, str(ROOT))
    import torch

    from gan_core import checkpoint, data
    from gan_core.config import LiveSettings, ModelSpec
    from gan_core.trainer import Trainer
    torch.set_num_threads(1)
    t = Trainer(ModelSpec(arch="mlp", seed=1), LiveSettings(batch_size=16), digits=data.load("bundled")[0])
    t.step()
    return checkpoint.to_bytes(t)


if __name__ == "__main__":
    corpus = own_image_corpus() + checkpoint_corpus(good_checkpoint)
    with tempfile.TemporaryDirectory() as d:
        results, left = run_probe(corpus, Path(d))
    print(f"{'upload':52} {'bytes':>11} {'peak MB':>8} {'s':>6} {'cpu s':>6}  outcome")
    for (name, _, make, _), r in zip(corpus, results):
        said = r.get("message") or f"{r.get('n', '')} images, first pixel {r.get('first', '')}".strip()
        print(f"{name:52} {r['bytes']:11,} {r['peak_mb']:8.1f} {r['seconds']:6.2f} {r['cpu_s']:6.2f}  {r['outcome']}: {said}"
              + (f"  WRITES {r['writes']}" if r["writes"] else ""))
    print("left on disk:", left or "nothing")
