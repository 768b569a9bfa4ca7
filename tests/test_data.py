"""Data loading, on IDX files and images the tests write themselves."""
import gzip
import hashlib
import io
import struct
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core import data
from gan_core.data import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder, n=100, gz=True, prefix="train"):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    for stem, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        blob = idx_bytes(arr)
        (folder / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(blob) if gz else blob)
    return images, labels


def test_bundled_digits_are_real_mnist(digits):
    assert digits.images.shape == (5000, 28, 28) and digits.images.dtype == torch.uint8
    assert torch.equal(digits.labels.bincount(), torch.full((10,), 500))
    # MNIST ink: mostly background, the strokes near full intensity, centred by mass
    x = digits.images.float() / 255
    assert 0.10 < (x > 0.5).float().mean() < 0.25
    rows = x.sum(dim=(0, 2))
    centre = (rows * torch.arange(28)).sum() / rows.sum()
    assert 13 < centre < 15


def test_bundled_is_loaded_once_and_shared():
    a, _ = data.load("bundled")
    b, _ = data.load("bundled")
    assert a.images is b.images


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_round_trip(tmp_path, gz):
    images, labels = write_idx_set(tmp_path, gz=gz)
    d = data.load_idx_folder(tmp_path)
    assert np.array_equal(d.images.numpy(), images) and np.array_equal(d.labels.numpy(), labels)


@pytest.mark.parametrize("breakage, message", [
    (lambda b: b"\x08\x03" + b[2:], "bad magic number"),
    (lambda b: b[:-10], r"header says \[100, 28, 28\]"),
    (lambda b: b[:6], "truncated header"),
    (lambda b: b[:2] + b"\x0d" + b[3:], "type 0x0d is not unsigned bytes"),
])
def test_corrupt_idx_names_file_and_problem(tmp_path, breakage, message):
    write_idx_set(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(breakage(path.read_bytes()))
    with pytest.raises(DataError, match=f"train-images-idx3-ubyte: .*{message}"):
        data.load_idx_folder(tmp_path)


def test_wrong_shape_and_label_count(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((10, 32, 32))))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(10)))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: images are \(32, 32\)"):
        data.load_idx_folder(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((10, 28, 28))))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(9)))
    with pytest.raises(DataError, match="9 labels for 10 images"):
        data.load_idx_folder(tmp_path)


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def serve(monkeypatch, files: dict[str, bytes]):
    requested = []

    def urlopen(url, timeout=None):
        requested.append(url)
        name = url.rsplit("/", 1)[-1]
        if name not in files:
            raise OSError("no route to host")
        return FakeResponse(files[name])

    monkeypatch.setattr(data.urllib.request, "urlopen", urlopen)
    return requested


def test_download_verifies_checksums(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    write_idx_set(src, n=80)
    write_idx_set(src, n=20, prefix="t10k")
    files = {p.name: p.read_bytes() for p in src.iterdir()}
    sums = {name[:-3]: hashlib.md5(blob).hexdigest() for name, blob in files.items()}
    monkeypatch.setitem(data.IDX_FILES, "mnist", sums)
    requested = serve(monkeypatch, files)
    folder = data.download("mnist", tmp_path / "cache")
    assert len(requested) == 4
    assert len(data.load_idx_folder(folder)) == 80
    data.download("mnist", tmp_path / "cache")   # verified files are not fetched again
    assert len(requested) == 4


def test_download_with_bad_checksum_is_discarded(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    write_idx_set(src)
    files = {p.name: p.read_bytes() for p in src.iterdir()}
    monkeypatch.setitem(data.IDX_FILES, "mnist", {"train-images-idx3-ubyte": "0" * 32})
    serve(monkeypatch, files)
    with pytest.raises(DataError, match="checksum mismatch"):
        data.download("mnist", tmp_path / "cache")
    assert not list((tmp_path / "cache" / "mnist").iterdir())


def test_failed_download_falls_back_to_bundled_with_a_notice(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(data, "_cache", {})
    serve(monkeypatch, {})
    d, notice = data.load("mnist", allow_download=True)
    assert d.name == data.BUNDLED_NAME
    assert notice.startswith("using the bundled digits: download of") and "\n" not in notice


def test_no_download_unless_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(data, "_cache", {})
    requested = serve(monkeypatch, {})
    d, notice = data.load("mnist")
    assert requested == [] and "download not requested" in notice


def png_bytes(size=(28, 28), value=128):
    buf = io.BytesIO()
    Image.new("L", size, value).save(buf, format="PNG")
    return buf.getvalue()


def test_own_images_from_folder_and_zip(tmp_path):
    for i in range(70):
        (tmp_path / f"{i:03d}.png").write_bytes(png_bytes(value=i))
    d = data.load_images(tmp_path)
    assert d.images.shape == (70, 28, 28) and int(d.images[5, 0, 0]) == 5
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(64):
            z.writestr(f"img/{i}.png", png_bytes())
    assert len(data.load_images(buf.getvalue())) == 64


def test_own_images_refused_clearly(tmp_path):
    (tmp_path / "big.png").write_bytes(png_bytes((32, 32)))
    with pytest.raises(DataError, match="big.png: 32x32 pixels, expected 28x28"):
        data.load_images(tmp_path)
    (tmp_path / "big.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="big.png: not an image"):
        data.load_images(tmp_path)
    (tmp_path / "big.png").write_bytes(png_bytes())
    with pytest.raises(DataError, match="1 images; at least 64"):
        data.load_images(tmp_path)
    with pytest.raises(DataError, match="zip"):
        data.load_images(b"PK\x03\x04 broken zip")
