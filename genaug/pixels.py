"""Pixels as they are: one image file as 8-bit RGB, the way it is meant to be seen.

The conversion, in order (every rule is what a viewer shows, so a learner's folder loads as they
see it):

1. EXIF orientation is applied: a phone photo stored on its side loads upright.
2. 16-bit, 32-bit and floating-point images (scans, microscopy; PIL modes ``I;16``, ``I``,
   ``F``) are scaled linearly from their lowest value (0) to their highest (255), never clipped
   at 255; a flat image becomes black, NaN black and infinities the ends of the range.
3. Transparent pixels (an alpha channel, or a palette's transparent colour) are composited on
   white, the usual background of icons and scans.
4. Palette images take their palette's colours, and CMYK is converted by Pillow's formula
   (no colour profile); grey stays grey, as three equal channels.
5. The image is centre-cropped to a square and resized (bilinear) to the requested side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")  # more than 8 bits per pixel


def _stretched(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float image as 8-bit grey, its lowest value 0 and its highest 255."""
    values = np.asarray(image, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    span = high - low if high > low else np.inf  # a flat image: every pixel black
    scaled = np.nan_to_num((values - low) / span, nan=0.0, posinf=1.0, neginf=0.0)
    return Image.fromarray(np.round(scaled.clip(0, 1) * 255).astype(np.uint8), mode="L")


def as_rgb(image: Image.Image) -> Image.Image:
    """Any image PIL opens as 8-bit RGB: upright, its full range, transparency on white."""
    image = ImageOps.exif_transpose(image)
    if image.mode in HIGH_DEPTH_MODES:
        image = _stretched(image)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return image.convert("RGB")


def read_image(path: Path, size: int) -> tuple[np.ndarray, int] | None:
    """One image centre-cropped and resized to (size, size, 3) uint8 RGB, and its short side.

    None when the file cannot be decoded (not an image, truncated, or too large to trust).
    """
    try:
        with Image.open(path) as image:
            side = min(image.size)
            image.draft("RGB", (size, size))  # a large JPEG decodes straight at a smaller scale
            rgb = as_rgb(image)
            w, h = rgb.size
            s = min(w, h)
            box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
            square = rgb.resize((size, size), Image.Resampling.BILINEAR, box=box)
            return np.asarray(square), side
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
