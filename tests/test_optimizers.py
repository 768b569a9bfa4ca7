"""An optimizer per player: each update rule against its formula by hand, and a switch mid-run that
keeps the weights and starts only that player's optimizer afresh."""
import copy

import pytest
import torch

from gan_core import config, optimizers
from gan_core.config import ConfigError, LiveSettings, ModelSpec
from gan_core.host import Limits
from gan_core.scheduler import Scheduler
from gan_core.session import TrainingSession
from gan_core.trainer import Trainer

SEED = ModelSpec(arch="mlp", conditional=False)   # the seed's model


def tiny(kind: str, lr: float, s: LiveSettings = LiveSettings()):
    """A 3 -> 2 linear layer with fixed weights and its optimizer of `kind`."""
    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [0.25, 0.0, -0.75]]))
        layer.bias.copy_(torch.tensor([0.1, -0.2]))
    return layer, optimizers.build(kind, list(layer.parameters()), lr, s)


GRADS = [torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]), torch.tensor([[-0.5, 1.0, 2.0], [4.0, -1.0, 0.25]]),
         torch.tensor([[2.0, 0.5, -3.0], [1.0, 1.0, 1.0]])]


def steps(layer, opt, grads):
    """The weight after each step with the given gradients."""
    out = []
    for g in grads:
        layer.weight.grad, layer.bias.grad = g.clone(), torch.zeros(2)
        opt.step()
        out.append(layer.weight.detach().clone())
    return out


def test_sgd_with_momentum_is_v_mu_v_plus_g_then_w_minus_lr_v():
    layer, opt = tiny("sgd", 0.1, LiveSettings(momentum=0.8))
    w, v, expected = layer.weight.detach().clone(), torch.zeros(2, 3), []
    for g in GRADS:          # by hand: v = μv + g; w -= lr·v
        v = 0.8 * v + g
        w = w - 0.1 * v
        expected.append(w)
    torch.testing.assert_close(steps(layer, opt, GRADS), expected, rtol=1e-6, atol=1e-7)


def test_rmsprop_is_torchs_default_alpha_and_eps():
    layer, opt = tiny("rmsprop", 0.01)
    w, s, expected = layer.weight.detach().clone(), torch.zeros(2, 3), []
    for g in GRADS:          # by hand: s = αs + (1-α)g²; w -= lr·g/(√s + eps), α = 0.99, eps = 1e-8
        s = 0.99 * s + 0.01 * g ** 2
        w = w - 0.01 * g / (s.sqrt() + 1e-8)
        expected.append(w)
    torch.testing.assert_close(steps(layer, opt, GRADS), expected, rtol=1e-6, atol=1e-7)


