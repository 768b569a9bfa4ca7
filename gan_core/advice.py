"""D's advice, pixel by pixel: the gradient of a loss with respect to the images themselves.

Sign convention: a picture shows -∂L/∂x, the way one gradient step on L moves each pixel. G's step
changes its weights, not its images, but to first order it moves G(z) along -∂L_G/∂G(z) (as far as
G's layers can follow), so where -∂L_G/∂x > 0 the step adds ink (pixels run from 0, background, to
1, ink) and where it is < 0 it removes ink. On real digits -∂L_D/∂x is where D would want more or
less ink to call a digit real: what D looks at.

Runs on the session's worker between two steps and leaves the run as it was: autograd.grad with
respect to the images leaves every weight's .grad alone, the images are the fixed noise's and a
fixed handful of real digits (no draw from the trainer's random stream), and BatchNorm running
statistics are put back.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import losses, probe
from .config import LiveSettings
from .trainer import Trainer

REAL_N = 8          # real digits shown with dL_D/dx
PERCENTILE = 99     # a picture's full colour is at this percentile of its |∂L/∂x|


@dataclass(frozen=True)
class Advice:
    step: int
    loss: str
    images: torch.Tensor       # (n, 1, 28, 28) the live G's images of the fixed noise
    grads: torch.Tensor        # (n, 1, 28, 28) ∂L_G/∂G(z), L_G on D's logits of exactly these images
    real: torch.Tensor         # (m, 1, 28, 28) real digits
    real_grads: torch.Tensor   # (m, 1, 28, 28) ∂L_D/∂x on them, next to the first m images above


def generator_grads(G, D, z: torch.Tensor, y: torch.Tensor | None, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(G(z), ∂L_G/∂G(z)) for the loss named `loss`, L_G over this one batch."""
    with torch.no_grad():
        images = G(z, y)                                          # (n, 1, 28, 28)
    images.requires_grad_(True)
    loss_g = losses.LOSSES[loss][1](D(images, y))                 # scalar: a mean over the batch
    (grads,) = torch.autograd.grad(loss_g, images)
    return images.detach(), grads


def discriminator_grads(D, real: torch.Tensor, fake: torch.Tensor, y_real, y_fake, s: LiveSettings,
                        eps: torch.Tensor | None = None) -> torch.Tensor:
    """∂L_D/∂x on the real images, L_D as the trainer computes it on (real, fake), penalty included."""
    real = real.detach().clone().requires_grad_(True)
    loss_d = losses.LOSSES[s.loss][0](D(real, y_real), D(fake, y_fake), s.label_smoothing)
    if s.loss == "wgan-gp":
        loss_d = loss_d + s.gp_weight * losses.gradient_penalty(D, real, fake, eps, y_real)
    (grads,) = torch.autograd.grad(loss_d, real)
    return grads


def compute(t: Trainer, real_n: int = REAL_N) -> Advice:
    """The advice for the fixed-noise grid and for the first real_n training digits (on the worker)."""
    cond = t.spec.conditional
    y = t.fixed_y if cond else None
    real = t.images[:real_n].unsqueeze(1).float() / 255.0          # (m, 1, 28, 28): the same digits every frame
    y_real = t.labels[:real_n] if cond else None
    # the penalty's mixing weights: fixed, so that two frames differ only by the models
    eps = torch.rand(real_n, 1, 1, 1, generator=torch.Generator().manual_seed(0)).to(t.device)
    with probe._buffers_kept(t.G, t.D):
        was = t.G.training, t.D.training
        t.G.train(), t.D.train()                                  # as in a training step
        images, grads = generator_grads(t.G, t.D, t.fixed_z, y, t.settings.loss)
        real_grads = discriminator_grads(t.D, real, images[:real_n], y_real, None if y is None else y[:real_n],
                                         t.settings, eps)
        t.G.train(was[0]), t.D.train(was[1])
    return Advice(t.step_count, t.settings.loss, images.cpu(), grads.cpu(), real.cpu(), real_grads.cpu())
