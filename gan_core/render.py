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
