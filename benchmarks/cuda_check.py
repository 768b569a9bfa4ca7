"""Check the CUDA path on a machine with a GPU, and report its speed.

    python benchmarks/cuda_check.py [--seconds 3] [--device cuda]

`--device cpu` runs the same checks against the CPU, so the script itself is tested where no GPU
is. Checks, each printed as passed or failed in one JSON document (exit status 1 if any failed,
2 when no CUDA device is present):
  device      a Trainer built with the default device settles on the device by itself; G, D, G's EMA, the
              training images and the fixed noise live there
  same_step   from the same weights and the same batch, one step on the device and one on the CPU give the
              same weights (to float tolerance): the update is the same algorithm on both
  session     a TrainingSession trains on the device in its thread and publishes a grid
and steps/s of the Trainer on the device for the seed model (batch 128) and the default model.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import data, session  # noqa: E402
from gan_core.scheduler import Scheduler  # noqa: E402
from gan_core.config import LiveSettings, ModelSpec  # noqa: E402
from gan_core.trainer import Trainer  # noqa: E402
from speed import rate  # noqa: E402


def check_device(digits: data.Digits, device: str) -> dict:
    t = Trainer(ModelSpec(), LiveSettings(), digits=digits)     # device "auto"
    where = {name: x.device.type for name, x in [
        ("G", next(t.G.parameters())), ("D", next(t.D.parameters())), ("G_ema", next(t.G_ema.parameters())),
        ("images", t.images), ("fixed_z", t.fixed_z)]}
    t.step()
    return {"passed": all(d == device for d in where.values()), "devices": where}


def check_same_step(digits: data.Digits, device: str) -> dict:
    """One step on each device from the same init, fed the same batches (drawn on the CPU)."""
    spec, s = ModelSpec(arch="mlp", conditional=False), LiveSettings(batch_size=64, ema_decay=0.0)
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(len(digits.images), (s.batch_size,), generator=gen)
    x = digits.images[idx].unsqueeze(1).float() / 255
    z1, z2 = (torch.randn(s.batch_size, spec.latent_dim, generator=gen) for _ in range(2))
    trainers, init = {}, None
    for where in ("cpu", device):
        t = Trainer(dataclasses.replace(spec, device=where), s, digits=digits)
        init = init or [p.detach().clone() for p in t.G.parameters()]
        latents = iter([z1, z2])
        t._real = lambda n, t=t: (x.to(t.device), None)          # the seed's model takes no labels
        t._latent = lambda n, t=t, latents=latents: (next(latents).to(t.device), None)
        t.step()
        trainers[where] = t
    worst = max((a.detach().cpu() - b.detach().cpu()).abs().max().item()
                for m in ("G", "D")
                for a, b in zip(getattr(trainers["cpu"], m).parameters(), getattr(trainers[device], m).parameters()))
    moved = max((p.detach() - p0).abs().max().item() for p, p0 in zip(trainers["cpu"].G.parameters(), init))
    return {"passed": worst < 1e-4 and moved > 0, "max_weight_difference": worst, "max_step_of_G": moved}


def check_session(seconds: float) -> dict:
    s = session.TrainingSession(ModelSpec(), LiveSettings(), scheduler=Scheduler(1))
    s.start()
    time.sleep(seconds)
    snap = s.snapshot()
    s.stop()
    grid_ok = snap.grid is not None and snap.grid.size > 0
    return {"passed": snap.step > 0 and grid_ok and snap.state != session.FAILED,
            "steps": snap.step, "state": snap.state, "message": snap.message}


def steps_per_s(spec: ModelSpec, s: LiveSettings, digits: data.Digits, seconds: float) -> float:
    # each step reads its metrics back (the one host sync the live page needs), so a step's time on
    # the clock is its time on the device: no extra synchronisation around the window
    return round(rate(Trainer(spec, s, digits=digits).step, seconds), 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    a = p.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"cuda": False, "torch": torch.__version__}))
        return 2
    digits = data.load()[0]
    checks = {"device": check_device(digits, a.device), "same_step": check_same_step(digits, a.device),
              "session": check_session(a.seconds)}
    speed = {"seed_mlp_b128": steps_per_s(ModelSpec(arch="mlp", conditional=False), LiveSettings(batch_size=128),
                                          digits, a.seconds),
             "default": steps_per_s(ModelSpec(), LiveSettings(), digits, a.seconds)}
    gpu = torch.cuda.get_device_name() if a.device == "cuda" else None
    print(json.dumps({"device": a.device, "gpu": gpu, "torch": torch.__version__,
                      "checks": checks, "trainer_steps_per_s": speed}, indent=2))
    return 0 if all(c["passed"] for c in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
