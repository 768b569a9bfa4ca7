"""The digit judge: a small CNN that classifies 28x28 digits, used to measure a generator, never to
train one.

Its class probabilities give the confidence and the digit histogram of samples; its penultimate
features (128 numbers per image) give a Fréchet distance to real digits (see metrics.py). The
weights in assets/judge.pt come from scripts/train_judge.py, trained on the 4,000 train-split
bundled digits only, so the 1,000 held-out digits stay unseen by the judge; synthetic noise was
trained toward "no digit" (uniform probabilities), so noise does not count as a confident digit.
"""
from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS_PATH = Path(__file__).parent / "assets" / "judge.pt"
WEIGHTS_VERSION = 1
N_CLASSES = 10
FEATURE_DIM = 128  # modest: a Fréchet distance over 1,000 samples needs a well-estimated 128x128 covariance
BATCH = 500        # images per forward pass in predict(); bounds memory for any N


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    # 3x3 "same" conv; BatchNorm lets a few epochs of plain SGD converge without input scaling
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class Interrupted(RuntimeError):
    """A reading left unfinished because the process is exiting."""


class Judge(nn.Module):
    """CNN digit classifier. forward: images (B,1,28,28), (B,28,28) or (B,784) in [0,1] -> logits (B,10)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            *_conv_block(1, 16),                   # (B, 16, 28, 28)
            *_conv_block(16, 32), nn.MaxPool2d(2),  # (B, 32, 14, 14)
            *_conv_block(32, 64), nn.MaxPool2d(2),  # (B, 64, 7, 7)
            *_conv_block(64, FEATURE_DIM),         # (B, 128, 7, 7)
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, 128)
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(FEATURE_DIM, N_CLASSES))  # (B, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, 128) of images in [0, 1]."""
        return self.body(x.reshape(-1, 1, 28, 28))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def to_input(images) -> torch.Tensor:
    """Images as the judge takes them: float32 (N, 1, 28, 28) in [0, 1] on the CPU.

    Accepts a tensor or numpy array of uint8 0..255 or floats in [0, 1], shaped (N, 28, 28),
    (N, 1, 28, 28) or (N, 784).
    """
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images).detach().cpu()
    scale = 255.0 if x.dtype == torch.uint8 else 1.0
    return (x.to(torch.float32) / scale).reshape(-1, 1, 28, 28)


def save_weights(judge: Judge, path: Path = WEIGHTS_PATH, **info) -> None:
    """Write the judge as one plain dict: version, state dict, and any facts about its training."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in judge.state_dict().items()}
    torch.save({"version": WEIGHTS_VERSION, "state_dict": state, **info}, path)


def read_weights(path: Path = WEIGHTS_PATH) -> Judge:
    """A fresh Judge in eval mode with the weights at `path` (not cached; see load_judge)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("version") != WEIGHTS_VERSION:
        raise ValueError(f"{path}: not a judge weights file of version {WEIGHTS_VERSION}")
    judge = Judge()
    judge.load_state_dict(checkpoint["state_dict"])
    return judge.eval().requires_grad_(False)


_load_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _cached_judge() -> Judge:
    return read_weights(WEIGHTS_PATH)


def load_judge() -> Judge:
    """The committed judge, loaded once per process and shared: treat it as read-only."""
    # the lock makes concurrent first calls load once; later calls return the cached module
    with _load_lock:
        return _cached_judge()


def predict_with_features(images, judge: Judge | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Class probabilities (N, 10) and penultimate features (N, 128) of N images, in batches."""
    judge = load_judge() if judge is None else judge
    x = to_input(images)  # (N, 1, 28, 28)
    probs, feats = [], []
    with torch.no_grad():
        for chunk in x.split(BATCH):
            if not threading.main_thread().is_alive():
                # the interpreter is exiting and joins its other threads first: a background warm-up
                # (preload.warm_judge, seconds of work) ends here instead of holding the exit (SIGTERM
                # took 13-29 s with a page open)
                raise Interrupted("the process is exiting")
            f = judge.features(chunk)                       # (b, 128)
            probs.append(judge.head(f).softmax(dim=1))      # (b, 10)
            feats.append(f)
    if not probs:
        return torch.zeros(0, N_CLASSES), torch.zeros(0, FEATURE_DIM)
    return torch.cat(probs), torch.cat(feats)


def predict(images, judge: Judge | None = None) -> torch.Tensor:
    """Class probabilities (N, 10) of N images (uint8 0..255 or float in [0, 1])."""
    return predict_with_features(images, judge)[0]
