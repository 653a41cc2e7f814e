"""The files a photo is served as, and its placeholder. Pillow only: no network, no Django.

A photo (already normalised by storage/images.py: sRGB, no metadata, long side <= PHOTO_MAX_SIDE)
is served at several widths (the ladder, PHOTO_RENDITION_WIDTHS, plus its own width) in its own
format -- JPEG, or PNG when its transparency is real -- and in AVIF and WebP, which carry the same
look in far fewer bytes. Every file's name derives from the photo's name (storage/names.py), so a
page builds each URL from the photo's row alone, and lists only the files the row says exist.

Decisions (figures: bench/encoders.py, bench/RESULTS.md):
- Each width is resized once and encoded in every format wanted at that width.
- A width is resized from the smallest image already made that is at least 1.5 times as wide (else
  from the photo itself): Lanczos' cost grows with the source's pixels, so a ladder of eight widths
  made from the full photo cost about three times as much CPU, for no difference one can see.
- Encoders run on one thread (AVIF's default is one per core): the callers already run photos side
  by side, and on Render's 0.1 CPU threads only add memory.
"""

import base64
import io
from contextlib import nullcontext
from dataclasses import dataclass, field

from PIL import Image

MODERN_FORMATS = ("avif", "webp")
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}
PILLOW_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}

JPEG_SETTINGS = {"quality": 85, "optimize": True, "progressive": True}
# zlib level 6, not optimize (level 9): on a 2048 px photo with a cut-out, 9 took 12 times the CPU
# (13 s, over 2 minutes on Render's 0.1 CPU) for a file 8 % smaller (bench/memory.py).
PNG_SETTINGS = {"compress_level": 6}
# The qualities give JPEG q85's look (the same median SSIMULACRA2 score on real photos, bench/encoders.py,
# RESULTS.md section 10). AVIF speed 9, not the smaller files of 8 or 6: Render's 0.1 CPU makes every
# photo's files in the background, and speed 9 makes the whole ladder in a third of speed 8's CPU
# (0.7 s against 2.1 s of one core) for files about 3 % (2016 px) to 13 % (1024 px) bigger. WebP (for
# browsers without AVIF) at method 4: method 6 was 4 % smaller for twice the CPU.
WEBP_SETTINGS = {"quality": 89, "method": 4}
AVIF_SETTINGS = {"quality": 75, "speed": 9, "subsampling": "4:2:0", "max_threads": 1}
SETTINGS = {"jpg": JPEG_SETTINGS, "png": PNG_SETTINGS, "webp": WEBP_SETTINGS, "avif": AVIF_SETTINGS}

RESIZE_SOURCE_FACTOR = 1.5
PLACEHOLDER_SIDE = 8  # pixels on the long side: about 100 bytes, a soft blur once the page stretches it


@dataclass(frozen=True)
class Rendition:
    data: bytes = field(repr=False)
    width: int
    height: int


@dataclass(frozen=True)
class Placeholder:
    colour: str  # "#rrggbb": the photo's average colour
    image: str  # a data: URL of a tiny WebP, stretched under the photo while it loads


def widths_for(width, ladder):
    """The widths a photo ``width`` pixels wide is served at: the ladder's narrower ones, and its own."""
    return sorted({w for w in ladder if w < width} | {width})


def files_wanted(width, extension, ladder, formats):
    """{(extension, width)}: every file a photo should have in these formats (its own one included)."""
    return {(each, w) for each in (extension, *formats) for w in widths_for(width, ladder)}


def height_at(size, width):
    return max(1, round(size[1] * width / size[0]))


def make_files(image, wanted, step=nullcontext):
    """{(extension, width): Rendition} for ``wanted`` (pairs as files_wanted gives) from ``image``.
    ``step``: a context manager entered around each width's work (e.g. a decode slot, taken one
    width at a time)."""
    made = {image.width: image}
    files = {}
    for width in sorted({w for _, w in wanted}, reverse=True):
        with step():
            make_width(image, width, made, [e for e, w in wanted if w == width], files)
    return files


def make_width(image, width, made, extensions, files):
    if width not in made:
        sources = [made[w] for w in made if w >= RESIZE_SOURCE_FACTOR * width]
        source = min(sources, key=lambda each: each.width) if sources else image
        made[width] = source.resize((width, height_at(image.size, width)), Image.Resampling.LANCZOS,
                                    reducing_gap=3.0)
        made[width].info.clear()
    for extension in sorted(extensions):
        files[extension, width] = encode(made[width], extension)


def encode(image, extension):
    buffer = io.BytesIO()
    image.save(buffer, PILLOW_FORMATS[extension], **SETTINGS[extension])
    return Rendition(data=buffer.getvalue(), width=image.width, height=image.height)


def placeholder_of(image):
    """A Placeholder for an opaque photo; None when it has transparency (the preview would show
    through the transparent parts once the photo is there)."""
    if image.mode != "RGB":
        return None
    tiny = image.copy()
    tiny.thumbnail((PLACEHOLDER_SIDE, PLACEHOLDER_SIDE), Image.Resampling.BOX, reducing_gap=2.0)
    red, green, blue = tiny.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    buffer = io.BytesIO()
    tiny.save(buffer, "WEBP", quality=60, method=6)
    data_url = "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Placeholder(colour=f"#{red:02x}{green:02x}{blue:02x}", image=data_url)
