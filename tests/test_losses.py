"""Each loss against its formula, computed by hand with math on plain floats."""
import math

import pytest
import torch

from gan_core import losses

REAL = [0.5, -1.0, 2.5]   # D's logits on real images
FAKE = [2.0, -0.3]        # D's logits on G's images


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def mean(xs):
    return sum(xs) / len(xs)


def t(xs):
    return torch.tensor(xs, dtype=torch.float64)


def test_bce_d_is_the_seed_objective():
    # L_D = -E[log D(x)] - E[log(1 - D(G(z)))]
    expected = -mean([math.log(sig(r)) for r in REAL]) - mean([math.log(1 - sig(f)) for f in FAKE])
    assert losses.bce_d(t(REAL), t(FAKE)).item() == pytest.approx(expected, rel=1e-12)


def test_bce_d_label_smoothing_moves_the_real_target():
    s = 0.1
    expected = (-mean([(1 - s) * math.log(sig(r)) + s * math.log(1 - sig(r)) for r in REAL])
                - mean([math.log(1 - sig(f)) for f in FAKE]))
    assert losses.bce_d(t(REAL), t(FAKE), s).item() == pytest.approx(expected, rel=1e-12)


def test_bce_g_is_non_saturating():
    # L_G = -E[log D(G(z))]
    expected = -mean([math.log(sig(f)) for f in FAKE])
    assert losses.bce_g(t(FAKE)).item() == pytest.approx(expected, rel=1e-12)


def test_bce_is_stable_where_sigmoid_saturates():
    # sigmoid(-200) underflows in float32; the logit form still gives -log D = 200
    assert losses.bce_g(torch.tensor([-200.0])).item() == pytest.approx(200.0)
    assert losses.bce_d(torch.tensor([200.0]), torch.tensor([-200.0])).item() == pytest.approx(0.0, abs=1e-6)


def test_non_saturating_g_gradient_stays_strong_when_d_rejects():
    # d/dl [-log sigmoid(l)] = sigmoid(l) - 1 -> -1 as D rejects; the minimax form log(1 - D) -> 0
    logit = torch.tensor([-8.0], requires_grad=True)
    losses.bce_g(logit).backward()
    assert logit.grad.item() == pytest.approx(sig(-8.0) - 1.0, rel=1e-5)
    assert abs(logit.grad.item()) > 0.99


def test_hinge():
    expected_d = mean([max(0.0, 1 - r) for r in REAL]) + mean([max(0.0, 1 + f) for f in FAKE])
    assert losses.hinge_d(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert losses.hinge_g(t(FAKE)).item() == pytest.approx(-mean(FAKE), rel=1e-12)


def test_least_squares():
    expected_d = 0.5 * mean([(r - 1) ** 2 for r in REAL]) + 0.5 * mean([f ** 2 for f in FAKE])
    assert losses.lsgan_d(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert losses.lsgan_g(t(FAKE)).item() == pytest.approx(0.5 * mean([(f - 1) ** 2 for f in FAKE]), rel=1e-12)


def test_wgan():
    assert losses.wgan_d(t(REAL), t(FAKE)).item() == pytest.approx(mean(FAKE) - mean(REAL), rel=1e-12)
    assert losses.wgan_g(t(FAKE)).item() == pytest.approx(-mean(FAKE), rel=1e-12)


def test_gradient_penalty_of_a_linear_critic():
    # D(x) = <w, x> has gradient w everywhere, so GP = (||w|| - 1)^2 whatever the interpolation
    w = torch.tensor([3.0, 4.0, 0.0, 0.0], dtype=torch.float64).view(1, 1, 2, 2)   # ||w|| = 5

    def critic(x, y=None):
        return (x * w).flatten(1).sum(1)

    real, fake = torch.rand(6, 1, 2, 2, dtype=torch.float64), torch.rand(6, 1, 2, 2, dtype=torch.float64)
    eps = torch.rand(6, 1, 1, 1, dtype=torch.float64)
    assert losses.gradient_penalty(critic, real, fake, eps).item() == pytest.approx((5.0 - 1.0) ** 2, rel=1e-12)
