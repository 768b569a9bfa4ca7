"""The training step against invariants and formulas: who changes what, and by how much."""
import copy

import numpy as np
import pytest
import torch

from gan_core import config
from gan_core.config import LiveSettings, ModelSpec
from gan_core.trainer import DivergenceError, Trainer

SEED = ModelSpec(arch="mlp", conditional=False)   # exactly the seed's model


def params(model):
    return [p.detach().clone() for p in model.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.fixture(params=["mlp", "mlp_wide", "conv"])
def trainer(request, digits):
    return Trainer(ModelSpec(arch=request.param), LiveSettings(batch_size=16), digits=digits)


def test_reference_mlp_is_the_seed_architecture(digits):
    t = Trainer(SEED, digits=digits)
    shapes = [tuple(p.shape) for p in t.G.parameters()] + [tuple(p.shape) for p in t.D.parameters()]
    assert shapes == [(128, 100), (128,), (784, 128), (784,), (128, 784), (128,), (1, 128), (1,)]
    assert isinstance(t.G.net[-1], torch.nn.Sigmoid)
    out = t.G(torch.randn(5, 100))
    assert out.shape == (5, 1, 28, 28) and 0 <= out.min() and out.max() <= 1
    assert t.D(out).shape == (5,)  # logits, one per image


@pytest.mark.parametrize("arch", ["mlp", "mlp_wide"])
def test_an_mlp_g_starts_at_the_mean_training_image(arch, digits):
    # oracle: the per-pixel mean of the uint8 images, by numpy in float64, clamped to 1%..99%
    mean = np.clip(digits.images.numpy().reshape(-1, 784).astype(np.float64).mean(0) / 255, 0.01, 0.99)
    t = Trainer(ModelSpec(arch=arch), digits=digits)
    bias = t.G.net[-2].bias.detach()                                         # (784,)
    assert np.allclose(torch.sigmoid(bias).numpy(), mean, atol=1e-6)
    assert torch.equal(t.G_ema.net[-2].bias, bias)                           # the grid starts there too
    # with the last layer's weights at zero, G draws that image whatever z and label it gets
    with torch.no_grad():
        t.G.net[-2].weight.zero_()
    out = t.G(torch.randn(3, 100), torch.tensor([0, 4, 9])).reshape(3, 784)
    assert np.allclose(out.detach().numpy(), mean[None].repeat(3, 0), atol=1e-6)


def test_conv_g_keeps_its_own_output_bias(digits):
    # its last layer shares one bias over all pixels: the DCGAN init (zero) stays
    t = Trainer(ModelSpec(arch="conv"), digits=digits)
    assert torch.equal(t.G.net[-2].bias, torch.zeros(1))


def test_d_update_leaves_g_unchanged_and_moves_d(trainer):
    g0, d0 = params(trainer.G), params(trainer.D)
    trainer.update_d()
    assert same(g0, params(trainer.G))
    assert not same(d0, params(trainer.D))


def test_g_update_leaves_d_unchanged_and_moves_g(trainer):
    trainer.update_d()
    g0, d0 = params(trainer.G), params(trainer.D)
    d_grads = [p.grad.clone() for p in trainer.D.parameters()]
    trainer.update_g()
    assert same(d0, params(trainer.D))
    assert not same(g0, params(trainer.G))
    # backprop went through D but left it no gradient: D's are still those of its own update
    assert same(d_grads, [p.grad for p in trainer.D.parameters()])


def test_gradients_are_those_of_the_seed_objectives(digits):
    # the trainer's gradients against .backward() of the formulas, written out, on the same batch
    t = Trainer(SEED, LiveSettings(batch_size=32), digits=digits)
    x = t.images[:32].unsqueeze(1).float() / 255
    z_d, z_g = torch.randn(32, 100), torch.randn(32, 100)
    t.real_batch = lambda n: (x, torch.zeros(n, dtype=torch.long))
    latents = iter([(z_d, None), (z_g, None)])
    t._latent = lambda n: next(latents)
    G, D = copy.deepcopy(t.G), copy.deepcopy(t.D)

    t.update_d()
    loss_d = -torch.log(torch.sigmoid(D(x))).mean() - torch.log(1 - torch.sigmoid(D(G(z_d).detach()))).mean()
    loss_d.backward()
    torch.testing.assert_close([p.grad for p in t.D.parameters()], [p.grad for p in D.parameters()])

    D = copy.deepcopy(t.D)             # the judge G learns from is D after its update
    t.update_g()
    loss_g = -torch.log(torch.sigmoid(D(G(z_g)))).mean()    # non-saturating
    loss_g.backward()
    torch.testing.assert_close([p.grad for p in t.G.parameters()], [p.grad for p in G.parameters()])


def test_step_returns_the_promised_scalars(digits):
    t = Trainer(SEED, LiveSettings(lr_g=3e-4, lr_d=1e-4), digits=digits)
    m = t.step()
    for key in ("loss_d", "loss_g", "d_real", "d_fake", "lr_g", "lr_d", "step"):
        assert isinstance(m[key], (int, float))
    assert (m["lr_g"], m["lr_d"], m["step"]) == (3e-4, 1e-4, 1)
    assert 0 < m["d_real"] < 1 and 0 < m["d_fake"] < 1
    assert sorted(k for k in m if k.startswith("grad/")) == sorted(
        ["grad/D.features.1", "grad/D.head", "grad/G.net.0", "grad/G.net.2"])


def test_gradient_norm_per_layer_matches_the_gradients(digits):
    t = Trainer(SEED, digits=digits)
    m = t.step()
    for name, layer in (("D.head", t.D.head), ("G.net.2", t.G.net[2])):   # D's grads from its update
        expected = (layer.weight.grad.pow(2).sum() + layer.bias.grad.pow(2).sum()).sqrt().item()
        assert m[f"grad/{name}"] == pytest.approx(expected, rel=1e-5)


def test_learning_rate_change_reaches_adam_and_keeps_its_moments(digits):
    t = Trainer(SEED, LiveSettings(ema_decay=0), digits=digits)
    for _ in range(3):
        t.step()
    moments = copy.deepcopy(t.opt_d.state_dict()["state"])
    t.apply(lr_d=1e-3, beta1=0.7)
    assert all(g["lr"] == 1e-3 and g["betas"][0] == 0.7 for g in t.opt_d.param_groups)
    after = t.opt_d.state_dict()["state"]
    for i in moments:  # the change alone touches no moment
        assert torch.equal(moments[i]["exp_avg"], after[i]["exp_avg"])
        assert torch.equal(moments[i]["exp_avg_sq"], after[i]["exp_avg_sq"])

    # the next D update moves each weight by Adam's formula with the new lr and β1
    w0 = t.D.head.weight.detach().clone()
    t.update_d()
    st = t.opt_d.state[t.D.head.weight]
    n = st["step"].item()
    m_hat = st["exp_avg"] / (1 - 0.7 ** n)
    v_hat = st["exp_avg_sq"] / (1 - t.settings.beta2 ** n)
    expected = w0 - 1e-3 * m_hat / (v_hat.sqrt() + 1e-8)
    assert n == 4
    torch.testing.assert_close(t.D.head.weight.detach(), expected, rtol=1e-5, atol=1e-7)


def test_batch_size_and_d_steps_change_between_steps(digits):
    t = Trainer(SEED, LiveSettings(batch_size=16), digits=digits)
    seen = []
    t.D.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[0]))
    t.step()
    assert seen == [32, 16]              # real and fake in one pass (D update), fake (G update)
    seen.clear()
    t.apply(batch_size=40, d_steps=2)
    t.step()
    assert seen == [80, 80, 40]          # two D updates, then the G update


