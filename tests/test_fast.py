"""fast.py's multi-tensor ops against their public loops, bit for bit, on a trainer's own tensors."""
import torch

from gan_core import fast
from gan_core.config import LiveSettings, ModelSpec
from gan_core.trainer import Trainer


def tensors(digits):
    t = Trainer(ModelSpec(), LiveSettings(batch_size=16), digits=digits)
    t.step()
    return [p.detach().clone() for p in t.G.parameters()], [p.grad.clone() for p in t.G.parameters()]


def test_norms_are_torchs_vector_norms(digits):
    weights, grads = tensors(digits)
    for ts in (weights, grads):
        assert torch.equal(fast.norms(ts), torch.stack([torch.linalg.vector_norm(x) for x in ts]))
    assert not fast.norms([torch.tensor([1.0, float("nan")])]).isfinite().all()


def test_lerp_and_copy_are_the_in_place_loops(digits):
    weights, grads = tensors(digits)
    a, b = [w.clone() for w in weights], [w.clone() for w in weights]
    fast.lerp_(a, grads, 0.002)
    for x, g in zip(b, grads):
        x.lerp_(g, 0.002)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, w) for x, w in zip(a, weights))     # it moved
    fast.copy_(a, grads)
    assert all(torch.equal(x, g) for x, g in zip(a, grads))
