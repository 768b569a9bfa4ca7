"""The training step: one D update (or d_steps of them), then one G update, then G's EMA.

The Trainer holds models, optimizers, settings and RNG; `step()` returns a dict of scalars. Settings
change between steps through `apply()`. It does no I/O and encodes no image.
"""
from __future__ import annotations

import copy
import math
import threading

import torch
import torch.distributed as dist

from . import config, losses, models, optimizers, sampling
from .config import LiveSettings, ModelSpec
from .data import Digits
from .i18n import msg

_init_lock = threading.Lock()  # model init reads the global RNG; serialise it across sessions


def _all_mean(tensors: list[torch.Tensor]) -> None:
    """Replace each tensor by its mean over all ranks, in one all-reduce of a flat copy."""
    flat = torch.cat([t.reshape(-1) for t in tensors])          # (total numel,)
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    for t, mean in zip(tensors, flat.split([t.numel() for t in tensors])):
        t.copy_(mean.view_as(t))


_BATCH_NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d, torch.nn.SyncBatchNorm)


class DivergenceError(RuntimeError):
    """A step produced a non-finite loss or weight; the step's update must not be kept."""


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise config.ConfigError(msg("device cuda was asked for but no CUDA device is present"))
    return torch.device(name)


class Trainer:
    def __init__(self, spec: ModelSpec = ModelSpec(), settings: LiveSettings = LiveSettings(), *,
                 digits: Digits, grid_size: int = 64):
        self.spec, self.settings, self.digits = spec, settings, digits
        self.device = pick_device(spec.device)
        with _init_lock, torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.seed)
            self.G, self.D = models.build(spec)
        # G starts at the data's mean image, not grey: the first legible digits ~100 steps sooner
        # (benchmarks/recipe.py --bias-init; docs/performance.md "Digits at 20 s")
        models.init_background(self.G, digits.mean_pixels)
        self.G.to(self.device), self.D.to(self.device)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False).eval()
        # parameter and buffer lists, walked once: each walk of a module tree costs ~20 µs, and a
        # step needs ten of them (the two updates, the norms, the EMA, the buffers)
        self._params = {m: list(m.parameters()) for m in (self.G, self.D, self.G_ema)}
        self._ema_pairs = (list(zip(self._params[self.G_ema], self._params[self.G])),
                           list(zip(self.G_ema.buffers(), self.G.buffers())))
        self._float_buffers = [b for m in (self.G, self.D) for b in m.buffers() if b.is_floating_point()]
        # data-parallel (torchrun): same init everywhere, other batches on every rank
        self.rank, self.world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        self.rng = torch.Generator(self.device).manual_seed(spec.seed + 1_000_003 * self.rank)
        self._broadcast_weights()
        # the data set lives on the device once, as uint8; batches are cast as they are drawn
        self.images = digits.images.to(self.device).contiguous()   # (N, 28, 28) uint8; shared when it can be
        self.labels = digits.labels.clamp(min=0).to(self.device)
        if spec.conditional and bool((digits.labels < 0).any()):
            raise config.ConfigError(msg("a conditional model needs labelled data; these images have no labels"))
        self.opt_g = optimizers.build(settings.optimizer_g, self._params[self.G], settings.lr_g, settings)
        self.opt_d = optimizers.build(settings.optimizer_d, self._params[self.D], settings.lr_d, settings)
        self.fixed_z = sampling.fixed_grid(grid_size, spec.latent_dim, spec.seed).to(self.device)
        self.fixed_y = sampling.grid_labels(grid_size).to(self.device)
        self.step_count = 0
        self._layer_index = self._index_layers()
        # a D without batch statistics gives the same logits to real and fake in one pass as in two,
        # and one pass of 2B rows costs less than two of B (fewer kernels, fuller matmuls)
        self._joint_d = not any(isinstance(m, _BATCH_NORMS) for m in self.D.modules())

    # -- settings -------------------------------------------------------------------------------
    def apply(self, **changes) -> LiveSettings:
        """Validate the changed live settings (config: ConfigError) and apply them. An optimizer keeps
        its state; one switched for another starts with none (the player's weights stay as they are)."""
        old, self.settings = self.settings, config.replace(self.settings, **changes)
        s = self.settings
        # a state is its own optimizer's (Adam's moments mean nothing to SGD): the new one starts fresh
        if s.optimizer_g != old.optimizer_g:
            self.opt_g = optimizers.build(s.optimizer_g, self._params[self.G], s.lr_g, s)
        if s.optimizer_d != old.optimizer_d:
            self.opt_d = optimizers.build(s.optimizer_d, self._params[self.D], s.lr_d, s)
        optimizers.set_live(self.opt_g, s.lr_g, s)
        optimizers.set_live(self.opt_d, s.lr_d, s)
        return self.settings

    # -- batches --------------------------------------------------------------------------------
    def real_batch(self, n: int, gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """n training images (n, 1, 28, 28) in [0, 1] on the device and their labels (0 where the
        data has none), drawn with `gen` (a probe's own) or else the trainer's generator."""
        gen = self.rng if gen is None else gen
        idx = torch.randint(len(self.images), (n,), generator=gen, device=gen.device).to(self.device)
        x = self.images.view(len(self.images), -1).index_select(0, idx).float().div_(255.0)   # (n, 784)
        return x.view(n, *models.IMAGE_SHAPE), self.labels.index_select(0, idx)

    def _latent(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n latent vectors (n, latent_dim), and digits to ask for if the model is conditional."""
        z = torch.randn(n, self.spec.latent_dim, generator=self.rng, device=self.device)
        if not self.spec.conditional:
            return z, None
        return z, torch.randint(models.N_CLASSES, (n,), generator=self.rng, device=self.device)

    # -- the step -------------------------------------------------------------------------------
    def step(self) -> dict[str, float]:
        """One round of the game: d_steps D updates, then g_steps G updates; returns losses, D's
        outputs, per-layer gradient norms, lrs."""
        self._train_mode()
        for _ in range(self.settings.d_steps):
            loss_d, real_logit, fake_logit = self.update_d()
        for _ in range(self.settings.g_steps):
            loss_g = self.update_g()
        return self.end_round(loss_d, loss_g, real_logit, fake_logit)

    def end_round(self, loss_d: torch.Tensor, loss_g: torch.Tensor, real_logit: torch.Tensor,
                  fake_logit: torch.Tensor) -> dict[str, float]:
        """After a round's updates: G's EMA, the step counter, and the round's metrics."""
        grads = self._grad_norms()
        self._average_buffers()
        self._update_ema()
        self.step_count += 1
        return self._metrics(loss_d, loss_g, real_logit, fake_logit, grads)

    # -- half a round: one player's update alone (the page's Step D and Step G) -----------------
    def step_d(self) -> dict[str, float]:
        """One D update alone: G, its EMA and so the grid stay as they were. The run advances a step."""
        self._train_mode()
        loss_d, real_logit, fake_logit = self.update_d()
        scores = {"loss_d": loss_d, "d_real": torch.sigmoid(real_logit.detach()).mean(),
                  "d_fake": torch.sigmoid(fake_logit.detach()).mean()}
        return self._end_half(scores, "D", self.D)

    def step_g(self) -> dict[str, float]:
        """One G update alone, then G's EMA (the grid shows the EMA); D stays as it was."""
        self._train_mode()
        loss_g = self.update_g()
        self._update_ema()
        return self._end_half({"loss_g": loss_g}, "G", self.G)

    def _train_mode(self) -> None:
        for m in (self.G, self.D):
            if not m.training:   # train() walks every module: only when something switched it
                m.train()

    def _end_half(self, scores: dict[str, torch.Tensor], tag: str, model: torch.nn.Module) -> dict[str, float]:
        # the other player's metrics are absent from the row: its charts skip this step
        out = {k: float(v.detach()) for k, v in scores.items()}
        if not math.isfinite(out.get("loss_d", out.get("loss_g"))):
            raise DivergenceError(msg("step {step}: loss is not finite (L_D={loss_d:.4g}, L_G={loss_g:.4g})",
                                      step=self.step_count, loss_d=out.get("loss_d", math.nan),
                                      loss_g=out.get("loss_g", math.nan)))
        for name, params in models.layers(model):
            out[f"grad/{tag}.{name}"] = float(torch.sqrt(sum(p.grad.pow(2).sum() for p in params)))
        self._average_buffers()
        self.step_count += 1
        out["lr_g"], out["lr_d"], out["step"] = self.settings.lr_g, self.settings.lr_d, self.step_count
        return out

    def update_d(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(1) D update: L_D = -E[log D(x)] - E[log(1 - D(G(z)))]  (or the chosen loss)."""
        s = self.settings
        x, y_real = self.real_batch(s.batch_size)
        y_real = y_real if self.spec.conditional else None
        z, y_fake = self._latent(s.batch_size)
        with torch.no_grad():
            fake = self.G(z, y_fake)                              # (B, 1, 28, 28), no graph into G
        if self._joint_d:
            y = None if y_real is None else torch.cat([y_real, y_fake])
            logits = self.D(torch.cat([x, fake]), y)                            # (2B,)
            real_logit, fake_logit = logits.split(s.batch_size)                 # (B,), (B,)
        else:  # BatchNorm: real and fake batches must not share statistics
            real_logit, fake_logit = self.D(x, y_real), self.D(fake, y_fake)   # (B,), (B,)
        loss_d = losses.LOSSES[s.loss][0](real_logit, fake_logit, s.label_smoothing)
        if s.loss == "wgan-gp":
            eps = torch.rand(s.batch_size, 1, 1, 1, generator=self.rng, device=self.device)
            loss_d = loss_d + s.gp_weight * losses.gradient_penalty(self.D, x, fake, eps, y_real)
        self._backprop(loss_d, self.D)
        self._average_grads(self.D)
        self.opt_d.step()
        return loss_d, real_logit, fake_logit

    def update_g(self) -> torch.Tensor:
        """(2) G update on a fresh batch: non-saturating L_G = -E[log D(G(z))]  (or the chosen loss)."""
        z, y_fake = self._latent(self.settings.batch_size)
        loss_g = losses.LOSSES[self.settings.loss][1](self.D(self.G(z, y_fake), y_fake))
        # backprop runs through D into G; only G's weights get gradients: D is a fixed judge here
        self._backprop(loss_g, self.G)
        self._average_grads(self.G)
        self.opt_g.step()
        return loss_g

    def _backprop(self, loss: torch.Tensor, model: torch.nn.Module) -> None:
        """dloss/dθ of this model's weights into their .grad, and no other weights' gradients.
        (As zero_grad() then backward() with the other model frozen, without their Python.)"""
        params = self._params[model]
        for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True)):
            p.grad = g

    # -- data parallel ---------------------------------------------------------------------------
    def _broadcast_weights(self) -> None:
        if self.world > 1:
            for t in [*self.G.state_dict().values(), *self.D.state_dict().values()]:
                dist.broadcast(t, src=0)
            self.G_ema.load_state_dict(self.G.state_dict())

    def _average_grads(self, model: torch.nn.Module) -> None:
        # the mean gradient over ranks, so every replica takes the same optimizer step. (DDP does not fit:
        # its hooks wait for backward(), and each update here asks autograd.grad for one model's.)
        if self.world > 1:
            _all_mean([p.grad for p in self._params[model] if p.grad is not None])

    def _average_buffers(self) -> None:
        # BatchNorm statistics drift apart on other batches: keep the replicas identical
        if self.world > 1 and self._float_buffers:
            _all_mean(self._float_buffers)

    # -- helpers --------------------------------------------------------------------------------
    def _index_layers(self) -> tuple[list[str], torch.Tensor]:
        # the layer names of D then G, and for each of their parameters the index of its layer
        names, owner = [], []
        for tag, model in (("D", self.D), ("G", self.G)):
            for name, params in models.layers(model):
                owner += [len(names)] * len(params)
                names.append(f"{tag}.{name}")
        return names, torch.tensor(owner, device=self.device)

    def _grad_norms(self) -> torch.Tensor:
        """||grad|| of every layer (n_layers,), D's from its last update and G's, in one pass.

        D's gradients outlive the G update: D is frozen there, and only the next D update clears them."""
        names, owner = self._layer_index
        grads = [p.grad for m in (self.D, self.G) for p in self._params[m]]
        sq = torch.stack([torch.linalg.vector_norm(g) for g in grads]) ** 2   # (n_params,)
        per_layer = torch.zeros(len(names), device=self.device).index_add_(0, owner, sq)
        return per_layer.sqrt()                                   # (n_layers,)

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = self.settings.ema_decay
        params, buffers = self._ema_pairs
        # warm-up: early on the average would be dominated by the random init. (1+k)/(5+k) averages
        # over about k/4 of the steps so far; with (1+k)/(10+k) the grid read 3-14 points less legible
        # at 800 steps in 5 of 6 runs (benchmarks/recipe.py's judgement). Training itself is unchanged.
        d = 0.0 if self.step_count == 0 else min(decay, (1 + self.step_count) / (5 + self.step_count))
        for e, w in params:
            e.lerp_(w, 1.0 - d) if d else e.copy_(w)
        for b_ema, b in buffers:
            b_ema.copy_(b)

    def _metrics(self, loss_d, loss_g, real_logit, fake_logit, grads) -> dict[str, float]:
        scores = torch.stack([
            loss_d.detach(), loss_g.detach(),
            torch.sigmoid(real_logit.detach()).mean(), torch.sigmoid(fake_logit.detach()).mean(),
        ])
        values = torch.cat([scores, grads]).tolist()   # the step's one host sync
        names = ["loss_d", "loss_g", "d_real", "d_fake"]
        names += [f"grad/{n}" for n in self._layer_index[0]]
        out = dict(zip(names, values))
        if not all(math.isfinite(v) for v in values[:2]):
            raise DivergenceError(msg("step {step}: loss is not finite (L_D={loss_d:.4g}, L_G={loss_g:.4g})",
                                      step=self.step_count, loss_d=values[0], loss_g=values[1]))
        out["lr_g"], out["lr_d"], out["step"] = self.settings.lr_g, self.settings.lr_d, self.step_count
        return out

    # -- sampling -------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None, ema: bool = True) -> torch.Tensor:
        """Images (n, 1, 28, 28) on the CPU for latent vectors z, from G's EMA by default."""
        g = self.G_ema if ema and self.settings.ema_decay > 0 else self.G
        was_training = g.training
        g.eval()
        if y is None and self.spec.conditional:
            y = sampling.grid_labels(len(z))
        out = g(z.to(self.device), None if y is None else y.to(self.device)).float().cpu()
        g.train(was_training)
        return out

    def grid(self) -> torch.Tensor:
        return self.generate(self.fixed_z, self.fixed_y if self.spec.conditional else None)

    def weights_finite(self) -> bool:
        params = [p for m in (self.G, self.D) for p in m.parameters()]
        return bool(torch.nn.utils.get_total_norm(params).isfinite())


# -- the step every run takes, on the session's thread or in an engine ---------------------------------
def one_step(t: Trainer, update_every: int, run=None) -> tuple[dict[str, float], dict[str, float] | None]:
    """A training step (t.step(), or `run(t)`: half a round, the slow-motion step) and, every
    `update_every` steps, how far it moved each layer (||Δw|| / ||w||, from copies taken before)."""
    before = copy_weights(t) if t.step_count % update_every == 0 else None
    m = t.step() if run is None else run(t)
    return m, (update_ratios(before, t) if before is not None else None)


# -- how far a step moved each layer --------------------------------------------------------
def copy_weights(t: Trainer) -> dict[str, list[torch.Tensor]]:
    """Each layer's parameters ("G.<layer>", "D.<layer>"), copied: call before a step."""
    return {f"{tag}.{name}": [p.detach().clone() for p in params]
            for tag, model in (("G", t.G), ("D", t.D)) for name, params in models.layers(model)}


def update_ratios(before: dict[str, list[torch.Tensor]], t: Trainer) -> dict[str, float]:
    """||Δw|| / ||w|| per layer, all its parameters together, w being the weights before the step."""
    now = {f"{tag}.{name}": params for tag, model in (("G", t.G), ("D", t.D))
           for name, params in models.layers(model)}
    out = {}
    for layer, old in before.items():
        new = now[layer]
        delta = sum(float((n.detach() - o).pow(2).sum()) for n, o in zip(new, old)) ** 0.5
        norm = sum(float(o.pow(2).sum()) for o in old) ** 0.5
        out[layer] = delta / norm if norm > 0 else float("nan")
    return out
