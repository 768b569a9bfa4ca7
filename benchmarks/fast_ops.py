"""What fast.py's multi-tensor ops save against their public loops, and what Optimizer.step costs.

    python benchmarks/fast_ops.py [--threads 2]

For the seed model and the default model, after a few steps: the best time per call (µs, best of
15 x 200 calls, in a thread of its own as on the server) of the layer norms and G's EMA, each
through fast.py and as a loop of public ops, and of the two Adam steps; and of one whole step.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import timeit
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import data, fast  # noqa: E402
from gan_core.config import LiveSettings, ModelSpec  # noqa: E402
from gan_core.trainer import Trainer  # noqa: E402


def best(fn, number: int = 200, repeat: int = 15) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def measure(spec: ModelSpec, digits: data.Digits) -> dict[str, float]:
    t = Trainer(spec, LiveSettings(), digits=digits)
    for _ in range(3):
        t.step()
    grads = [p.grad for m in (t.D, t.G) for p in m.parameters()]
    ema, live = list(t.G_ema.parameters()), list(t.G.parameters())

    def norms_loop():
        torch.stack([torch.linalg.vector_norm(g) for g in grads])

    def ema_loop():
        for e, w in zip(ema, live):
            e.lerp_(w, 0.002)
    with torch.no_grad():
        return {
            "norms_fast_us": best(lambda: fast.norms(grads)), "norms_loop_us": best(norms_loop),
            "ema_fast_us": best(lambda: fast.lerp_(ema, live, 0.002)), "ema_loop_us": best(ema_loop),
            "adam_steps_us": best(lambda: (t.opt_g.step(), t.opt_d.step())),
            "step_us": best(t.step, number=20, repeat=7),
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    out: dict[str, dict] = {}

    def run():   # torch in a thread of its own, the main thread free of it (see speed.py)
        torch.set_num_threads(a.threads)
        digits = data.load("bundled")[0]
        for name, spec in (("seed", ModelSpec(arch="mlp", conditional=False)), ("default", ModelSpec())):
            out[name] = {k: round(v, 1) for k, v in measure(spec, digits).items()}
    th = threading.Thread(target=run)
    th.start()
    th.join()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
