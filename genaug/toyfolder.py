"""A folder of labelled colour images made on the spot: one kind of shape or texture per class.

It stands in for your own images where there are none (the tests, CI, an offline notebook) and
has the layout a real folder has, ``PATH/<class>/*.png``. As in photos, colour says something
about the class without settling it: each class has its own hue, varied per image so that
neighbouring classes' hues overlap, on a dark or light grey; position, size and pixel noise
vary too, so a small budget of labels does not make the task trivial.
"""

from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

HUE_SPREAD = 0.08  # a class's hue varies this much each way: neighbouring classes overlap
Draw = Callable[[ImageDraw.ImageDraw, float, float, float, tuple, int], None]


def _circle(d: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: tuple, s: int) -> None:
    d.ellipse((x - r, y - r, x + r, y + r), fill=ink)


def _ring(d: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: tuple, s: int) -> None:
    d.ellipse((x - r, y - r, x + r, y + r), outline=ink, width=max(2, round(r / 3)))


def _square(d: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: tuple, s: int) -> None:
    d.rectangle((x - r, y - r, x + r, y + r), fill=ink)


def _triangle(d: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: tuple, s: int) -> None:
    d.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=ink)


def _diamond(d: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: tuple, s: int) -> None:
    d.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=ink)


def _cross(d: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: tuple, s: int) -> None:
    w = max(2, round(r / 2.5))
    d.rectangle((x - r, y - w / 2, x + r, y + w / 2), fill=ink)
    d.rectangle((x - w / 2, y - r, x + w / 2, y + r), fill=ink)


def _stripes(d: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: tuple, s: int) -> None:
    period = max(4, round(r / 1.5))
    for top in range(round(y) % period - period, s, period):
        d.rectangle((0, top, s, top + period // 2 - 1), fill=ink)


def _bars(d: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: tuple, s: int) -> None:
    period = max(4, round(r / 1.5))
    for left in range(round(x) % period - period, s, period):
        d.rectangle((left, 0, left + period // 2 - 1, s), fill=ink)


def _checks(d: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: tuple, s: int) -> None:
    cell = max(3, round(r / 2))
    for i in range(-1, s // cell + 2):
        for j in range(-1, s // cell + 2):
            if (i + j) % 2 == 0:
                left, top = i * cell + round(x) % cell, j * cell + round(y) % cell
                d.rectangle((left, top, left + cell - 1, top + cell - 1), fill=ink)


def _dots(d: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: tuple, s: int) -> None:
    step, dot = max(5, round(r / 1.3)), max(1.0, r / 6)
    for cx in range(round(x) % step, s, step):
        for cy in range(round(y) % step, s, step):
            d.ellipse((cx - dot, cy - dot, cx + dot, cy + dot), fill=ink)


SHAPES: dict[str, Draw] = {"circle": _circle, "square": _square, "triangle": _triangle,
                           "ring": _ring, "cross": _cross, "diamond": _diamond,
                           "stripes": _stripes, "bars": _bars, "checks": _checks, "dots": _dots}


def draw_shape(kind: str, size: int, rng: np.random.Generator, noise: float = 8.0
               ) -> Image.Image:
    """One RGB image of ``kind``: the class's hue (varied per image) on a dark or light grey,
    at a random position and size, plus Gaussian pixel noise."""
    hue = (list(SHAPES).index(kind) / len(SHAPES) + rng.uniform(-HUE_SPREAD, HUE_SPREAD)) % 1.0
    saturation, value = rng.uniform(0.5, 1.0), rng.uniform(0.6, 1.0)
    ink = tuple(round(255 * v) for v in colorsys.hsv_to_rgb(hue, saturation, value))
    grey = int(rng.choice([rng.integers(0, 70), rng.integers(150, 256)]))
    image = Image.new("RGB", (size, size), (grey, grey, grey))
    x, y = rng.uniform(0.35, 0.65, 2) * size
    SHAPES[kind](ImageDraw.Draw(image), x, y, rng.uniform(0.2, 0.35) * size, ink, size)
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, noise, (size, size, 3))
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def make_shapes_folder(path: str | Path, per_class: int = 40, size: int = 32, seed: int = 0,
                       classes: Sequence[str] = tuple(SHAPES)) -> Path:
    """Write ``per_class`` PNGs of every class to ``path/<class>/``; a finished folder is kept.
    A folder (re)written here drops its saved test split: its files are new, and the split
    saved for the old ones would refuse them as a changed folder."""
    from genaug.folder_split import split_file  # here: it imports torch

    path = Path(path)
    unknown = [c for c in classes if c not in SHAPES]
    if unknown:
        raise ValueError(f"Unknown shape(s) {unknown}; choose from {', '.join(SHAPES)}.")
    for name in classes:
        folder = path / name
        if folder.is_dir() and len(list(folder.glob("*.png"))) == per_class:
            continue  # written before (the drawing is the same for a seed): keep it
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([seed, list(SHAPES).index(name)])  # one stream per class
        for i in range(per_class):
            draw_shape(name, size, rng).save(folder / f"{name}_{i:04d}.png")
        split_file(path).unlink(missing_ok=True)
    return path
