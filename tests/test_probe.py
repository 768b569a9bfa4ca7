"""Probes: the weight-update ratio against a hand computation, D's output histograms, and that
probing leaves the run exactly as it was."""
import numpy as np
import torch
from torch import nn

from gan_core import models, probe, trainer
from gan_core.config import LiveSettings, ModelSpec
from gan_core.trainer import Trainer


def make(digits, arch="mlp", seed=0):
    return Trainer(ModelSpec(arch=arch, seed=seed), LiveSettings(batch_size=16), digits=digits)


def test_update_ratio_is_the_norm_of_the_change_over_the_norm_of_the_weights(digits):
    t = make(digits)
    t.step()                                        # past step 0, so Adam's moments are not zero
    old = {k: v.double().numpy().copy() for k, v in t.G.state_dict().items()}
    before = trainer.copy_weights(t)
    t.step()
    new = {k: v.double().numpy() for k, v in t.G.state_dict().items()}
    # by hand: the first layer of G is net.0 (weight and bias), in numpy float64
    keys = [k for k in old if k.startswith("net.0.")]
    assert len(keys) == 2
    delta = np.sqrt(sum(((new[k] - old[k]) ** 2).sum() for k in keys))
    norm = np.sqrt(sum((old[k] ** 2).sum() for k in keys))
    ratios = trainer.update_ratios(before, t)
    name = "G." + models.layers(t.G)[0][0]
    assert name == "G.net.0"
    assert np.isclose(ratios[name], delta / norm, rtol=1e-5)
    assert 0 < ratios[name] < 1
    assert set(ratios) == set(before) and all(r > 0 for r in ratios.values())


def test_output_histogram_counts_the_batch_in_bins_over_0_1():
    logits = torch.tensor([-50.0, -1.0, 0.0, 1.0, 50.0, 3.0])     # sigmoid: ~0, .27, .5, .73, 1, .95
    counts = probe.output_histogram(logits, bins=20)
    assert sum(counts) == 6 and len(counts) == 20
    assert counts[0] == 1 and counts[19] == 2 and counts[10] == 1    # 0.5 opens bin 10; 1.0 is in the last
    assert counts[5] == 1 and counts[14] == 1


class PixelMeanD(nn.Module):
    # an obvious judge: real digits are mostly dark (mean ~0.13), a G drawing grey (0.5) is not
    def forward(self, x, y=None):
        return 40.0 * (0.3 - x.mean(dim=(1, 2, 3)))


def test_game_histograms_count_both_batches_and_separate_real_from_fake(digits):
    t = make(digits)
    t.D = PixelMeanD()
    with torch.no_grad():   # G's last layer at zero: sigmoid(0) = 0.5, grey everywhere, whatever z
        t.G.net[-2].weight.zero_(), t.G.net[-2].bias.zero_()
    hist = probe.game(t, torch.Generator().manual_seed(0), n=200)
    assert sum(hist["real"]) == sum(hist["fake"]) == 200
    assert sum(hist["real"][10:]) == 200          # real: D says more than 1/2
    assert sum(hist["fake"][:10]) == 200          # generated: less than 1/2


def test_probing_leaves_the_run_as_it_was(digits):
    # conv has BatchNorm in G and D: a forward pass in training mode would move its running stats
    a, b = make(digits, "conv"), make(digits, "conv")
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        a.step(), b.step()
        probe.game(a, gen, n=64)
        trainer.copy_weights(a)
    for name, (pa, pb) in {**{k: (v, b.G.state_dict()[k]) for k, v in a.G.state_dict().items()},
                           **{k: (v, b.D.state_dict()[k]) for k, v in a.D.state_dict().items()}}.items():
        assert torch.equal(pa, pb), name
    assert torch.equal(a.rng.get_state(), b.rng.get_state())


def test_diversity_is_zero_for_copies_and_positive_for_real_digits(digits):
    x = digits.images[:64].float() / 255
    assert probe.diversity(x[:1].repeat(32, 1, 1)) == 0.0
    assert probe.diversity(x) > 5.0          # real digits differ by several pixel units
