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


# --- big photos for bench.memory: one per format and size, cached in bench/.work/memory/ ----------

def _photo_like(size, fine_noise, grain=(64, 16, 4)):
    """Gradients + grain at several scales (``grain``: divisors of the size); ``fine_noise`` adds
    pixel-level grain: what makes JPEG/WebP/HEIC files as heavy as a camera's. A PNG keeps to coarse
    grain, or a 40 MP file would be far above PHOTO_MAX_BYTES (a real 40 MP PNG is a graphic)."""
    width, height = size
    channels = []
    for gradient in (Image.linear_gradient("L"), Image.radial_gradient("L"), Image.linear_gradient("L").rotate(90)):
        channel = gradient.resize(size)
        for divisor in grain:
            small = Image.effect_noise((max(1, width // divisor), max(1, height // divisor)), 12)
            channel = ImageChops.add(channel, small.resize(size, Image.Resampling.BICUBIC), offset=-128)
        if fine_noise:
            channel = ImageChops.add(channel, Image.effect_noise(size, fine_noise), offset=-128)
        channels.append(channel)
    return Image.merge("RGB", channels)


def _encoded(kind, size):
    buffer = io.BytesIO()
    if kind == "1-bit PNG":  # the 4.8 KB file: all white, declaring ~39 MP
        from tests.hostile_images import one_bit_png

        return one_bit_png(*size, rows=size[1])
    if kind == "GIF":  # a palette poster: 256 colours in blocks (GIF is no camera format)
        small = _photo_like((size[0] // 4, size[1] // 4), 0).quantize(256)
        small.resize(size, Image.Resampling.NEAREST).save(buffer, "GIF")
    elif kind in ("PNG", "PNG + alpha"):
        image = _photo_like(size, 0, grain=(64,))
        if kind == "PNG + alpha":  # see-through around the edges, as a cut-out logo or player
            image.putalpha(ImageChops.invert(Image.radial_gradient("L").resize(size)).point(lambda v: min(255, v * 3)))
        image.save(buffer, "PNG", compress_level=6)
    elif kind == "JPEG":
        _photo_like(size, 6).save(buffer, "JPEG", quality=88, exif=_phone_exif(0))
    elif kind == "WebP":
        _photo_like(size, 6).save(buffer, "WEBP", quality=80, method=2)
    elif kind == "HEIC":
        import pillow_heif

        pillow_heif.from_pillow(_photo_like(size, 3)).save(buffer, quality=60)
    else:
        raise ValueError(kind)
    return buffer.getvalue()


def big_photo(kind, size):
    """Path of a ``kind`` file ("JPEG", "PNG", "PNG + alpha", "1-bit PNG", "WebP", "GIF", "HEIC") of ``size``."""
    suffix = {"JPEG": "jpg", "WebP": "webp", "GIF": "gif", "HEIC": "heic"}.get(kind, "png")
    path = WORK / "memory" / f"{kind.replace(' + ', '-').replace(' ', '-').lower()}-{size[0]}x{size[1]}.{suffix}"
    _cached(path, lambda: _encoded(kind, size))
    return path
