"""Tensors to pictures: PNG grids, GIFs, data URIs. app.py never touches a tensor."""
from __future__ import annotations

import base64
import io
import math

import numpy as np
import torch
from PIL import Image


def grid_array(images: torch.Tensor | np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Images (N, 1, 28, 28) or (N, 28, 28) in [0, 1] -> one uint8 (H, W) mosaic, ink light on dark."""
    a = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    a = a.reshape(-1, 28, 28)
    n = a.shape[0]
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    out = np.zeros((ncol * (28 + pad) + pad, nrow * (28 + pad) + pad), dtype=np.uint8)
    pixels = (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        out[pad + r * (28 + pad): pad + r * (28 + pad) + 28, pad + c * (28 + pad): pad + c * (28 + pad) + 28] = pixels[i]
    return out


def png(images: torch.Tensor | np.ndarray, nrow: int | None = None, scale: int = 1) -> bytes:
    """Images (N, 1, 28, 28) in [0, 1] as one PNG mosaic, `scale` times upsampled (nearest)."""
    return mosaic_png(grid_array(images, nrow), scale)


def mosaic_png(mosaic: np.ndarray, scale: int = 1) -> bytes:
    """A uint8 (H, W) mosaic from grid_array() as PNG bytes."""
    im = Image.fromarray(mosaic)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def gif(frames: list[np.ndarray], ms_per_frame: int = 120, scale: int = 2) -> bytes:
    """An animated GIF from uint8 mosaics (H, W), e.g. grid_array() of successive steps."""
    ims = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in frames]
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


def data_uri(blob: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(blob).decode('ascii')}"


def preview_png(images: torch.Tensor | np.ndarray, n: int = 32, nrow: int = 16, scale: int = 2) -> bytes:
    """The first n images of a data set (N, 28, 28) uint8 or float, as one PNG strip."""
    a = images[:n]
    a = a.float() / 255.0 if isinstance(a, torch.Tensor) and a.dtype == torch.uint8 else a
    return png(a, nrow=nrow, scale=scale)


# -- gradients on images: a diverging colour map over the digit --------------------------------------------
INK_ADDED = (255, 150, 30)     # orange: a gradient step adds ink here (-∂L/∂x > 0)
INK_REMOVED = (40, 150, 255)   # blue: a gradient step removes ink here (-∂L/∂x < 0)
DIGIT_SHADE = 0.45             # the digit under the colours, dimmed so the colours read


def advice_scale(grads: torch.Tensor | np.ndarray, percentile: float = 99) -> float:
    """The |∂L/∂x| at which a picture's colour is full: this percentile of the frame's |∂L/∂x|, or 1
    where every gradient is 0. Written under the picture, so two frames can be compared."""
    a = np.abs(grads.detach().cpu().numpy() if isinstance(grads, torch.Tensor) else np.asarray(grads))
    s = float(np.percentile(a, percentile)) if a.size else 0.0
    return s if s > 0 and np.isfinite(s) else 1.0


def advice_array(images, grads, nrow: int | None = None, scale: float | None = None, pad: int = 2) -> np.ndarray:
    """Images (N, 1, 28, 28) in [0, 1] and their ∂L/∂x (same shape) -> an RGB (H, W, 3) uint8 mosaic:
    the digit dimmed, covered where the step adds ink (orange) or removes it (blue), as strongly as
    |∂L/∂x| / scale (capped at 1)."""
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    g = grads.detach().cpu().numpy() if isinstance(grads, torch.Tensor) else np.asarray(grads)
    x, g = x.reshape(-1, 28, 28), g.reshape(-1, 28, 28)
    v = np.clip(-np.nan_to_num(g) / (scale or advice_scale(g)), -1.0, 1.0)[..., None]   # (N, 28, 28, 1)
    colour = np.where(v > 0, np.array(INK_ADDED) / 255.0, np.array(INK_REMOVED) / 255.0)
    base = np.repeat(np.clip(np.nan_to_num(x), 0.0, 1.0)[..., None] * DIGIT_SHADE, 3, axis=-1)
    rgb = (1.0 - np.abs(v)) * base + np.abs(v) * colour                   # (N, 28, 28, 3) in [0, 1]
    return np.stack([grid_array(rgb[..., c], nrow, pad) for c in range(3)], axis=-1)


def advice_png(images, grads, nrow: int | None = None, scale: int = 2) -> tuple[bytes, float]:
    """(advice_array as PNG bytes, the |∂L/∂x| of full colour)."""
    full = advice_scale(grads)
    return mosaic_png(advice_array(images, grads, nrow, full), scale), full
