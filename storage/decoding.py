"""From an opened image to small, simple pixels, by each format's cheapest path. Pillow and
pillow-heif only; storage/images.py calls ``decode_small`` and does the rest.

The memory of a photo is spent here: a 40 MP image is 160 MB as RGBA at full size, and Pillow's
plain path (convert, then resize) makes more full-size copies on the way (bench/memory.py). So:
- JPEG: libjpeg decodes at 1/2, 1/4 or 1/8 scale for free (``draft``): never the full size. A
  scale landing within JPEG_SIDE_TOLERANCE under max_side is taken as it is: a phone's 4032 px
  photo comes out 2016 px wide, decoded at half size with no resize after, instead of a full
  12 MP decode resized to 2048 (746 -> 364 ms of CPU, bench/gallery_breakdown.py; on Render's
  0.1 CPU, about 7 s -> 4 s a photo).
- HEIC: libheif's RGB buffer is read a band of rows at a time; Pillow never gets a full-size copy.
- Everything else (PNG, GIF, WebP): decoded at full size in its own mode (1 byte a pixel for
  palette, grey and 1-bit images), then reduced by an integer factor *a band of rows at a time*:
  the conversion to RGB/RGBA (4 bytes a pixel) and RGBA's premultiplied copy only ever exist for
  one band. Reducing band by band gives exactly the pixels a whole-image ``reduce()`` gives,
  since bands are whole multiples of the factor.
- WebP has no cheap path in Pillow (its decoder holds two full-size RGBA canvases plus a copy):
  its cap is lower, checked from the file's header before Pillow opens it.
The result is upright (EXIF orientation applied to the small image) and keeps its ICC profile.
"""

import io
import math

import pillow_heif
from PIL import Image

SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I")
# Reduce by the largest integer factor that keeps the image at least the target size, as libjpeg's
# draft does for JPEG; LANCZOS finishes from there. reduce() averages whole blocks of pixels (no
# aliasing); a larger gap (Pillow's reducing_gap 2 or 3) would keep a 40 MP photo at full size.
REDUCING_GAP = 1.0
JPEG_SIDE_TOLERANCE = 0.03  # 4000 and 4032 px phones (12 MP), 8000 and 8064 px (48 MP) -> 2000-2016 px
BAND_PIXELS = 1 << 20  # about 4 MB a band once converted to RGBA
ORIENTATION = 0x0112
TRANSPOSE = {2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
             4: [Image.Transpose.FLIP_TOP_BOTTOM], 5: [Image.Transpose.TRANSPOSE],
             6: [Image.Transpose.ROTATE_270], 7: [Image.Transpose.TRANSVERSE], 8: [Image.Transpose.ROTATE_90]}


def decode_small(image, data, max_side):
    """``image`` (opened, not loaded, from ``data``) decoded, reduced towards ``max_side`` and in
    one of the modes L, RGB, RGBA, CMYK. Raises whatever the decoder raises on a damaged file."""
    if image.format == "HEIF":
        return decode_heif(data, max_side)
    icc_profile = image.info.get("icc_profile")
    turns = TRANSPOSE.get(orientation(image), [])
    if image.format in ("JPEG", "MPO"):
        image.draft(None, capped_size(image.size, max_side * (1 - JPEG_SIDE_TOLERANCE)))
    image.load()
    mode, factor = simple_mode_of(image), factor_for(image.size, max_side)
    if factor == 1 and image.mode == mode:
        small = image  # nothing to convert or reduce: no copy
    else:
        small = reduced(image.size, lambda top, bottom: image.crop((0, top, image.width, bottom)), mode, factor)
        image.close()  # the full-size pixels go now, not when the caller lets go of the file
    for turn in turns:
        small = small.transpose(turn)
    small.info = {"icc_profile": icc_profile} if icc_profile else {}
    return small


def decode_heif(data, max_side):
    """libheif decodes to one RGB(A) buffer (8 bits, HDR brought down; orientation already
    applied); Pillow sees it one band at a time, so the only full-size copy is libheif's own."""
    # remove_stride=False: libheif's rows as they are; where libheif pads them, a copy without the
    # padding would be a second full-size buffer.
    heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True, remove_stride=False)
    view = memoryview(heif.data)
    (width, _height), mode, stride = heif.size, heif.mode, heif.stride

    def band(top, bottom):
        return Image.frombuffer(mode, (width, bottom - top), view[top * stride:bottom * stride], "raw", mode, stride, 1)

    small = reduced(heif.size, band, "RGBA" if "A" in mode else "RGB", factor_for(heif.size, max_side))
    small.info = {"icc_profile": heif.info["icc_profile"]} if heif.info.get("icc_profile") else {}
    view.release()
    return small


def webp_canvas_size(data):
    """(width, height) a WebP file declares, read from its first chunk as the WebP container spec
    lays it out; None for anything else. Lets the cap refuse a WebP before Pillow decodes anything."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended format: the canvas, 24 bits each, minus one
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy: 14 bits each after the start code
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14 + 14 bits, minus one
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def orientation(image):
    try:
        return image.getexif().get(ORIENTATION, 1)
    except Exception:  # a damaged EXIF block: the pixels are fine, take them as stored
        return 1


def capped_size(size, max_side):
    width, height = size
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def factor_for(size, max_side):
    return max(1, int(max(size) / max_side / REDUCING_GAP))


def simple_mode_of(image):
    """The mode the image is worked in: one a colour profile applies to and Pillow resizes well."""
    if image.has_transparency_data:
        return "RGBA"
    if image.mode in ("L", "1", *SIXTEEN_BIT_GREY):
        return "L"
    return image.mode if image.mode in ("RGB", "CMYK") else "RGB"


def in_mode(image, mode):
    if image.mode == mode:
        return image
    if image.mode in SIXTEEN_BIT_GREY:
        # Converting 16-bit grey straight to "L" clips everything above 255 to white: scale first.
        return image.convert("I").point(lambda value: value / 257).convert("L")
    return image.convert(mode)


def reduced(size, band, mode, factor):
    """The image ``band(top, bottom)`` returns rows of, in ``mode``, reduced by ``factor``, built a
    band of rows at a time (each band a whole multiple of ``factor`` rows)."""
    width, height = size
    rows = factor * max(1, BAND_PIXELS // (width * factor))
    result = Image.new(mode, (math.ceil(width / factor), math.ceil(height / factor)))
    for top in range(0, height, rows):
        part = in_mode(band(top, min(height, top + rows)), mode)
        result.paste(part.reduce(factor) if factor > 1 else part, (0, top // factor))
    return result
