"""Restoration by gradient descent on z: only z learns, the loss it descends is the visible pixels'
error, and the CLI reads its files strictly."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from gan_core import restore
from gan_core.config import ModelSpec
from gan_core.restore import RestoreError
from gan_core.trainer import Trainer


@pytest.fixture(scope="module")
def trainer():
    from gan_core import data
    t = Trainer(ModelSpec(arch="mlp", conditional=False, latent_dim=16), digits=data.load("bundled")[0])
    for _ in range(5):
        t.step()
    return t


def real(n=4):
    from gan_core import data
    d = data.load("bundled")[0]
    return d.images[:n].float() / 255.0          # (n, 28, 28)


def test_damage_hides_what_it_says():
    x = torch.rand(3, 28, 28)
    bottom, mask = restore.damage(x, "bottom", 0.4)
    assert mask[:, :17].eq(1).all() and mask[:, 17:].eq(0).all()      # round(0.4 · 28) = 11 rows hidden
    assert torch.equal(bottom[:, :17], x[:, :17]) and bottom[:, 17:].eq(0).all()
    _, band = restore.damage(x, "band", 0.25)                          # 7 rows, from row (28 - 7) // 2 = 10
    assert band[:, 10:17].eq(0).all() and band[:, :10].eq(1).all() and band[:, 17:].eq(1).all()
    _, pixels = restore.damage(torch.rand(50, 28, 28), "pixels", 0.3, seed=1)
    assert abs(1 - pixels.mean().item() - 0.3) < 0.01                 # 39,200 coin flips
    noisy, visible = restore.damage(x, "noise", 0.2, seed=1)
    assert visible.eq(1).all() and noisy.min() >= 0 and noisy.max() <= 1
    assert 0.1 < (noisy - x).abs().mean() < 0.2                      # E|N(0, 0.2²)| = 0.16, less clipping
    with pytest.raises(RestoreError, match="mask must be one of"):
        restore.damage(x, "top")


def test_visible_error_by_hand():
    fake, x = torch.zeros(2, 28, 28), torch.zeros(2, 28, 28)
    mask = torch.zeros(2, 28, 28)
    fake[0, 0, :2] = torch.tensor([1.0, 3.0])
    mask[0, 0, :4] = 1                       # 4 visible pixels: (1² + 3²) / 4 = 2.5
    fake[1, 5, 5] = 7.0                      # a hidden error costs nothing; no pixel visible -> 0
    assert restore.visible_error(fake, x, mask).tolist() == [2.5, 0.0]


def test_z_learns_and_g_does_not(trainer):
    G = trainer.G_ema
    before = {k: v.clone() for k, v in G.state_dict().items()}
    flags = [p.requires_grad for p in G.parameters()]
    x, mask = restore.damage(real(), "bottom", 0.4)
    r = restore.search(G, x, mask, latent_dim=16, conditional=False, steps=20, restarts=2, seed=3)
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert all(p.grad is None for p in G.parameters())
    assert [p.requires_grad for p in G.parameters()] == flags
    # the starting z of each winner, drawn as search draws them: z moved, so it got gradients
    z0 = torch.randn(len(x) * 2, 16, generator=torch.Generator().manual_seed(3))
    assert not torch.allclose(r.z, z0[:len(x) * 2:2]) and not torch.allclose(r.z, z0[1::2])
    # the winner's image is G of the winner's z
    assert torch.allclose(r.images, G(r.z).view(-1, 28, 28), atol=1e-6)


def test_the_visible_error_falls(trainer):
    # targets G itself can draw (G of some z*): the visible error can fall near zero, and as z nears
    # z*'s image the hidden pixels come back too
    with torch.no_grad():
        target = trainer.G_ema(torch.randn(4, 16, generator=torch.Generator().manual_seed(9))).view(-1, 28, 28)
    x, mask = restore.damage(target, "bottom", 0.4)
    r = restore.run(trainer, x, mask, steps=60, restarts=2, frames=4)
    assert len(r.loss) == 61 and [s for s, _ in r.frames] == [0, 20, 40, 60]
    assert r.loss[-1] < 0.3 * r.loss[0]
    assert all(b <= a * 1.05 for a, b in zip(r.loss[::10], r.loss[10::10]))   # mostly downhill, as Adam goes
    final = restore.visible_error(r.images, x, mask)
    assert abs(final.mean().item() - r.loss[-1]) < 1e-6
    hidden = 1 - mask
    start = restore.visible_error(r.frames[0][1], target, hidden).mean()
    assert restore.visible_error(r.images, target, hidden).mean() < 0.5 * start


def test_hidden_pixels_do_not_steer_the_search(trainer):
    # the objective reads visible pixels only: whatever is under the mask, the same z comes out
    x, mask = restore.damage(real(), "band", 0.3)
    other = x + (1 - mask) * torch.rand(x.shape)
    a = restore.run(trainer, x, mask, steps=15, restarts=2, seed=1)
    b = restore.run(trainer, other, mask, steps=15, restarts=2, seed=1)
    assert torch.equal(a.z, b.z)


def test_a_conditional_g_tries_every_digit(digits):
    t = Trainer(ModelSpec(arch="mlp", latent_dim=8), digits=digits)
    x, mask = restore.damage(real(2), "pixels", 0.5)
    r = restore.run(t, x, mask, steps=3, restarts=1)
    assert r.labels is not None and r.labels.shape == (2,) and 0 <= int(r.labels.min()) <= int(r.labels.max()) <= 9


@pytest.mark.parametrize("images, mask, match", [
    (np.zeros((2, 28, 28), np.uint8), np.ones((2, 28, 28)), "images must be floats"),
    (np.zeros((2, 28, 27)), np.ones((2, 28, 27)), r"shape \(N, 28, 28\)"),
    (np.zeros((2, 28, 28)), np.ones((3, 28, 28)), "same shape"),
    (np.full((1, 28, 28), 1.5), np.ones((1, 28, 28)), r"lie in \[0, 1\]"),
    (np.full((1, 28, 28), np.nan), np.ones((1, 28, 28)), "not finite"),
    (np.zeros((1, 28, 28)), np.full((1, 28, 28), 0.5), "only 0"),
])
def test_bad_arrays_are_refused(images, mask, match):
    with pytest.raises(RestoreError, match=match):
        restore.check_arrays(images, mask)


def test_bad_counts_are_refused(trainer):
    x, mask = restore.damage(real(1), "bottom")
    for kw in (dict(steps=0), dict(steps=restore.STEPS[1] + 1), dict(restarts=0), dict(restarts=2.5)):
        with pytest.raises(RestoreError):
            restore.run(trainer, x, mask, **kw)


# -- the CLI ------------------------------------------------------------------------------------------
def _npy(path, array):
    np.save(path, array)
    return str(path)


def test_read_npy_refuses_before_reading(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    with pytest.raises(RestoreError, match="Python objects"):
        restore.read_npy(tmp_path / "obj.npy", "--images")
    big = np.zeros((2, 28, 28))
    np.save(tmp_path / "cut.npy", big)
    blob = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(blob[:-100])
    with pytest.raises(RestoreError, match="does not match the file's size"):
        restore.read_npy(tmp_path / "cut.npy", "--images")
    # a header that claims 10,000 images over a file of one: refused from the header, nothing allocated
    header = np.lib.format.header_data_from_array_1_0(big)
    header["shape"] = (restore.MAX_IMAGES + 1, 28, 28)
    with open(tmp_path / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(big.tobytes())
    with pytest.raises(RestoreError, match="expected \\(N, 28, 28\\)"):
        restore.read_npy(tmp_path / "huge.npy", "--images")
    (tmp_path / "text.npy").write_text("hello")
    with pytest.raises(RestoreError, match="not a readable .npy"):
        restore.read_npy(tmp_path / "text.npy", "--images")


def test_cli_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    from gan_core.__main__ import main
    good = _npy(tmp_path / "x.npy", np.zeros((2, 28, 28), np.float32))
    cases = [
        ["--images", _npy(tmp_path / "u8.npy", np.zeros((2, 28, 28), np.uint8)), "--mask", good],
        ["--images", good, "--mask", _npy(tmp_path / "m3.npy", np.ones((3, 28, 28)))],
        ["--images", str(tmp_path / "missing.npy"), "--mask", good],
        ["--images", good, "--mask", good, "--steps", "0"],
    ]
    for args in cases:
        code = main(["restore", "--checkpoint", str(tmp_path / "none.pt"), *args, "--out", str(tmp_path / "o.npy")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("error:") and "\n" not in err, (args, err)


@pytest.mark.slow
@pytest.mark.untimed
def test_cli_round_trip(tmp_path, trainer):
    from gan_core import checkpoint
    checkpoint.save(trainer, tmp_path / "c.pt")
    x, mask = restore.damage(real(3), "bottom", 0.4)
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "m.npy", mask.numpy())
    r = subprocess.run([sys.executable, "-m", "gan_core", "restore", "--checkpoint", str(tmp_path / "c.pt"),
                        "--images", str(tmp_path / "x.npy"), "--mask", str(tmp_path / "m.npy"),
                        "--out", str(tmp_path / "out.npy"), "--steps", "30", "--restarts", "2", "--seed", "5"],
                       capture_output=True, text=True, timeout=120, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    out = np.load(tmp_path / "out.npy")
    assert out.shape == (3, 28, 28) and out.dtype == np.float32
    # the same search in this process gives the same images
    expected = restore.run(trainer, x, mask, steps=30, restarts=2, seed=5).images.numpy()
    assert np.allclose(out, expected, atol=1e-5)


# -- one set of defaults ---------------------------------------------------------------------------------
def test_the_cli_and_the_page_read_one_set_of_defaults():
    import inspect

    from gan_core.__main__ import _parser
    a = _parser().parse_args(["restore", "--checkpoint", "c", "--images", "i", "--out", "o"])
    assert (a.steps, a.restarts) == (restore.DEFAULTS.steps, restore.DEFAULTS.restarts)
    for fn in (restore.demo, restore.run, restore.run_upscale):
        params = inspect.signature(fn).parameters
        assert (params["steps"].default, params["restarts"].default) == (restore.DEFAULTS.steps, restore.DEFAULTS.restarts)


def test_realism_reads_d_and_changes_neither_net(trainer):
    nets = (trainer.G_ema, trainer.D)
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in nets]
    grads = [[None if p.grad is None else p.grad.clone() for p in m.parameters()] for m in nets]   # the last step's
    x, mask = restore.damage(real(), "bottom", 0.4)
    plain = restore.search(trainer.G_ema, x, mask, latent_dim=16, conditional=False, steps=10, restarts=2, seed=2)
    tasteful = restore.search(trainer.G_ema, x, mask, latent_dim=16, conditional=False, steps=10, restarts=2,
                              seed=2, D=trainer.D, realism=1.0)
    assert not torch.equal(plain.z, tasteful.z)            # D's term moved z
    for m, b, g in zip(nets, before, grads):
        assert all(torch.equal(b[k], v) for k, v in m.state_dict().items())
        assert all((p.grad is None and old is None) or torch.equal(p.grad, old) for p, old in zip(m.parameters(), g))


def test_many_images_go_in_chunks_and_each_winner_is_g_of_its_z(trainer):
    n = restore.CHUNK + 3
    x, mask = restore.damage(real(n), "pixels", 0.5)
    r = restore.run(trainer, x, mask, steps=2, restarts=1, frames=3)
    assert r.images.shape == (n, 28, 28) and r.z.shape == (n, 16) and len(r.loss) == 3
    assert [s for s, _ in r.frames] == [0, 1, 2] and all(f.shape == (n, 28, 28) for _, f in r.frames)
    with torch.no_grad():
        assert torch.allclose(r.images, trainer.G_ema(r.z).view(-1, 28, 28), atol=1e-6)
    # the curve is the mean over all images, chunk sizes weighed
    assert abs(r.loss[-1] - restore.visible_error(r.images, x, mask).mean().item()) < 1e-6


# -- super-resolution ---------------------------------------------------------------------------------------
def test_pool_is_block_means_by_hand():
    x = torch.zeros(1, 28, 28)
    x[0, :4, :4] = 1.0                      # the whole first 4x4 block
    x[0, 27, 27] = 0.8                      # one pixel of the last 4x4 block: 0.8 / 16 = 0.05
    low = restore.pool(x, 7)
    assert low.shape == (1, 7, 7) and low[0, 0, 0] == 1.0 and abs(low[0, 6, 6].item() - 0.05) < 1e-7
    assert low.sum().item() == pytest.approx(1.05)
    assert restore.pool(x, 14)[0, :2, :2].eq(1).all() and restore.pool(x, 14)[0, 13, 13] == pytest.approx(0.2)


@pytest.mark.parametrize("size", [7, 14])
def test_upscale_matches_the_small_image(size):
    # targets G itself can draw (G of some z*, a G whose images differ a lot with z): the block means
    # of its output come near the small image, far nearer than where the search starts, and the
    # reported error is the output's
    from gan_core import models
    torch.manual_seed(0)
    G = models.Generator(torch.nn.Sequential(torch.nn.Linear(16, 784), torch.nn.Sigmoid()), 16, False)
    with torch.no_grad():
        G.net[0].weight.mul_(4)
        target = G(torch.randn(4, 16, generator=torch.Generator().manual_seed(9))).view(-1, 28, 28)
    low = restore.pool(target, size)
    r = restore.upscale(G, low, latent_dim=16, conditional=False, steps=150, restarts=2, frames=2)
    assert r.images.shape == (4, 28, 28) and r.z.shape == (4, 16)
    start, end = restore.pooled_error(r.frames[0][1], low), restore.pooled_error(r.images, low)
    assert end.mean() < 0.1 * start.mean()
    assert end.mean().item() == pytest.approx(r.loss[-1], abs=1e-6) and r.loss[0] == pytest.approx(start.mean().item(), abs=1e-6)
    assert float((restore.pool(r.images, size) - low).abs().max()) < 0.1


@pytest.mark.parametrize("low, match", [
    (np.zeros((2, 7, 7), np.uint8), "images must be floats"),
    (np.zeros((2, 8, 8)), r"shape \(N, 7, 7\) or \(N, 14, 14\)"),
    (np.zeros((2, 7, 14)), r"shape \(N, 7, 7\)"),
    (np.zeros((0, 7, 7)), r"N from 1"),
    (np.zeros((2, 28, 28)), r"shape \(N, 7, 7\)"),
    (np.full((1, 14, 14), np.inf), "not finite"),
    (np.full((1, 7, 7), -0.5), r"lie in \[0, 1\]"),
])
def test_bad_small_images_are_refused(trainer, low, match):
    with pytest.raises(RestoreError, match=match):
        restore.run_upscale(trainer, low)


def test_cli_refuses_bad_small_images_in_one_line(tmp_path, capsys):
    from gan_core.__main__ import main
    low, big = np.zeros((2, 7, 7), np.float32), np.zeros((2, 28, 28), np.float32)
    header = np.lib.format.header_data_from_array_1_0(low)   # a header that claims more images than allowed
    header["shape"] = (restore.MAX_IMAGES + 1, 7, 7)
    with open(tmp_path / "huge.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(low.tobytes())
    cases = [
        (["--images", _npy(tmp_path / "low.npy", low), "--mask", _npy(tmp_path / "m.npy", big)], "leave out --mask"),
        (["--images", _npy(tmp_path / "big.npy", big)], "need a --mask"),
        (["--images", _npy(tmp_path / "u8.npy", low.astype(np.uint8))], "must be floats"),
        (["--images", _npy(tmp_path / "9.npy", np.zeros((2, 9, 9), np.float32))], r"\(N, 7, 7\) or \(N, 14, 14\)"),
        (["--images", _npy(tmp_path / "nan.npy", np.full((1, 14, 14), np.nan, np.float32))], "not finite"),
        (["--images", _npy(tmp_path / "2.npy", np.full((1, 7, 7), 2.0, np.float32))], r"\[0, 1\]"),
        (["--images", str(tmp_path / "huge.npy")], "N from 1 to"),
    ]
    for args, match in cases:
        code = main(["restore", "--checkpoint", str(tmp_path / "none.pt"), *args, "--out", str(tmp_path / "o.npy")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("error:") and "\n" not in err, (args, err)
        assert __import__("re").search(match, err), (match, err)


@pytest.mark.slow
@pytest.mark.untimed
def test_cli_upscale_round_trip(tmp_path, trainer):
    from gan_core import checkpoint
    checkpoint.save(trainer, tmp_path / "c.pt")
    low = restore.pool(real(3), 14)
    np.save(tmp_path / "low.npy", low.numpy())
    r = subprocess.run([sys.executable, "-m", "gan_core", "restore", "--checkpoint", str(tmp_path / "c.pt"),
                        "--images", str(tmp_path / "low.npy"), "--out", str(tmp_path / "out.npy"),
                        "--steps", "30", "--restarts", "2", "--seed", "5"],
                       capture_output=True, text=True, timeout=120, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    out = np.load(tmp_path / "out.npy")
    assert out.shape == (3, 28, 28) and out.dtype == np.float32
    expected = restore.run_upscale(trainer, low, steps=30, restarts=2, seed=5)
    assert np.allclose(out, expected.images.numpy(), atol=1e-5)
    assert "enlarged from 14x14" in r.stderr


@pytest.mark.parametrize("kind, size", sorted(restore.LOW_KINDS.items()))
def test_the_page_s_super_resolution_shows_the_small_image_enlarged_and_restores_it(trainer, kind, size):
    image = real(1)[0]                                               # (28, 28) in [0, 1]
    low = restore.pool(image.view(1, 28, 28), size)
    d = restore.demo(trainer, image, kind, steps=30, restarts=1, frames=2)
    # what G sees is the small image, each pixel over its block: pooling it back gives the small image
    assert torch.allclose(restore.pool(d.damaged.view(1, 28, 28), size), low, atol=1e-6)
    assert d.mask.eq(1).all() and d.result.images.shape == (1, 28, 28)
    # the search's error is the block means' error, and it falls
    assert d.result.loss[-1] == pytest.approx(restore.pooled_error(d.result.images, low).item(), abs=1e-6)
    assert d.result.loss[-1] < d.result.loss[0]
    assert set(d.reads) == {"original", "damaged", "restored"} and d.kind == kind


def test_enlarge_repeats_each_pixel_over_its_block():
    low = torch.arange(49, dtype=torch.float32).view(1, 7, 7)
    big = restore.enlarge(low)
    assert big.shape == (1, 28, 28) and big[0, 4 * 3 + 2, 4 * 5 + 1] == low[0, 3, 5]