@pytest.mark.parametrize("arch", ["mlp", "mlp_wide"])
def test_one_joint_pass_of_d_is_the_update_of_two_passes(digits, arch):
    # D without BatchNorm sees real and fake in one batch: the same losses and the same update
    a, b = (Trainer(ModelSpec(arch=arch), LiveSettings(batch_size=16), digits=digits) for _ in range(2))
    b._joint_d = False
    assert a._joint_d
    for _ in range(3):
        (loss_a, real_a, fake_a), (loss_b, real_b, fake_b) = a.update_d(), b.update_d()
        torch.testing.assert_close((loss_a, real_a, fake_a), (loss_b, real_b, fake_b))
    torch.testing.assert_close(params(a.D), params(b.D))


def test_each_update_is_one_adam_step_with_the_settings_in_effect(digits, monkeypatch):
    # Optimizer.step is what moves the weights: once per update, with a live change of lr and betas
    t = Trainer(ModelSpec(arch="mlp_wide"), LiveSettings(batch_size=16), digits=digits)
    calls = []
    for name in ("opt_g", "opt_d"):
        opt = getattr(t, name)
        monkeypatch.setattr(opt, "step", lambda f=opt.step, name=name: calls.append(name) or f())
    t.step()
    t.apply(lr_g=3e-4, beta1=0.8, d_steps=2)
    t.step()
    assert calls == ["opt_d", "opt_g", "opt_d", "opt_d", "opt_g"]
    assert [(g["lr"], g["betas"]) for g in t.opt_g.param_groups] == [(3e-4, (0.8, 0.99))]
    assert t.opt_d.defaults["fused"]           # fused: the whole update in one kernel per device