def test_adam_is_its_formula_with_beta1_and_beta2():
    layer, opt = tiny("adam", 0.01, LiveSettings(beta1=0.5, beta2=0.99))
    w, m, v, expected = layer.weight.detach().clone(), torch.zeros(2, 3), torch.zeros(2, 3), []
    for n, g in enumerate(GRADS, 1):   # by hand: m̂ = m/(1-β1ⁿ), v̂ = v/(1-β2ⁿ); w -= lr·m̂/(√v̂ + eps)
        m, v = 0.5 * m + 0.5 * g, 0.99 * v + 0.01 * g ** 2
        w = w - 0.01 * (m / (1 - 0.5 ** n)) / ((v / (1 - 0.99 ** n)).sqrt() + 1e-8)
        expected.append(w)
    torch.testing.assert_close(steps(layer, opt, GRADS), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", config.OPTIMIZERS)
def test_a_state_made_before_the_first_step_steps_as_none_would(kind):
    # engine.py makes each optimizer's state before its first step: the run must not notice
    a, b = tiny(kind, 0.05), tiny(kind, 0.05)
    optimizers.ensure_state(b[1])
    assert sorted(b[1].state[b[0].weight]) == sorted(optimizers.STATE[kind])
    assert all(torch.equal(x, y) for x, y in zip(steps(*a, GRADS), steps(*b, GRADS)))


def test_the_trainer_updates_d_by_sgd_with_the_live_lr_and_momentum(digits):
    t = Trainer(SEED, LiveSettings(optimizer_d="sgd", ema_decay=0), digits=digits)
    for _ in range(3):
        t.step()
    t.apply(lr_d=2e-3, momentum=0.5)
    assert [(g["lr"], g["momentum"]) for g in t.opt_d.param_groups] == [(2e-3, 0.5)]
    w0, v0 = t.D.head.weight.detach().clone(), t.opt_d.state[t.D.head.weight]["momentum_buffer"].clone()
    t.update_d()
    v = 0.5 * v0 + t.D.head.weight.grad                     # this update's gradient
    torch.testing.assert_close(t.D.head.weight.detach(), w0 - 2e-3 * v, rtol=1e-5, atol=1e-7)


def params(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("kind", ["sgd", "rmsprop"])
def test_a_switch_mid_run_keeps_the_weights_and_starts_only_that_players_state_afresh(digits, kind):
    t = Trainer(SEED, LiveSettings(batch_size=32), digits=digits)
    for _ in range(3):
        t.step()
    g0, d0, ema0 = params(t.G), params(t.D), params(t.G_ema)
    opt_g, state_g = t.opt_g, copy.deepcopy(t.opt_g.state_dict())
    t.apply(optimizer_d=kind)
    assert all(torch.equal(x, y) for x, y in zip([*g0, *d0, *ema0], [*params(t.G), *params(t.D), *params(t.G_ema)]))
    assert optimizers.kind_of(t.opt_d) == kind and len(t.opt_d.state) == 0       # fresh
    assert t.opt_d.param_groups[0]["params"] == list(t.D.parameters())            # D's own weights
    assert t.opt_g is opt_g                                                       # G's optimizer untouched
    for i, s in state_g["state"].items():
        assert all(torch.equal(s[k], t.opt_g.state_dict()["state"][i][k]) for k in s)
    # the first update after the switch is the new rule's first: SGD w -= lr·g; RMSprop s = 0.01 g²
    w0 = t.D.head.weight.detach().clone()
    t.update_d()
    g = t.D.head.weight.grad
    step = g if kind == "sgd" else g / ((0.01 * g ** 2).sqrt() + 1e-8)
    torch.testing.assert_close(t.D.head.weight.detach(), w0 - t.settings.lr_d * step, rtol=1e-5, atol=1e-7)
    # and back to Adam: fresh again, its moments made by its first step
    t.apply(optimizer_d="adam")
    assert optimizers.kind_of(t.opt_d) == "adam" and len(t.opt_d.state) == 0
    t.step()
    assert int(t.opt_d.state[t.D.head.weight]["step"]) == 1


def test_an_unchanged_optimizer_keeps_its_state_through_other_changes(digits):
    t = Trainer(SEED, LiveSettings(optimizer_g="rmsprop", batch_size=16), digits=digits)
    t.step()
    opt = t.opt_g
    t.apply(optimizer_g="rmsprop", lr_g=1e-4, beta1=0.7)
    assert t.opt_g is opt and len(opt.state) == len(list(t.G.parameters()))


@pytest.mark.parametrize("value", ["adamw", "SGD", "", 1])
def test_config_refuses_an_unknown_optimizer(value):
    with pytest.raises(ConfigError, match="optimizer_g must be"):
        config.validate(LiveSettings, optimizer_g=value)
    with pytest.raises(ConfigError, match="momentum must be between 0 and 0.99"):
        config.validate(LiveSettings, momentum=1.0)


def test_each_optimizer_names_its_own_settings_and_a_label():
    # what the page shows beside each choice: settings that exist, and that the optimizer reads
    assert set(config.OPTIMIZER_FIELDS) == set(config.OPTIMIZERS) == set(config.OPTIMIZER_NAMES)
    for kind, names in config.OPTIMIZER_FIELDS.items():
        s = LiveSettings()
        moved = optimizers.settings_of(kind, config.replace(s, **{n: 0.3 for n in names}))
        assert moved == {} if not names else moved != optimizers.settings_of(kind, s), kind


def test_a_session_marks_the_switch_on_the_curves():
    s = TrainingSession(SEED, LiveSettings(batch_size=16), scheduler=Scheduler(8),
                        limits_=Limits(max_running=8, grid_every_s=0.05, rewind_every_s=0.1))
    s.step_once()
    s.apply(lr_d=1e-3)
    s.apply(optimizer_d="sgd")
    (_, lr), (step, label) = s.snapshot().markers
    assert "fresh" not in lr
    assert step == 1 and label == "optimizer_d adam→sgd (optimizer switched: its state starts fresh)"
    from gan_core import i18n
    assert i18n.translate(label, i18n.translation("zh").gettext) == "optimizer_d adam→sgd（已切换优化器：其状态从零开始）"
    s.stop()
