"""The update rules a player may use, chosen for G and for D apart (config.OPTIMIZERS).

Adam (the default, DCGAN's), SGD with momentum, and RMSprop (the WGAN paper's), as torch implements
them. Live settings rule their param groups: lr for all three, β1/β2 for Adam, μ for SGD. Each keeps
its own state per weight (STATE): engine.py sends it to an engine, checkpoint.py checks it on load.
"""
from __future__ import annotations

import torch

from .config import LiveSettings

_CLASSES = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}
# the tensors each keeps per weight, as its state_dict names them (RMSprop: with torch's defaults,
# alpha=0.99, eps=1e-8, no momentum, not centred)
STATE = {"adam": ("step", "exp_avg", "exp_avg_sq"), "sgd": ("momentum_buffer",), "rmsprop": ("step", "square_avg")}
# settings in its param groups that only it has among the three: a saved group says whose it is
GROUP_KEYS = {"adam": ("betas",), "sgd": ("dampening", "nesterov"), "rmsprop": ("alpha", "centered")}
# fused: the whole update in one kernel per device; torch 2.13 has none for RMSprop (foreach there)
_FUSED = {"adam", "sgd"}


def settings_of(kind: str, s: LiveSettings) -> dict:
    """The live settings of optimizer `kind` as its param groups name them, lr aside."""
    return {"adam": {"betas": (s.beta1, s.beta2)}, "sgd": {"momentum": s.momentum}, "rmsprop": {}}[kind]


def build(kind: str, params: list[torch.nn.Parameter], lr: float, s: LiveSettings) -> torch.optim.Optimizer:
    """A fresh optimizer of `kind` (a name in config.OPTIMIZERS) over params, with no state yet."""
    cls, hyper = _CLASSES[kind], settings_of(kind, s)
    if kind in _FUSED:
        try:
            return cls(params, lr=lr, fused=True, **hyper)
        except RuntimeError:    # a device without the fused kernel
            pass
    return cls(params, lr=lr, foreach=True, **hyper)


def kind_of(opt: torch.optim.Optimizer) -> str:
    return next(k for k, cls in _CLASSES.items() if type(opt) is cls)


def set_live(opt: torch.optim.Optimizer, lr: float, s: LiveSettings) -> None:
    """The live settings into opt's param groups; its state is kept."""
    hyper = settings_of(kind_of(opt), s)
    for group in opt.param_groups:
        group["lr"] = lr
        group.update(hyper)


def ensure_state(opt: torch.optim.Optimizer) -> None:
    """Make the state each weight's first step would make (zeros, step 0), where it is missing, so
    that an optimizer holds the same tensors before its first step as after (engine.py packs them).

    Each starts from these exactly as from none: Adam and RMSprop make these zeros; SGD's first step
    clones g into the buffer, and μ·0 + g is g."""
    kind, fused = kind_of(opt), bool(opt.defaults.get("fused"))
    for group in opt.param_groups:
        for p in group["params"]:
            if opt.state.get(p):
                continue
            state = {name: torch.zeros_like(p, memory_format=torch.preserve_format)
                     for name in STATE[kind] if name != "step"}
            if "step" in STATE[kind]:   # a scalar, on the device where the fused kernel reads it
                state["step"] = torch.zeros((), dtype=torch.float32, device=p.device if fused else "cpu")
            opt.state[p] = state