def test_d_with_batchnorm_keeps_real_and_fake_apart(digits):
    t = Trainer(ModelSpec(arch="conv"), LiveSettings(batch_size=16), digits=digits)
    seen = []
    t.D.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[0]))
    t.update_d()
    assert not t._joint_d and seen == [16, 16]


def test_same_seed_same_run_and_other_seed_other_run(digits):
    runs = []
    for seed in (3, 3, 4):
        t = Trainer(ModelSpec(arch="mlp", seed=seed), digits=digits)
        metrics = [t.step() for _ in range(4)]
        runs.append((metrics, params(t.G)))
    assert runs[0][0] == runs[1][0] and same(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_ema_follows_its_formula(digits):
    t = Trainer(SEED, LiveSettings(ema_decay=0.9), digits=digits)
    t.step()
    assert same(params(t.G_ema), params(t.G))   # first step: a copy
    ema = params(t.G_ema)
    t.step()
    d = min(0.9, 2 / 6)                           # warm-up caps the decay early on: (1+k)/(5+k), k = 1
    for e0, e1, g in zip(ema, params(t.G_ema), params(t.G)):
        torch.testing.assert_close(e1, d * e0 + (1 - d) * g)


def test_every_loss_trains_without_error(digits):
    for loss in config.LOSSES:
        t = Trainer(SEED, LiveSettings(loss=loss, batch_size=16), digits=digits)
        m = t.step()
        assert torch.isfinite(torch.tensor([m["loss_d"], m["loss_g"]])).all(), loss


def test_conditional_model_sees_labels(digits):
    t = Trainer(ModelSpec(arch="mlp", conditional=True), LiveSettings(batch_size=16), digits=digits)
    t.step()
    z = torch.randn(1, 100).repeat(2, 1)
    a, b = t.generate(z, torch.tensor([1, 7]))
    assert not torch.equal(a, b)   # same z, other digit label, other image


def test_divergence_raises_instead_of_continuing(digits):
    t = Trainer(SEED, digits=digits)
    with torch.no_grad():
        t.D.head.weight.fill_(float("nan"))
    with pytest.raises(DivergenceError, match="not finite"):
        t.step()
    assert not t.weights_finite()


def test_invalid_setting_is_refused_and_nothing_changes(digits):
    t = Trainer(SEED, digits=digits)
    with pytest.raises(config.ConfigError, match="lr_g"):
        t.apply(lr_g=5.0)
    assert t.settings.lr_g == LiveSettings().lr_g
    assert t.opt_g.param_groups[0]["lr"] == LiveSettings().lr_g


def test_images_in_any_memory_layout_train_and_the_bundled_ones_are_shared(digits):
    from gan_core.data import Digits
    strided = Digits(digits.images[:300].permute(1, 2, 0).contiguous().permute(2, 0, 1), digits.labels[:300], "t")
    assert not strided.images.is_contiguous()
    t = Trainer(SEED, LiveSettings(batch_size=16), digits=strided)
    assert torch.equal(t.images, digits.images[:300])
    assert t.step()["step"] == 1
    assert Trainer(SEED, digits=digits).images.data_ptr() == digits.images.data_ptr()   # no copy per visitor
