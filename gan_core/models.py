"""Generators and discriminators. G maps z (B, latent_dim) to images (B, 1, 28, 28) in [0, 1];
D maps images to logits (B,), so every loss works on logits.

mlp       the seed's reference: G 100->128 (ReLU)->784 (sigmoid), D 784->128 (ReLU)->1
mlp_wide  the default: wider and deeper, LeakyReLU. Conditional, it drew the best digits per CPU
          second we measured (60 s on 2 cores: ~95% legible, Fréchet ratio ~5-7 over four seeds)
conv      a small DCGAN sized for 28x28 (~35 steps/s at batch 32; 60 s gave ~80% legible, ratio ~14)

A conditional model (label-embedded) gives G the one-hot digit next to z and gives D a projection
term <embed(y), features(x)> (Miyato & Koyama, 2018) added to its logit.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelSpec

N_CLASSES = 10
IMAGE_SHAPE = (1, 28, 28)


class Generator(nn.Module):
    def __init__(self, net: nn.Sequential, latent_dim: int, conditional: bool):
        super().__init__()
        self.net, self.latent_dim, self.conditional = net, latent_dim, conditional

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditional:
            z = torch.cat([z, F.one_hot(y, N_CLASSES).to(z.dtype)], dim=1)  # (B, latent_dim + 10)
        return self.net(z).view(-1, *IMAGE_SHAPE)  # (B, 1, 28, 28)


class Discriminator(nn.Module):
    def __init__(self, features: nn.Sequential, width: int, conditional: bool):
        super().__init__()
        self.features = features                     # (B, 1, 28, 28) -> (B, width)
        self.head = nn.Linear(width, 1)              # (B, width) -> (B, 1)
        self.embed = nn.Embedding(N_CLASSES, width) if conditional else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)                         # (B, width)
        logit = self.head(h).squeeze(1)              # (B,)
        if self.embed is not None:
            logit = logit + (self.embed(y) * h).sum(1)
        return logit


def _mlp(latent_in: int) -> tuple[nn.Sequential, nn.Sequential, int]:
    g = nn.Sequential(
        nn.Linear(latent_in, 128), nn.ReLU(),        # (B, 128)
        nn.Linear(128, 784), nn.Sigmoid(),           # (B, 784) pixels in [0, 1]
    )
    d = nn.Sequential(
        nn.Flatten(),                                # (B, 784)
        nn.Linear(784, 128), nn.ReLU(),              # (B, 128)
    )
    return g, d, 128


def _mlp_wide(latent_in: int) -> tuple[nn.Sequential, nn.Sequential, int]:
    # LeakyReLU keeps gradients flowing to G when D saturates; LayerNorm-free, so the models
    # behave the same at batch 8 and at batch 1024.
    g = nn.Sequential(
        nn.Linear(latent_in, 256), nn.LeakyReLU(0.2),  # (B, 256)
        nn.Linear(256, 512), nn.LeakyReLU(0.2),        # (B, 512)
        nn.Linear(512, 784), nn.Sigmoid(),             # (B, 784)
    )
    d = nn.Sequential(
        nn.Flatten(),                                  # (B, 784)
        nn.Linear(784, 512), nn.LeakyReLU(0.2),        # (B, 512)
        nn.Linear(512, 256), nn.LeakyReLU(0.2),        # (B, 256)
    )
    return g, d, 256


def _conv(latent_in: int) -> tuple[nn.Sequential, nn.Sequential, int]:
    # pytorch/examples dcgan, shrunk: two up-samplings 7 -> 14 -> 28 instead of four, and few
    # channels, so that a CPU takes ~30 steps/s; convolutions this small run far below the CPU's
    # matmul speed, which is why the MLP draws better digits in the same minute
    g = nn.Sequential(
        nn.Linear(latent_in, 32 * 7 * 7), nn.BatchNorm1d(32 * 7 * 7), nn.ReLU(),  # (B, 1568)
        nn.Unflatten(1, (32, 7, 7)),                                 # (B, 32, 7, 7)
        nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),  # (B, 16, 14, 14)
        nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Sigmoid(),            # (B, 1, 28, 28)
    )
    # D sees a real batch and a fake batch in separate calls, so its BatchNorm never mixes them
    d = nn.Sequential(
        nn.Conv2d(1, 16, 4, 2, 1), nn.LeakyReLU(0.2),                # (B, 16, 14, 14)
        nn.Conv2d(16, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.LeakyReLU(0.2),  # (B, 32, 7, 7)
        nn.Flatten(),                                                # (B, 1568)
    )
    _dcgan_init(g, d)
    return g, d, 32 * 7 * 7


def _dcgan_init(*nets: nn.Module) -> None:
    # DCGAN's N(0, 0.02) weights: small initial outputs, so neither player saturates at step 0
    for m in (m for net in nets for m in net.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


ARCHITECTURES = {"mlp": _mlp, "mlp_wide": _mlp_wide, "conv": _conv}


def output_layer(g: Generator) -> nn.Module:
    """G's last layer with weights: the one that draws the pixels (before the sigmoid)."""
    return [m for m in g.net if isinstance(m, (nn.Linear, nn.ConvTranspose2d))][-1]


def init_background(g: Generator, mean_pixels: torch.Tensor) -> None:
    """Set G's output bias to the logit of the training images' mean (`Digits.mean_pixels`, (784,)),
    pixel by pixel, when G's last layer has one bias per pixel (the MLPs), so G starts by drawing the
    mean digit on its dark background instead of grey; conv's last layer shares one bias over all
    pixels and keeps its own."""
    last = output_layer(g)
    if last.bias is None or last.bias.numel() != 784:
        return
    mean = mean_pixels.clamp(0.01, 0.99)   # logit(0) would be -inf
    with torch.no_grad():
        last.bias.copy_(torch.logit(mean).to(last.bias.dtype))


def build(spec: ModelSpec) -> tuple[Generator, Discriminator]:
    """G and D for `spec`, initialised from the global RNG (seed it first)."""
    latent_in = spec.latent_dim + (N_CLASSES if spec.conditional else 0)
    g_net, d_features, width = ARCHITECTURES[spec.arch](latent_in)
    return Generator(g_net, spec.latent_dim, spec.conditional), Discriminator(d_features, width, spec.conditional)


def layers(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """(name, parameters) of every layer that has weights, in forward order."""
    out = []
    for name, module in model.named_modules():
        params = list(module.parameters(recurse=False))
        if params:
            out.append((name, params))
    return out
