"""One training step in slow motion, on one small batch, in the seed's four stages.

D's update, then G's, as Trainer.step does them (one of each), each read as: forward (the images and
D's outputs), loss (its value and each term), backward (each layer's gradient norm, and the gradient
at the pixels), update (the same batch's D outputs, or G's images, after the step next to before).
It is a real step of the run: the batch comes from the trainer's own random stream, the optimizers
step, G's EMA follows and the step counter advances. Unlike Trainer.step, G's update reuses the
batch's z (not a fresh one), so the learner follows the same images through both updates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import losses, models, probe, render
from .trainer import DivergenceError, Trainer
from .i18n import msg

BATCH = 8


@dataclass(frozen=True)
class SlowStep:
    step: int                          # the run's step after this one
    loss: str
    real: torch.Tensor                 # (n, 1, 28, 28) the real batch
    y_real: torch.Tensor | None        # (n,) its labels, for a conditional model
    z: torch.Tensor                    # (n, latent_dim) the latent batch
    y_fake: torch.Tensor | None        # (n,) the digits asked of a conditional G
    fake: torch.Tensor                 # (n, 1, 28, 28) G(z) before the step
    # D's update
    d_real_before: list[float]         # D(x) = sigmoid(logit), per image
    d_fake_before: list[float]         # D(G(z))
    loss_d: float
    terms_d: dict[str, float]          # "real", "fake" (and "penalty" for WGAN-GP): they sum to loss_d
    grad_norms_d: dict[str, float]     # ||∂L_D/∂θ|| per layer of D
    pixel_real: torch.Tensor           # (n, 1, 28, 28) ∂L_D/∂x
    pixel_fake_d: torch.Tensor         # (n, 1, 28, 28) ∂L_D/∂G(z)
    d_real_after: list[float]          # D'(x) after D's update
    d_fake_after: list[float]          # D'(G(z))
    # G's update, against D after its update
    d_fake_g_before: list[float]       # D'(G(z)): what G's loss reads
    loss_g: float
    grad_norms_g: dict[str, float]     # ||∂L_G/∂θ|| per layer of G
    pixel_fake_g: torch.Tensor         # (n, 1, 28, 28) ∂L_G/∂G(z)
    fake_after: torch.Tensor           # (n, 1, 28, 28) G'(z)
    d_fake_g_after: list[float]        # D'(G'(z))
    metrics: dict[str, float]          # the round's metrics, as Trainer.step returns them


def _p(logits: torch.Tensor) -> list[float]:
    return torch.sigmoid(logits.detach().float()).cpu().tolist()


def _norms(model: torch.nn.Module, tag: str) -> dict[str, float]:
    return {f"{tag}.{name}": float(torch.sqrt(sum(p.grad.pow(2).sum() for p in params)))
            for name, params in models.layers(model)}


def _finite(step: int, loss_d: float, loss_g: float) -> None:
    if not (math.isfinite(loss_d) and math.isfinite(loss_g)):
        raise DivergenceError(msg("step {step}: loss is not finite (L_D={loss_d:.4g}, L_G={loss_g:.4g})",
                                  step=step, loss_d=loss_d, loss_g=loss_g))


def slow_step(t: Trainer, n: int = BATCH) -> SlowStep:
    """One real step of the run on n images, recorded stage by stage (on the worker)."""
    s, G, D = t.settings, t.G, t.D
    loss_d_of, loss_g_of = losses.LOSSES[s.loss]
    G.train(), D.train()
    x, y_real = t.real_batch(n)
    y_real = y_real if t.spec.conditional else None
    z, y_fake = t._latent(n)

    # -- (1) D's update. Forward: G draws (no graph into G), D judges both batches
    with torch.no_grad():
        fake = G(z, y_fake)                                                 # (n, 1, 28, 28)
    x_in, fake_in = x.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    real_logit, fake_logit = D(x_in, y_real), D(fake_in, y_fake)            # (n,), (n,)
    # loss: L_D's terms
    on_real, on_fake = losses.d_terms(s.loss, real_logit, fake_logit, s.label_smoothing)
    terms = {"real": on_real, "fake": on_fake}
    if s.loss == "wgan-gp":
        eps = torch.rand(n, 1, 1, 1, generator=t.rng, device=t.device)
        terms["penalty"] = s.gp_weight * losses.gradient_penalty(D, x_in, fake_in, eps, y_real)
    loss_d = sum(terms.values())
    # backward: into D's weights, and to the pixels of both batches
    params = list(D.parameters())
    *grads, pixel_real, pixel_fake_d = torch.autograd.grad(loss_d, [*params, x_in, fake_in], allow_unused=True)
    for p, g in zip(params, grads):
        p.grad = g
    t._average_grads(D)
    grad_norms_d = _norms(D, "D")
    # update
    t.opt_d.step()
    with torch.no_grad(), probe._buffers_kept(G, D):
        d_real_after, d_fake_after = _p(D(x, y_real)), _p(D(fake, y_fake))

    # -- (2) G's update on the same z, against D after its update. Forward: through G and D
    images = G(z, y_fake)                                                   # (n, 1, 28, 28), graph into G
    fake_logit_g = D(images, y_fake)                                        # (n,)
    loss_g = loss_g_of(fake_logit_g)
    # backward: through D's frozen layers into G's weights, and to the pixels of G(z)
    params = list(G.parameters())
    *grads, pixel_fake_g = torch.autograd.grad(loss_g, [*params, images])
    for p, g in zip(params, grads):
        p.grad = g
    t._average_grads(G)
    grad_norms_g = _norms(G, "G")
    _finite(t.step_count, float(loss_d.detach()), float(loss_g.detach()))
    # update
    t.opt_g.step()
    with torch.no_grad(), probe._buffers_kept(G, D):
        fake_after = G(z, y_fake)
        d_fake_g_after = _p(D(fake_after, y_fake))
    metrics = t.end_round(loss_d.detach(), loss_g.detach(), real_logit, fake_logit)

    cpu = lambda a: a.detach().float().cpu()  # noqa: E731
    return SlowStep(
        step=t.step_count, loss=s.loss, real=cpu(x), fake=cpu(fake), z=cpu(z),
        y_real=None if y_real is None else y_real.cpu(), y_fake=None if y_fake is None else y_fake.cpu(),
        d_real_before=_p(real_logit), d_fake_before=_p(fake_logit), loss_d=float(loss_d.detach()),
        terms_d={k: float(v.detach()) for k, v in terms.items()}, grad_norms_d=grad_norms_d,
        pixel_real=cpu(pixel_real), pixel_fake_d=cpu(pixel_fake_d),
        d_real_after=d_real_after, d_fake_after=d_fake_after,
        d_fake_g_before=_p(fake_logit_g), loss_g=float(loss_g.detach()), grad_norms_g=grad_norms_g,
        pixel_fake_g=cpu(pixel_fake_g), fake_after=cpu(fake_after), d_fake_g_after=d_fake_g_after,
        metrics=metrics)


def pictures(r: SlowStep, scale: int = 2) -> dict[str, bytes]:
    """The record's images as PNG strips (one row of n), and its pixel gradients as advice pictures
    (render.advice_png: PNG bytes, with the |∂L/∂x| of full colour under "<name>_scale")."""
    n = len(r.real)
    out = {name: render.png(getattr(r, name), nrow=n, scale=scale) for name in ("real", "fake", "fake_after")}
    for name in ("pixel_real", "pixel_fake_d", "pixel_fake_g"):
        images = r.real if name == "pixel_real" else r.fake
        out[name], out[f"{name}_scale"] = render.advice_png(images, getattr(r, name), nrow=n, scale=scale)
    return out
