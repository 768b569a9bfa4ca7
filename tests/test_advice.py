"""D's advice pixel by pixel: the drawn gradients against autograd's, computed apart, and the sign
convention on a case built by hand."""
import copy
import io

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core import advice, losses, render
from gan_core.config import LiveSettings, ModelSpec
from gan_core.trainer import Trainer


def trained(digits, arch="mlp", loss="bce", conditional=False, steps=2):
    t = Trainer(ModelSpec(arch=arch, conditional=conditional), LiveSettings(loss=loss, batch_size=16), digits=digits)
    for _ in range(steps):
        t.step()
    return t


def decoded(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.mark.parametrize("arch,loss,conditional", [("mlp", "bce", False), ("mlp_wide", "hinge", True),
                                                   ("conv", "wgan-gp", True), ("mlp", "lsgan", False)])
def test_the_drawn_advice_is_autograds_gradient_of_L_G_on_the_same_batch(digits, arch, loss, conditional):
    t = trained(digits, arch, loss, conditional)
    a = advice.compute(t)
    # the oracle: copies of the models, L_G written from the loss table, .backward() to the images
    G, D = copy.deepcopy(t.G).train(), copy.deepcopy(t.D).train()
    y = t.fixed_y if conditional else None
    x = G(t.fixed_z, y)
    x.retain_grad()
    losses.LOSSES[loss][1](D(x, y)).backward()
    torch.testing.assert_close(a.images, x.detach())
    torch.testing.assert_close(a.grads, x.grad, rtol=1e-4, atol=1e-9)
    # what is drawn is that gradient: the page's PNG against a drawing of the oracle's
    png, full = render.advice_png(a.images, a.grads, nrow=8, scale=1)
    assert full == pytest.approx(float(np.percentile(x.grad.abs().numpy(), 99)), rel=1e-4)
    want = render.advice_array(x.detach(), x.grad, nrow=8, scale=full)
    assert np.abs(decoded(png).astype(int) - want.astype(int)).max() <= 1


def test_the_real_digits_advice_is_autograds_gradient_of_L_D(digits):
    t = trained(digits, "mlp_wide", "bce", conditional=True)
    a = advice.compute(t)
    m = advice.REAL_N
    x = (t.images[:m].unsqueeze(1).float() / 255).requires_grad_(True)
    y, y_fake = t.labels[:m], t.fixed_y[:m]
    with torch.no_grad():
        fake = t.G(t.fixed_z[:m], y_fake)
    # the seed's L_D written out: -E[log D(x)] - E[log(1 - D(G(z)))]
    loss_d = -torch.log(torch.sigmoid(t.D(x, y))).mean() - torch.log(1 - torch.sigmoid(t.D(fake, y_fake))).mean()
    (want,) = torch.autograd.grad(loss_d, x)
    torch.testing.assert_close(a.real, x.detach())
    # float32 round-off scales with the gradient: 1e-6 of its largest entry, ~10 ulps there
    torch.testing.assert_close(a.real_grads, want, rtol=1e-4, atol=1e-6 * want.abs().max().item())


class Fixed(torch.nn.Module):
    """A 'G' that draws the same grey image whatever z."""
    def forward(self, z, y=None):
        return torch.full((len(z), 1, 28, 28), 0.5)


class Linear(torch.nn.Module):
    """A 'D' whose logit is +1 per unit of ink in the left half, -1 per unit in the right half."""
    def forward(self, x, y=None):
        w = torch.ones(28, 28)
        w[:, 14:] = -1.0
        return (x[:, 0] * w).sum((1, 2))


def test_sign_convention_on_a_case_built_by_hand():
    # D says "real" for ink on the left: L_G = -log σ(D(x)) falls as ink is added on the left and
    # removed on the right. With the grey image the logit is 0, so ∂L_G/∂x = -(1 - σ(0))·w = -w/2.
    images, grads = advice.generator_grads(Fixed(), Linear(), torch.zeros(1, 4), None, "bce")
    assert torch.equal(grads[0, 0, :, :14], torch.full((28, 14), -0.5))
    assert torch.equal(grads[0, 0, :, 14:], torch.full((28, 14), 0.5))
    # -∂L_G/∂x > 0 on the left: a step of G adds ink there, drawn orange; blue on the right
    rgb = render.advice_array(images, grads, nrow=1, pad=0)     # full colour: |∂L/∂x| is its own 99th percentile
    assert tuple(rgb[5, 3]) == render.INK_ADDED and tuple(rgb[20, 25]) == render.INK_REMOVED
    assert render.INK_ADDED[0] > render.INK_ADDED[2] and render.INK_REMOVED[2] > render.INK_REMOVED[0]  # orange, blue


def test_half_strength_blends_the_colour_with_the_dimmed_digit():
    images = torch.ones(1, 1, 28, 28)                           # full ink, shown at DIGIT_SHADE grey
    grads = torch.zeros(1, 1, 28, 28)
    grads[0, 0, 0, 0] = -2.0                                    # the one pixel with advice
    rgb = render.advice_array(images, grads, nrow=1, pad=0, scale=4.0)   # |v| = 2 / 4 = 1/2
    grey = render.DIGIT_SHADE * 255
    want = [round(0.5 * grey + 0.5 * c) for c in render.INK_ADDED]
    assert np.abs(rgb[0, 0].astype(int) - want).max() <= 1
    assert tuple(rgb[10, 10]) == (round(grey),) * 3             # no advice: the digit alone


def test_the_scale_is_the_99th_percentile_and_an_all_zero_frame_draws_no_colour():
    g = torch.arange(1000, dtype=torch.float32).view(10, 1, 10, 10) - 500
    assert render.advice_scale(g) == pytest.approx(np.percentile(np.abs(g.numpy()), 99))
    assert render.advice_scale(torch.zeros(3, 1, 28, 28)) == 1.0
    rgb = render.advice_array(torch.zeros(2, 1, 28, 28), torch.zeros(2, 1, 28, 28), nrow=2)
    assert rgb.max() == 0                                       # black digits, no advice


def test_advice_leaves_the_run_as_it_was(digits):
    # BatchNorm statistics, weights, their gradients and the trainer's random stream are untouched
    t = trained(digits, "conv", "bce", conditional=True)
    state = copy.deepcopy({**t.G.state_dict(), **{f"D.{k}": v for k, v in t.D.state_dict().items()}})
    grads = [p.grad.clone() for m in (t.G, t.D) for p in m.parameters()]
    rng = t.rng.get_state()
    advice.compute(t)
    now = {**t.G.state_dict(), **{f"D.{k}": v for k, v in t.D.state_dict().items()}}
    assert all(torch.equal(state[k], now[k]) for k in state)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, [p for m in (t.G, t.D) for p in m.parameters()]))
    assert torch.equal(rng, t.rng.get_state())
