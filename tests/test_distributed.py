"""Data-parallel training with torchrun: 2 CPU processes (gloo) whose replicas stay identical, and
the backend chosen by the device trained on."""
import subprocess
import sys

import pytest
import torch

from gan_core import checkpoint


def train(out, *launcher):
    cmd = [*launcher, "-m", "gan_core", "train", "--out", str(out), "--steps", "15", "--arch", "mlp",
           "--threads", "1", "--seed", "4"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    return r.stderr, checkpoint.read(out / "checkpoint.pt")


@pytest.mark.slow
def test_two_processes_keep_identical_replicas_and_both_contribute(tmp_path):
    log, ddp = train(tmp_path / "ddp", sys.executable, "-m", "torch.distributed.run", "--standalone",
                     "--nproc_per_node", "2")
    assert "2 data-parallel processes" in log
    assert "largest weight difference between ranks 0\n" in log     # replicas bit-identical
    _, single = train(tmp_path / "single", sys.executable)
    # same seed, same init: only the other rank's batches can make the weights differ
    assert ddp["step"] == single["step"] == 15
    assert not torch.equal(ddp["G"]["net.0.weight"], single["G"]["net.0.weight"])


def test_the_backend_follows_the_device_trained_on(monkeypatch):
    from gan_core import __main__ as cli
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)    # as on a machine with 2 GPUs
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert cli._backend("auto") == cli._backend("cuda") == "nccl"
    assert cli._backend("cpu") == "gloo"                               # CPU tensors: gloo, GPUs or not
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")                        # NCCL refuses two ranks on one GPU
    with pytest.raises(cli.UsageError, match="4 processes on this machine but 2 GPU"):
        cli._backend("cuda")
    assert cli._backend("cpu") == "gloo"
