"""GAN objectives as small pure functions of D's logits (B,).

D(x) = sigmoid(logit) for the bce loss; the other losses read the logit as a raw critic score.
Each pair is (loss_d, loss_g); both are minimised.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


# L_D = -E[log D(x)] - E[log(1 - D(G(z)))]; one-sided smoothing makes the real target 1 - s
def bce_d(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    real_target = torch.full_like(real, 1.0 - smoothing)
    return (F.binary_cross_entropy_with_logits(real, real_target)
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


# non-saturating L_G = -E[log D(G(z))]: strong gradients exactly when D rejects G's images
def bce_g(fake: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


# L_D = E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]
def hinge_d(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


# L_G = -E[D(G(z))]
def hinge_g(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


# L_D = 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]
def lsgan_d(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake ** 2).mean()


# L_G = 1/2 E[(D(G(z)) - 1)^2]
def lsgan_g(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((fake - 1.0) ** 2).mean()


# L_D = E[D(G(z))] - E[D(x)]  (+ λ·gradient_penalty, added by the trainer)
def wgan_d(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    return fake.mean() - real.mean()


# L_G = -E[D(G(z))]
def wgan_g(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


# GP = E[(||∇_x̂ D(x̂)||_2 - 1)^2], x̂ = εx + (1-ε)G(z), ε ~ U[0, 1] per sample (Gulrajani et al.)
def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor,
                     y: torch.Tensor | None = None) -> torch.Tensor:
    x_hat = (eps * real + (1.0 - eps) * fake).requires_grad_(True)   # (B, 1, 28, 28)
    score = critic(x_hat, y)                                         # (B,)
    (grad,) = torch.autograd.grad(score.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


LOSSES = {
    "bce": (bce_d, bce_g),
    "hinge": (hinge_d, hinge_g),
    "lsgan": (lsgan_d, lsgan_g),
    "wgan-gp": (wgan_d, wgan_g),
}


# L_D's two terms, (on real images, on generated ones), written out for the slow-motion view; each
# pair sums to that loss's L_D (WGAN-GP's penalty is the trainer's third term)
D_TERMS = {
    "bce": (lambda real, s: F.binary_cross_entropy_with_logits(real, torch.full_like(real, 1.0 - s)),
            lambda fake: F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))),
    "hinge": (lambda real, s: F.relu(1.0 - real).mean(), lambda fake: F.relu(1.0 + fake).mean()),
    "lsgan": (lambda real, s: 0.5 * ((real - 1.0) ** 2).mean(), lambda fake: 0.5 * (fake ** 2).mean()),
    "wgan-gp": (lambda real, s: -real.mean(), lambda fake: fake.mean()),
}


def d_terms(name: str, real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(the term of L_D on D's real logits, the term on its fake logits) for the loss `name`."""
    on_real, on_fake = D_TERMS[name]
    return on_real(real, smoothing), on_fake(fake)
