import math

import pytest

from gan_core import config
from gan_core.config import ConfigError, LiveSettings, ModelSpec


def test_defaults_are_valid():
    assert config.validate(LiveSettings) == LiveSettings()
    assert config.validate(ModelSpec) == ModelSpec()


@pytest.mark.parametrize("field, value, message", [
    ("lr_g", 0.5, r"lr_g must be between 1e-06 and 0\.1, got 0\.5"),
    ("lr_d", -1e-4, "lr_d must be between"),
    ("lr_d", math.nan, "lr_d must be a finite number"),
    ("lr_g", "fast", "lr_g must be a number"),
    ("beta1", 1.0, "beta1 must be between 0 and 0.999"),
    ("batch_size", 7, "batch_size must be between 8 and 1024"),
    ("batch_size", 32.5, "batch_size must be a whole number"),
    ("batch_size", True, "batch_size must be a number"),
    ("d_steps", 0, "d_steps must be between 1 and 10"),
    ("loss", "mse", "loss must be one of bce, hinge, lsgan, wgan-gp"),
    ("label_smoothing", 0.9, "label_smoothing must be between 0 and 0.5"),
])
def test_live_settings_refuse_with_the_field_and_range(field, value, message):
    with pytest.raises(ConfigError, match=message):
        config.validate(LiveSettings, **{field: value})


@pytest.mark.parametrize("field, value, message", [
    ("arch", "resnet", "arch must be one of mlp, mlp_wide, conv"),
    ("latent_dim", 1, "latent_dim must be between 2 and 512"),
    ("seed", -3, "seed must be between"),
    ("conditional", "yes", "conditional must be true or false"),
    ("device", "tpu", "device must be one of auto, cpu, cuda"),
    ("data", "", "data must be one of"),
])
def test_model_spec_refuses_with_the_field_and_range(field, value, message):
    with pytest.raises(ConfigError, match=message):
        config.validate(ModelSpec, **{field: value})


def test_unknown_field_and_replace():
    with pytest.raises(ConfigError, match="unknown setting 'lr'"):
        config.validate(LiveSettings, lr=0.1)
    s = config.replace(LiveSettings(), batch_size=256.0)
    assert s.batch_size == 256 and isinstance(s.batch_size, int)
