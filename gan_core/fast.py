"""The step's three ops over every parameter at once, through torch's multi-tensor (`_foreach`)
kernels: one call for all tensors where a plain loop makes one op per tensor.

This is the one place the trainer uses a private torch API; each function here is held
bit-identical to its public loop by tests/test_fast.py. What the single call saves, best of 15 x 200
calls on 2 threads on this project's (shared, loaded) 2-core machine, `python benchmarks/fast_ops.py`:

    per step            seed model (mlp)          default (mlp_wide, conditional)
    layer norms         427 µs vs 702 µs (loop)   2.53 ms vs 2.45 ms
    EMA of G            163 µs vs 644 µs (loop)   1.14 ms vs 2.69 ms

so about 0.75 ms of the seed model's step, which is ~7 ms on a quiet machine.
"""
from __future__ import annotations

import torch


def norms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """||t|| of each tensor, as one tensor (n,). Public loop: torch.linalg.vector_norm of each."""
    return torch.stack(torch._foreach_norm(tensors))


def lerp_(targets: list[torch.Tensor], sources: list[torch.Tensor], weight: float) -> None:
    """targets[i] += weight * (sources[i] - targets[i]), in place. Public loop: t.lerp_(s, weight)."""
    torch._foreach_lerp_(targets, sources, weight)


def copy_(targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
    """targets[i] = sources[i], in place. Public loop: t.copy_(s)."""
    torch._foreach_copy_(targets, sources)
