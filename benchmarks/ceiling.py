"""How close to the matmul limit can an eager PyTorch step of the seed model come on this machine?

    python benchmarks/ceiling.py [--threads N] [--repeats 5] [--seconds 1.5]

The seed's GAN step (G 100->128->784, D 784->128->1, batch 128, BCE, Adam) written out with its
backward derived by hand: about 40 ops, no autograd, no modules, no metrics beyond the two losses,
no EMA. That is close to the least any step can do, so its share of the matmul limit bounds what
the Trainer can reach by trimming its own work. Contenders interleave as in speed.py; one JSON
document, then a table.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_core import cpus, data, host  # noqa: E402
from gan_core.config import LiveSettings, ModelSpec  # noqa: E402
from gan_core.trainer import Trainer  # noqa: E402
from speed import alone, count_step, matmul_limit, rate  # noqa: E402

SEED_SPEC, SEED_SETTINGS = ModelSpec(arch="mlp", conditional=False), LiveSettings(batch_size=128)


class HandStep:
    """The seed model's step, the chain rule by hand, on copies of a Trainer's initial weights."""

    def __init__(self, t: Trainer):
        g1, g2, d1, d2 = t.G.net[0], t.G.net[2], t.D.features[1], t.D.head
        self.g_params = [p.detach().clone() for p in (g1.weight, g1.bias, g2.weight, g2.bias)]
        self.d_params = [p.detach().clone() for p in (d1.weight, d1.bias, d2.weight, d2.bias)]
        s, self.B, self.latent_dim = t.settings, t.settings.batch_size, t.spec.latent_dim
        self.images = t.images.view(len(t.images), -1)
        self.gen = torch.Generator().manual_seed(0)
        self.target = torch.cat([torch.ones(self.B, 1), torch.zeros(self.B, 1)])   # real, then fake
        self.opt_g = torch.optim.Adam(self.g_params, lr=s.lr_g, betas=(s.beta1, s.beta2), fused=True)
        self.opt_d = torch.optim.Adam(self.d_params, lr=s.lr_d, betas=(s.beta1, s.beta2), fused=True)

    def G(self, z):
        W1, b1, W2, b2 = self.g_params
        h_pre = torch.addmm(b1, z, W1.t())                           # (n, 128)
        h = h_pre.relu()
        return h_pre, h, torch.addmm(b2, h, W2.t()).sigmoid_()       # images (n, 784)

    def D(self, x):
        V1, c1, V2, c2 = self.d_params
        a_pre = torch.addmm(c1, x, V1.t())                           # (n, 128)
        a = a_pre.relu()
        return a_pre, a, torch.addmm(c2, a, V2.t())                  # logits (n, 1)

    def grads_d(self, x, z):
        """L_D = -mean log σ(l_real) - mean log(1 - σ(l_fake)), so dL_D/dl = (σ(l) - target) / B."""
        X = torch.cat([x, self.G(z)[2]])                             # (2B, 784)
        a_pre, a, logit = self.D(X)
        dl = (torch.sigmoid(logit) - self.target).div_(self.B)      # (2B, 1)
        da = (dl @ self.d_params[2]).mul_(a_pre > 0)                 # (2B, 128)
        loss = 2 * F.binary_cross_entropy_with_logits(logit, self.target)
        return loss, [da.t() @ X, da.sum(0), dl.t() @ a, dl.sum(0)]

    def grads_g(self, z):
        """L_G = -mean log σ(l), so dL_G/dl = (σ(l) - 1) / B; back through D (fixed) into G."""
        h_pre, h, img = self.G(z)
        a_pre, a, logit = self.D(img)
        dl = (torch.sigmoid(logit) - 1).div_(self.B)                 # (B, 1)
        da = (dl @ self.d_params[2]).mul_(a_pre > 0)                 # (B, 128)
        dimg = (da @ self.d_params[0]).mul_(img * (1 - img))         # σ' = σ(1 - σ); (B, 784)
        dh = (dimg @ self.g_params[2]).mul_(h_pre > 0)               # (B, 128)
        loss = F.softplus(-logit).mean()
        return loss, [dh.t() @ z, dh.sum(0), dimg.t() @ h, dimg.sum(0)]

    def step(self) -> list[float]:
        idx = torch.randint(len(self.images), (self.B,), generator=self.gen)
        x = self.images.index_select(0, idx).float().div_(255)
        z = torch.randn(2 * self.B, self.latent_dim, generator=self.gen)
        loss_d, grads = self.grads_d(x, z[:self.B])
        for p, g in zip(self.d_params, grads):
            p.grad = g
        self.opt_d.step()
        loss_g, grads = self.grads_g(z[self.B:])
        for p, g in zip(self.g_params, grads):
            p.grad = g
        self.opt_g.step()
        return torch.stack([loss_d, loss_g]).tolist()   # one host sync, as the Trainer's metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=cpus.usable().count, help="default: the CPUs this process may use")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seconds", type=float, default=1.5, help="length of one timed window")
    a = p.parse_args()
    host.configure(max_running=1, threads=a.threads)
    digits = alone(lambda: data.load()[0])
    trainer = alone(lambda: Trainer(SEED_SPEC, SEED_SETTINGS, digits=digits))
    hand = alone(lambda: HandStep(trainer))
    flop, shapes = alone(lambda: count_step(trainer))
    trains, hands, limits = [], [], []
    for _ in range(a.repeats):
        trains.append(alone(lambda: rate(trainer.step, a.seconds)))
        hands.append(alone(lambda: rate(hand.step, a.seconds)))
        limits.append(alone(lambda: matmul_limit(shapes, a.seconds)))
    trained, by_hand, limit = (statistics.median(r) for r in (trains, hands, limits))
    report = {
        "model": "seed", "batch_size": SEED_SETTINGS.batch_size, "threads": torch.get_num_threads(),
        "trainer_steps_per_s": round(trained, 1), "by_hand_steps_per_s": round(by_hand, 1),
        "by_hand_vs_trainer": round(by_hand / trained, 3),
        "gflop_per_step": round(flop / 1e9, 4), "matmul_limit_gflops": round(limit / 1e9, 1),
        "trainer_fraction_of_matmul_limit": round(statistics.median(
            r * flop / lim for r, lim in zip(trains, limits)), 3),
        "by_hand_fraction_of_matmul_limit": round(statistics.median(
            r * flop / lim for r, lim in zip(hands, limits)), 3),
    }
    print(json.dumps(report, indent=2))
    print()
    print(" | ".join(report))
    print(" | ".join(str(v) for v in report.values()))


if __name__ == "__main__":
    main()
