"""The CLI as other tools call it: files in the promised format, exit status 2 on bad input."""
import csv
import subprocess
import sys

import numpy as np
import pytest
import torch


def in_process(digits):
    from gan_core.config import ModelSpec
    from gan_core.trainer import Trainer
    return Trainer(ModelSpec(arch="mlp"), digits=digits)


def test_samples_for_the_cli_ask_for_the_grid_digits_or_one_digit(digits):
    from gan_core import sampling
    from gan_core.__main__ import draw_samples
    from gan_core.config import ConfigError
    t = in_process(digits)
    out = draw_samples(t, 12, seed=1)
    assert out.shape == (12, 28, 28) and out.dtype == np.float32
    z = sampling.sample_latent(12, 100, sampling.SamplingSettings(seed=1))
    assert np.array_equal(out, t.generate(z, sampling.grid_labels(12)).squeeze(1).numpy())
    assert np.array_equal(draw_samples(t, 12, seed=1, digit=3),
                          t.generate(z, sampling.digit_labels(12, 3)).squeeze(1).numpy())
    with pytest.raises(ConfigError, match="digit must be 0..9"):
        draw_samples(t, 4, digit=12)


def test_bad_input_in_process_is_one_line_and_status_2(capsys):
    from gan_core.__main__ import main
    assert main(["sample", "--checkpoint", "/nonexistent.pt", "--n", "5", "--out", "a.npy"]) == 2
    assert capsys.readouterr().err.strip().startswith("error:")


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "gan_core", *args], capture_output=True, text=True,
                          timeout=timeout, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    r = cli("train", "--out", str(out), "--steps", "30", "--arch", "mlp", "--no-conditional", "--threads", "1",
            "--log-every", "10")
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
@pytest.mark.untimed
def test_train_writes_the_four_files(run_dir):
    samples = np.load(run_dir / "samples.npy")
    assert samples.shape == (1000, 28, 28) and samples.dtype == np.float32
    assert 0.0 <= samples.min() and samples.max() <= 1.0
    assert (run_dir / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [10, 20, 30]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "lr_g", "lr_d"} <= set(rows[0])


@pytest.mark.slow
@pytest.mark.untimed
def test_sample_writes_the_same_format(run_dir, tmp_path):
    out = tmp_path / "s.npy"
    r = cli("sample", "--checkpoint", str(run_dir / "checkpoint.pt"), "--n", "37", "--out", str(out), "--seed", "3")
    assert r.returncode == 0, r.stderr
    s = np.load(out)
    assert s.shape == (37, 28, 28) and s.dtype == np.float32
    again = tmp_path / "t.npy"
    cli("sample", "--checkpoint", str(run_dir / "checkpoint.pt"), "--n", "37", "--out", str(again), "--seed", "3")
    assert np.array_equal(s, np.load(again))   # the seed fixes the samples


@pytest.mark.slow
@pytest.mark.untimed
@pytest.mark.parametrize("args, message", [
    (["train", "--out", "x", "--arch", "resnet"], "arch must be one of"),
    (["train", "--out", "x", "--batch-size", "3"], "batch_size must be between 8 and 1024"),
    (["train", "--out", "x", "--steps", "0"], "--steps must be at least 1"),
    (["train", "--out", "x", "--seconds", "5", "--steps", "5"], "not allowed with argument"),
    (["train"], "required: --out"),
    (["sample", "--checkpoint", "/nonexistent.pt", "--n", "5", "--out", "a.npy"], "no such file"),
    (["sample", "--checkpoint", "/etc/hostname", "--n", "5", "--out", "a.npy"], "corrupt|not a checkpoint"),
    (["fly"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, message, tmp_path):
    r = cli(*[a if a != "x" else str(tmp_path / "x") for a in args])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert __import__("re").search(message, lines[0]), lines[0]


@pytest.mark.slow
@pytest.mark.untimed
def test_digit_needs_a_conditional_checkpoint(run_dir, tmp_path):
    r = cli("sample", "--checkpoint", str(run_dir / "checkpoint.pt"), "--n", "5", "--out", str(tmp_path / "a.npy"), "--digit", "3")
    assert r.returncode == 2 and "conditional" in r.stderr


@pytest.mark.slow
@pytest.mark.untimed
def test_the_default_model_is_conditional_and_draws_a_chosen_digit(tmp_path):
    r = cli("train", "--out", str(tmp_path), "--steps", "3", "--threads", "1")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "threes.npy"
    r = cli("sample", "--checkpoint", str(tmp_path / "checkpoint.pt"), "--n", "4", "--out", str(out), "--digit", "3")
    assert r.returncode == 0, r.stderr
    assert np.load(out).shape == (4, 28, 28)


def test_every_live_setting_is_an_option_named_after_its_field():
    import dataclasses

    from gan_core.__main__ import _live_given, _parser
    from gan_core.config import LiveSettings
    a = _parser().parse_args(["train", "--out", "x", "--optimizer-g", "sgd", "--optimizer-d", "rmsprop",
                              "--momentum", "0.8", "--lr-d", "3e-4", "--g-steps", "2"])
    assert _live_given(a) == {"optimizer_g": "sgd", "optimizer_d": "rmsprop", "momentum": 0.8, "lr_d": 3e-4,
                              "g_steps": 2}
    everything = []
    for f in dataclasses.fields(LiveSettings):   # each field, given its default, as an option
        everything += ["--" + f.name.replace("_", "-"), str(f.default)]
    assert _live_given(_parser().parse_args(["train", "--out", "x", *everything])) == dataclasses.asdict(LiveSettings())
    assert _live_given(_parser().parse_args(["train", "--out", "x"])) == {}   # none given: the defaults


@pytest.mark.parametrize("args, message", [
    (["--optimizer-d", "adamw"], "optimizer_d must be one of adam, sgd, rmsprop; got 'adamw'"),
    (["--momentum", "1.5"], "momentum must be between 0 and 0.99"),
    (["--lr-g", "fast"], "argument --lr-g: invalid float value"),
])
def test_a_bad_live_option_is_one_line_and_status_2(args, message, tmp_path, capsys):
    from gan_core.__main__ import main
    assert main(["train", "--out", str(tmp_path / "x"), "--steps", "1", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and len(err.splitlines()) == 1, err


def test_train_resumes_with_the_checkpoints_settings_but_for_the_options_given(digits, tmp_path, monkeypatch):
    from gan_core import checkpoint, data
    from gan_core.__main__ import _parser, _trainer
    from gan_core.config import LiveSettings, ModelSpec
    from gan_core.trainer import Trainer
    t = Trainer(ModelSpec(arch="mlp"), LiveSettings(beta1=0.7, optimizer_g="rmsprop", batch_size=16), digits=digits)
    t.step()
    checkpoint.save(t, tmp_path / "c.pt")
    monkeypatch.setattr(data, "load", lambda *a, **kw: (digits, None))
    a = _parser().parse_args(["train", "--out", "x", "--resume", str(tmp_path / "c.pt"), "--optimizer-d", "sgd"])
    resumed = _trainer(a, ModelSpec(), None, print)
    s = resumed.settings
    assert (s.beta1, s.optimizer_g, s.optimizer_d, s.batch_size) == (0.7, "rmsprop", "sgd", 16)
    assert isinstance(resumed.opt_d, torch.optim.SGD) and not resumed.opt_d.state   # switched: fresh
    assert len(resumed.opt_g.state) == len(list(resumed.G.parameters()))            # kept
