"""Checkpoints round-trip exactly, and every kind of bad file gets its own clear refusal."""
import io
import os
import pickle

import pytest
import torch

from gan_core import checkpoint
from gan_core.checkpoint import CheckpointError
from gan_core.config import LiveSettings, ModelSpec
from gan_core.trainer import Trainer


@pytest.fixture
def trained(digits):
    t = Trainer(ModelSpec(arch="mlp", seed=5), LiveSettings(batch_size=16, lr_g=3e-4), digits=digits)
    for _ in range(4):
        t.step()
    return t


def saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_round_trip_is_exact_and_resumes_the_same_run(trained, digits):
    blob = checkpoint.to_bytes(trained)
    restored = checkpoint.load(blob, digits)
    assert restored.step_count == 4 and restored.settings == trained.settings and restored.spec == trained.spec
    for a, b in ((trained.G, restored.G), (trained.D, restored.D), (trained.G_ema, restored.G_ema)):
        for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), k
    # same weights, moments and RNG: the next steps are bit-identical
    assert [trained.step() for _ in range(3)] == [restored.step() for _ in range(3)]
    assert all(torch.equal(x, y) for x, y in zip(trained.G.parameters(), restored.G.parameters()))


def test_a_checkpoint_from_a_gpu_machine_opens_here(trained, digits):
    """The saved device says where a run was trained; it is loaded on the best device present."""
    ckpt = checkpoint.to_dict(trained)
    ckpt["spec"]["device"] = "cuda"
    # a CUDA generator's state: its seed and offset, 8 bytes each (a CPU generator's is 5,056 bytes)
    ckpt["rng"] = torch.tensor([0] * 8 + [180, 123, 2, 0, 0, 0, 0, 0], dtype=torch.uint8)
    here = "cuda" if torch.cuda.is_available() else "cpu"
    restored = checkpoint.load(saved(ckpt), digits)
    assert restored.device.type == here and restored.spec.device == "auto"
    assert all(torch.equal(x.cpu(), y) for x, y in zip(restored.G.parameters(), trained.G.parameters()))
    assert checkpoint.load(saved(ckpt), digits, device="cpu").device.type == "cpu"


def test_save_to_a_path(tmp_path, trained, digits):
    checkpoint.save(trained, tmp_path / "c.pt")
    assert checkpoint.load(tmp_path / "c.pt", digits).step_count == 4


def mutate(trained, change):
    d = checkpoint.to_dict(trained)
    change(d)
    return saved(d)


def _nan(d):
    d["G"]["net.0.weight"][0, 0] = float("nan")


def _other_arch(d):
    d["spec"]["arch"] = "mlp_wide"


def _bad_shape(d):
    d["D"]["head.weight"] = torch.zeros(1, 64)


def _bad_setting(d):
    d["settings"]["lr_d"] = 50.0


def _bad_moment(d):
    d["opt_d"]["state"][0]["exp_avg"] = torch.zeros(3)


def _bad_rng(d):
    d["rng"] = torch.zeros_like(d["rng"])


def _no_version(d):
    del d["version"]


BAD = {
    "empty": (lambda t: b"", "empty"),
    "random bytes": (lambda t: os.urandom(4096), "corrupt|not a checkpoint"),
    "text": (lambda t: b"hello, I am not a checkpoint\n" * 20, "corrupt|not a checkpoint"),
    "truncated": (lambda t: checkpoint.to_bytes(t)[:20_000], "corrupt or truncated"),
    "not a dict": (lambda t: saved([torch.zeros(3)]), "holds a list"),
    "foreign dict": (lambda t: saved({"state_dict": {}}), "not a checkpoint of this studio"),
    "non-finite": (lambda t: mutate(t, _nan), "G.net.0.weight: holds NaN"),
    "wrong architecture": (lambda t: mutate(t, _other_arch), "do not fit the architecture"),
    "wrong shape": (lambda t: mutate(t, _bad_shape), r"D.head.weight: shape \(1, 64\)"),
    "bad setting": (lambda t: mutate(t, _bad_setting), "settings: lr_d must be between"),
    "bad optimizer": (lambda t: mutate(t, _bad_moment), "opt_d: exp_avg of parameter 0"),
    "bad generator state": (lambda t: mutate(t, _bad_rng), "rng is not a valid generator state"),
    "old version": (lambda t: mutate(t, _no_version), "version None is not supported"),
}


