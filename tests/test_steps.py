"""Step D, Step G, G steps per round, and the slow-motion step: who changes what, and the slow
view's numbers against a recomputation on the models."""
import copy

import pytest
import torch

from gan_core import checkpoint, config, losses, query, slow_motion
from gan_core.config import ConfigError, LiveSettings, ModelSpec
from gan_core.trainer import Trainer


def params(model):
    return [p.detach().clone() for p in model.parameters()]


def same(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.fixture(params=["mlp", "conv"])
def trainer(request, digits):
    t = Trainer(ModelSpec(arch=request.param), LiveSettings(batch_size=16), digits=digits)
    t.step()
    t.step()      # past the EMA's warm-up copy, so the EMA differs from G
    return t


def test_step_d_leaves_g_and_the_grid_bit_identical_and_moves_d(trainer):
    t = trainer
    x = t.images[:16].unsqueeze(1).float() / 255
    y = t.labels[:16]
    g0, ema0, grid0 = params(t.G), params(t.G_ema), t.grid()
    with torch.no_grad():
        out0 = t.D.eval()(x, y)
    m = t.step_d()
    assert same(g0, params(t.G)) and same(ema0, params(t.G_ema))
    assert torch.equal(grid0, t.grid())
    with torch.no_grad():
        out1 = t.D.eval()(x, y)
    assert not torch.equal(out0, out1)                  # D's outputs on the same images moved
    assert m["step"] == 3 and "loss_d" in m and "loss_g" not in m


def test_step_g_changes_the_grid_and_leaves_d(trainer):
    t = trainer
    d0, grid0 = params(t.D), t.grid()
    m = t.step_g()
    assert same(d0, params(t.D))
    assert not torch.equal(grid0, t.grid())
    assert m["step"] == 3 and "loss_g" in m and "loss_d" not in m
    assert sorted(k for k in m if k.startswith("grad/")) == sorted(f"grad/{n}" for n in t._layer_index[0]
                                                                   if n.startswith("G."))


def test_g_steps_is_the_number_of_g_updates_per_round(digits):
    t = Trainer(ModelSpec(arch="mlp", conditional=False), LiveSettings(batch_size=16, d_steps=2, g_steps=3),
                digits=digits)
    t.step()
    adam_steps = lambda opt: int(next(iter(opt.state.values()))["step"])  # noqa: E731
    assert (adam_steps(t.opt_d), adam_steps(t.opt_g)) == (2, 3)
    t.apply(g_steps=1)
    t.step()
    assert (adam_steps(t.opt_d), adam_steps(t.opt_g)) == (4, 4) and t.step_count == 2


def test_g_steps_is_validated_like_d_steps():
    assert config.limits(LiveSettings, "g_steps") == config.limits(LiveSettings, "d_steps") == (1, 10)
    with pytest.raises(ConfigError, match="g_steps must be between 1 and 10"):
        config.validate(LiveSettings, g_steps=0)
    with pytest.raises(ConfigError, match="g_steps must be a whole number"):
        config.validate(LiveSettings, g_steps=1.5)


def test_g_steps_travels_in_the_link_and_the_checkpoint(digits):
    live = LiveSettings(g_steps=4)
    params_ = query.encode(live, ModelSpec())
    assert params_ == {"g_steps": "4"}
    assert query.decode(params_)[0].g_steps == 4
    assert query.decode({"g_steps": "11"})[2]                           # out of range: reported
    t = Trainer(ModelSpec(arch="mlp"), live, digits=digits)
    ckpt = checkpoint.read(checkpoint.to_bytes(t))
    assert checkpoint.restore(ckpt, digits).settings.g_steps == 4
    del ckpt["settings"]["g_steps"]                                     # a checkpoint from before it existed
    checkpoint.validate(ckpt)
    assert checkpoint.restore(ckpt, digits).settings.g_steps == 1


def test_d_terms_sum_to_each_d_loss():
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(32, generator=gen), torch.randn(32, generator=gen)
    for name, (loss_d, _) in losses.LOSSES.items():
        torch.testing.assert_close(sum(losses.d_terms(name, real, fake, 0.1)), loss_d(real, fake, 0.1))


@pytest.mark.parametrize("arch,loss,conditional", [("mlp", "bce", False), ("conv", "bce", True),
                                                   ("mlp_wide", "wgan-gp", True)])
def test_slow_step_numbers_match_a_recomputation_on_the_models(digits, arch, loss, conditional):
    t = Trainer(ModelSpec(arch=arch, conditional=conditional), LiveSettings(loss=loss, batch_size=16), digits=digits)
    t.step()
    G0, D0 = copy.deepcopy(t.G), copy.deepcopy(t.D)
    ema0, opt_steps = params(t.G_ema), t.step_count
    r = slow_motion.slow_step(t, n=8)
    assert r.step == t.step_count == opt_steps + 1 == r.metrics["step"]       # a real step of the run
    assert not same(ema0, params(t.G_ema))
    p = lambda logits: torch.sigmoid(logits).tolist()  # noqa: E731
    close = lambda a, b: torch.testing.assert_close(torch.tensor(a), torch.tensor(b), rtol=1e-4, atol=1e-6)  # noqa: E731
    with torch.no_grad():
        # before: the models as they were
        torch.testing.assert_close(r.fake, G0(r.z, r.y_fake))
        close(r.d_real_before, p(D0(r.real, r.y_real)))
        close(r.d_fake_before, p(D0(r.fake, r.y_fake)))
        # after: the models as the step left them
        close(r.d_real_after, p(t.D(r.real, r.y_real)))
        close(r.d_fake_after, p(t.D(r.fake, r.y_fake)))
        close(r.d_fake_g_before, p(t.D(r.fake, r.y_fake)))     # G's loss reads D after its update
        torch.testing.assert_close(r.fake_after, t.G(r.z, r.y_fake))
        close(r.d_fake_g_after, p(t.D(t.G(r.z, r.y_fake), r.y_fake)))
    assert sum(r.terms_d.values()) == pytest.approx(r.loss_d, rel=1e-5)
    assert set(r.terms_d) == ({"real", "fake", "penalty"} if loss == "wgan-gp" else {"real", "fake"})
    # backward: G's pixel gradient is autograd's ∂L_G/∂G(z) with D after its update
    x = G0(r.z, r.y_fake).detach().requires_grad_(True)
    lg = losses.LOSSES[loss][1](t.D(x, r.y_fake))
    (want,) = torch.autograd.grad(lg, x)
    torch.testing.assert_close(r.pixel_fake_g, want, rtol=1e-4, atol=1e-9)
    assert r.loss_g == pytest.approx(float(lg.detach()), rel=1e-5)
    assert set(r.grad_norms_d) == {n for n in t._layer_index[0] if n.startswith("D.")}


def test_slow_step_real_digits_gradient_is_autograds(digits):
    t = Trainer(ModelSpec(arch="mlp", conditional=False), LiveSettings(batch_size=16), digits=digits)
    D0 = copy.deepcopy(t.D)
    r = slow_motion.slow_step(t)
    x = r.real.clone().requires_grad_(True)
    loss_d = -torch.log(torch.sigmoid(D0(x))).mean() - torch.log(1 - torch.sigmoid(D0(r.fake))).mean()
    (want,) = torch.autograd.grad(loss_d, x)
    torch.testing.assert_close(r.pixel_real, want, rtol=1e-4, atol=1e-9)
    assert r.loss_d == pytest.approx(float(loss_d.detach()), rel=1e-5)
    pics = slow_motion.pictures(r)
    assert {"real", "fake", "fake_after", "pixel_real", "pixel_real_scale"} <= set(pics)
