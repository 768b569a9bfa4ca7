import math

import pytest
import torch

from gan_core import sampling
from gan_core.config import ConfigError
from gan_core.sampling import SamplingSettings


def test_seed_reproduces_and_changes():
    a = sampling.sample_latent(8, 16, SamplingSettings(seed=1))
    assert torch.equal(a, sampling.sample_latent(8, 16, SamplingSettings(seed=1)))
    assert not torch.equal(a, sampling.sample_latent(8, 16, SamplingSettings(seed=2)))


@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_temperature_scales_a_unit_variance_prior(dist):
    z = sampling.sample_latent(4000, 50, SamplingSettings(distribution=dist))
    assert z.std().item() == pytest.approx(1.0, abs=0.01)
    hot = sampling.sample_latent(4000, 50, SamplingSettings(distribution=dist, temperature=0.5))
    torch.testing.assert_close(hot, 0.5 * z)


def test_uniform_is_bounded_by_sqrt3():
    z = sampling.sample_latent(1000, 50, SamplingSettings(distribution="uniform"))
    assert z.abs().max() <= math.sqrt(3) and z.abs().max() > 1.7


def test_truncation_resample_and_clip():
    z = sampling.sample_latent(1000, 100, SamplingSettings(truncation=0.5))
    assert z.abs().max() <= 0.5
    assert (z.abs() > 0.45).float().mean() < 0.2   # redrawn, not piled up at the bound
    c = sampling.sample_latent(1000, 100, SamplingSettings(truncation=0.5, truncation_mode="clip"))
    assert c.abs().max() <= 0.5 and (c.abs() == 0.5).float().mean() > 0.5  # P(|z|>0.5) = 0.617


def test_interpolation_endpoints_and_norm():
    z0, z1 = torch.randn(100), torch.randn(100)
    path = sampling.interpolation_path(z0, z1, 5, "slerp")
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    torch.testing.assert_close(sampling.lerp(z0, z1, 0.5), (z0 + z1) / 2)
    # slerp between vectors of equal norm stays on that sphere; lerp cuts inside it
    u0, u1 = z0 / z0.norm() * 10, z1 / z1.norm() * 10
    assert sampling.slerp(u0, u1, 0.5).norm().item() == pytest.approx(10.0, rel=1e-5)
    assert sampling.lerp(u0, u1, 0.5).norm().item() < 9.0


def test_fixed_grid_is_fixed():
    assert torch.equal(sampling.fixed_grid(64, 100), sampling.fixed_grid(64, 100))


@pytest.mark.parametrize("bad", [dict(distribution="cauchy"), dict(temperature=-1.0), dict(truncation=9.0),
                                 dict(seed=-1), dict(n=0), dict(truncation_mode="wrap")])
def test_bad_sampling_settings(bad):
    with pytest.raises(ConfigError):
        SamplingSettings(**bad)