def test_a_broken_file_is_named_in_one_whole_sentence(trained, digits):
    # torch's complaint about a cut zip goes on with advice for developers; the page shows the first part
    with pytest.raises(CheckpointError) as refused:
        checkpoint.load(checkpoint.to_bytes(trained)[:3000], digits)
    msg = str(refused.value)
    assert msg.startswith("corrupt or truncated file (") and msg.endswith(")"), msg
    assert "central directory" in msg and ". " not in msg and "internal" not in msg, msg


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_file_is_refused_with_its_reason(kind, trained, digits):
    make, message = BAD[kind]
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(make(trained), digits)


def test_too_large_is_refused_before_reading(tmp_path, trained):
    path = tmp_path / "big.pt"
    path.write_bytes(b"\0" * 2048)
    with pytest.raises(CheckpointError, match="limit"):
        checkpoint.read(path, max_bytes=1024)
    with pytest.raises(CheckpointError, match="limit"):
        checkpoint.read(checkpoint.to_bytes(trained), max_bytes=1024)


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = "/tmp/gan_studio_pickle_ran"


def test_pickle_with_code_is_refused_and_never_runs(trained, digits):
    if os.path.exists(MARKER):
        os.remove(MARKER)
    d = checkpoint.to_dict(trained)
    d["G"] = Payload()
    blob = saved(d)
    with pytest.raises(CheckpointError, match="refused"):
        checkpoint.load(blob, digits)
    # a plain pickle (no torch zip container) carrying code is refused too
    with pytest.raises(CheckpointError):
        checkpoint.load(pickle.dumps(Payload()), digits)
    assert not os.path.exists(MARKER)


# -- the optimizers' choice travels ---------------------------------------------------------------------
@pytest.mark.parametrize("kinds", [("sgd", "rmsprop"), ("rmsprop", "sgd")])
def test_round_trip_with_sgd_and_rmsprop_resumes_the_same_run(digits, kinds):
    t = Trainer(ModelSpec(arch="mlp", seed=5), LiveSettings(batch_size=16, optimizer_g=kinds[0],
                                                           optimizer_d=kinds[1], momentum=0.7), digits=digits)
    for _ in range(3):
        t.step()
    restored = checkpoint.load(checkpoint.to_bytes(t), digits)
    assert (restored.settings.optimizer_g, restored.settings.optimizer_d) == kinds
    assert (type(restored.opt_g), type(restored.opt_d)) == (type(t.opt_g), type(t.opt_d))
    for a, b in ((t.opt_g, restored.opt_g), (t.opt_d, restored.opt_d)):   # their state, as saved
        for i, s in a.state_dict()["state"].items():
            assert all(torch.equal(x, b.state_dict()["state"][i][k]) for k, x in s.items())
    assert [t.step() for _ in range(3)] == [restored.step() for _ in range(3)]


def test_a_checkpoint_from_before_the_choice_loads_as_adam(trained, digits):
    d = checkpoint.to_dict(trained)
    for name in ("optimizer_g", "optimizer_d", "momentum"):
        del d["settings"][name]       # as a checkpoint written before these settings existed
    restored = checkpoint.load(saved(d), digits)
    assert (restored.settings.optimizer_g, restored.settings.optimizer_d) == ("adam", "adam")
    assert isinstance(restored.opt_d, torch.optim.Adam)
    assert [trained.step() for _ in range(2)] == [restored.step() for _ in range(2)]   # Adam's moments kept


def _sgd_named_for_adam_state(d):
    d["settings"]["optimizer_d"] = "sgd"      # D's state is still Adam's


def _rmsprop_state_named_adam(d):
    sq = {i: {"step": s["step"], "square_avg": s["exp_avg_sq"]} for i, s in d["opt_g"]["state"].items()}
    d["opt_g"]["state"] = sq                  # RMSprop's state under settings that say Adam


def _empty_adam_groups_named_sgd(d):
    d["settings"]["optimizer_g"] = "sgd"
    d["opt_g"]["state"] = {}                  # no state, but Adam's param groups


@pytest.mark.parametrize("change, message", [
    (_sgd_named_for_adam_state, "opt_d: the optimizer state is not sgd's, which the settings name"),
    (_rmsprop_state_named_adam, "opt_g: the optimizer state is not adam's"),
    (_empty_adam_groups_named_sgd, "opt_g: the optimizer state is not sgd's"),
])
def test_one_optimizers_state_is_never_loaded_into_another(trained, digits, change, message):
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(mutate(trained, change), digits)
