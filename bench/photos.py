"""Synthetic photos that compress like real ones (not flat colour): gradients + sensor-like noise +
translucent shapes, with a phone's EXIF. One base image per size is made once; each photo is that
base with its own shapes, encoded once and cached in bench/.work/ (git-ignored)."""

import io
import random
from functools import cache

from PIL import Image, ImageChops, ImageDraw

from bench.common import WORK

PHONE_SIZE = (4032, 3024)  # 12 megapixels, as a phone's main camera
PHONE_QUALITY = 92
SMALL_SIZE = (1600, 1200)
SMALL_QUALITY = 80


@cache
def _base(size, sigma):
    width, height = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.linear_gradient("L").rotate(90).resize(size)
    channels = []
    for channel in (red, green, blue):
        # Grain at every scale (pixel noise alone would average away in any downscaled copy, which
        # real photos' detail does not): noise at 1/1 ... 1/32 of the size, each blown up to full size.
        for divisor in (1, 2, 4, 8, 16, 32):
            small = (max(1, width // divisor), max(1, height // divisor))
            noise = Image.effect_noise(small, sigma * (1 if divisor == 1 else 1.6))
            if divisor > 1:
                noise = noise.resize(size, Image.Resampling.BICUBIC)
            channel = ImageChops.add(channel, noise, scale=1.0, offset=-128)
        channels.append(channel)
    return Image.merge("RGB", channels).convert("RGBA")


def _shapes(size, seed):
    width, height = size
    rng = random.Random(seed)
    overlay = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(30):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randrange(width // 20, width // 3), y0 + rng.randrange(height // 20, height // 3)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256), rng.randrange(60, 200))
        shape = rng.choice((draw.ellipse, draw.rectangle, draw.line))
        if shape is draw.line:
            draw.line((x0, y0, x1, y1), fill=colour, width=rng.randrange(4, max(5, width // 100)))
        else:
            shape((x0, y0, x1, y1), fill=colour)
    return overlay


def _phone_exif(index):
    exif = Image.Exif()
    exif[0x010F] = "Samsung"  # Make
    exif[0x0110] = "Galaxy A54"  # Model
    exif[0x0112] = 1  # Orientation
    exif[0x0131] = "bench"  # Software
    exif[0x0132] = f"2025:0{1 + index % 9}:1{index % 10} 1{index % 10}:30:00"  # DateTime
    return exif


def _make(size, sigma, quality, seed, index):
    image = Image.alpha_composite(_base(size, sigma), _shapes(size, seed)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=_phone_exif(index))
    return buffer.getvalue()


def _cached(path, make):
    if path.exists() and path.stat().st_size:
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = make()
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
    return data


def phone_photo(index):
    """A 12-megapixel phone-like JPEG (about 3-5 MB), the same bytes for the same index across runs."""
    return _cached(WORK / "photos" / f"phone-{index:03d}.jpg",
                   lambda: _make(PHONE_SIZE, 6, PHONE_QUALITY, 1000 + index, index))


def small_photos(count):
    """Paths of ``count`` 1600x1200 JPEGs of about 200 KB (bench/.work/migration/legacy/IMG_NNNN.jpg)."""
    folder = WORK / "migration" / "legacy"
    paths = []
    for index in range(count):
        path = folder / f"IMG_{index:04d}.jpg"
        _cached(path, lambda index=index: _make(SMALL_SIZE, 2.5, SMALL_QUALITY, 50_000 + index, index))
        paths.append(path)
    return paths
