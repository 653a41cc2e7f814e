"""bench.delivery's photos: the synthetic phone photos of bench/photos.py, and, when bench.encoders
has fetched them into bench/.work/encoders/photos/ (Debian's wallpaper packages, never committed:
third-party works), real photographs made phone-like.

Why both: the synthetic photos carry grain at every scale, which AVIF and WebP squeeze much less than
real photos' smooth skies, skin and bokeh; the real ones are eight, so each gives several photos --
4:3 crops of different sizes and places, every other one mirrored -- at its own resolution (2.3 to
15 MP, 1748 px wide or more), as a JPEG q92 a phone could write.
Each is cached in bench/.work/delivery/ like bench/photos.py's.
"""

import io

from PIL import Image, ImageOps

from bench.common import WORK
from bench.photos import phone_photo

REAL_FOLDER = WORK / "encoders" / "photos"
CACHE = WORK / "delivery"
CROPS_PER_PHOTO = 4
CROP_STEP = 0.05  # each variant's crop is 5 % narrower than the one before


def real_sources():
    return sorted(REAL_FOLDER.glob("*.jpg")) if REAL_FOLDER.is_dir() else []


def data_sets():
    """{label: photo(index) -> JPEG bytes}: "synthetic" always, "real" when its photos are there."""
    sets = {"synthetic": phone_photo}
    if real_sources():
        sets["real"] = real_photo
    return sets


def real_photo(index):
    """The ``index``-th real photo (same bytes across runs): source index % 8, crop index // 8."""
    sources = real_sources()
    source, variant = sources[index % len(sources)], (index // len(sources)) % CROPS_PER_PHOTO
    path = CACHE / f"real-{index:03d}-v2.jpg"  # v2: crops that differ on a 4:3 source
    if path.exists() and path.stat().st_size:
        return path.read_bytes()
    with Image.open(source) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    # The largest 4:3 box, a little smaller for each variant (else an exactly 4:3 source would give the
    # same crop twice: the same bytes, one photo), moved from the top left (0) to the bottom right (1).
    where, scale = variant / (CROPS_PER_PHOTO - 1), 1 - CROP_STEP * variant
    crop_width = round(min(width, height * 4 / 3) * scale)
    crop_height = crop_width * 3 // 4
    left, top = round((width - crop_width) * where), round((height - crop_height) * where)
    image = image.crop((left, top, left + crop_width, top + crop_height))
    if variant % 2:
        image = ImageOps.mirror(image)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    CACHE.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(buffer.getvalue())
    temporary.replace(path)
    return buffer.getvalue()
