"""How many sessions should train at once on a GPU? Total steps/s and device memory for k at once.

    python benchmarks/gpu_load.py [--seconds 4] [--counts 1,2,4,8,16]

For each k, k TrainingSessions (the default model, on the GPU) train together under a cap of k for
--seconds after a warm-up; it prints their total steps/s, the least any one took, and the device
memory each holds. The cap to choose is the smallest k whose total is within 10% of the best: past
it, the trainers' Python loops (one GIL between them) and the GPU are saturated and a further
trainer only slows the others. On a machine without CUDA it says so and exits 0.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import cpus, data, host, session  # noqa: E402
from gan_core.scheduler import Scheduler  # noqa: E402


def together(k: int, seconds: float) -> dict:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    group = [session.TrainingSession(scheduler=Scheduler(k)) for _ in range(k)]
    for s in group:
        s.start()
    time.sleep(2.0)
    before = [s.snapshot().step for s in group]
    time.sleep(seconds)
    steps = [s.snapshot().step - b for s, b in zip(group, before)]
    held = (torch.cuda.memory_allocated() - base) / k / 2**20
    host.stop_all()
    device = {s.snapshot().spec.device for s in group}
    del group
    return {"k": k, "total_steps_per_s": round(sum(steps) / seconds, 1),
            "least_steps_per_s": round(min(steps) / seconds, 1), "mb_each": round(held, 1),
            "peak_mb": round(torch.cuda.max_memory_allocated() / 2**20), "spec_device": sorted(device)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--counts", default="1,2,4,8,16")
    a = p.parse_args()
    if not torch.cuda.is_available():
        print("gpu_load: no CUDA device here, nothing to measure (run it on a machine with a GPU)")
        return 0
    data.load()
    total_mb = torch.cuda.get_device_properties(0).total_memory / 2**20
    rows = [together(int(k), a.seconds) for k in a.counts.split(",")]
    best = max(r["total_steps_per_s"] for r in rows)
    knee = min(r["k"] for r in rows if r["total_steps_per_s"] >= 0.9 * best)
    print(json.dumps({"gpu": torch.cuda.get_device_name(), "memory_mb": round(total_mb), "rows": rows,
                      "knee": knee, "default_cap": cpus.trainers_at_once(gpu_memory_mb=total_mb)}, indent=1))
    print()
    for r in rows:
        print(f"k={r['k']}: total {r['total_steps_per_s']} steps/s, least {r['least_steps_per_s']}, "
              f"{r['mb_each']} MB of device memory each")
    print(f"smallest k within 10% of the best total: {knee} (GAN_STUDIO_MAX_RUNNING={knee}); "
          f"default cap here: {cpus.trainers_at_once(gpu_memory_mb=total_mb)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
