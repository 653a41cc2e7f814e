"""An editor's photo made fit for the public site: checked, normalised, resized. Pillow only.

No network and no Django here: the admin form calls ``process_photo`` before anything is saved or
sent, a parked photo gets its renditions back from ``make_renditions``, and ``photo_name`` says
where the photo goes. Every refusal is an ``ImageRejected`` whose message an editor understands.

Why in-house rather than django-imagekit: its cache files are generated through the storage.
Even with the "optimistic" strategy, every spec of every saved photo first asks the storage
whether the rendition ``exists()`` (unless the cache already knows) and then opens the source
*from the storage* to resize it, i.e. downloads the original back from HostGator, before uploading
each rendition on its own. Each of those is an FTP round trip. Here the photo is decoded once, in
memory, and the original and its renditions leave together in one batch.

Decisions:
- Formats are recognised from the content, never from the name or the browser's content type:
  JPEG (and MPO, the multi-picture JPEG some phones write), PNG, WebP, GIF and HEIC/HEIF.
  Only those Pillow plugins are even tried, so no other parser ever sees an upload.
- Output: opaque images become progressive JPEG (quality 85); images whose transparency is
  actually used become PNG (lossless, so logos stay crisp; read by every browser and every social
  network preview). Extension: "jpg" or "png". Renditions share the original's format.
- Animated GIF/WebP/PNG keep their first frame only: a news photo is a still, and decoding every
  frame would multiply the memory a small file can claim.
- Memory: each format is decoded by its cheapest path (storage/decoding.py); formats with no cheap
  path have a lower pixel cap, and photos are decoded one at a time per process
  (storage/photo_budget.py). bench/memory.py measures what each format costs.
- Everything an upload carried besides its pixels is dropped (EXIF with GPS, XMP, comments, ICC
  profile after conversion to sRGB, text chunks): re-encoding from pixels also drops whatever was
  appended or hidden in the file.
"""

import hashlib
import io
import math
import re
import unicodedata
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageCms, UnidentifiedImageError

from storage.decoding import capped_size, decode_small, webp_canvas_size
from storage.names import DANGEROUS_EXTENSIONS
from storage.photo_budget import NoDecodeSlot, PhotoBudget
from storage.renditions import Placeholder, Rendition, make_files, placeholder_of
from storage.renditions import encode as encode_file

pillow_heif.register_heif_opener()

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "HEIF")  # what Image.open may try, in this order
MEGABYTE = 1024 * 1024
EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}

# Code or markup hidden in an image. Re-encoding from pixels would drop it anyway (we never store
# the uploaded bytes), but a file that carries it is an attack, not a photo: refusing it says so,
# and safety does not then hang on every later step getting everything right. PHP runs "<?php"
# wherever it sits in a file and "<script" is a script in any page, so the whole file is searched;
# both are long enough to be vanishingly rare by chance in compressed image data (PHP's tag must be
# followed by a space or a line end: one 15 MB photo in about 400,000 would match by chance).
# "<?=" (PHP's short echo) is too short to search for: it turns up by chance in one photo in four.
# Browsers sniff HTML/SVG from a file's first 1445 bytes only (WHATWG MIME sniffing), and a short tag
# like "<svg" appears by chance in about one phone photo in a hundred, so page tags are searched there.
CODE_ANYWHERE = re.compile(rb"<\?php(?:\s|$)|<script", re.IGNORECASE)
MARKUP_AT_START = re.compile(rb"<(?:svg|html|!doctype|body|iframe|object|embed)", re.IGNORECASE)
START_LENGTH = 1445

# Formats Pillow knows but we do not take, named so the editor learns what to do.
REFUSED_SIGNATURES = ((b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"\x00\x00\x01\x00", "ICO"),
                      (b"8BPS", "PSD (Photoshop)"))

# For callers that name no budget (tests, one-off scripts): no per-format cap, one photo at a time.
DEFAULT_BUDGET = PhotoBudget()
FORMAT_NAMES = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF", "HEIF": "HEIC"}


class ImageRejected(Exception):
    """A file that will not be published. ``message`` is French, for the editor; ``code`` is stable."""

    def __init__(self, message, code):
        super().__init__(message)
        self.message = message
        self.code = code

    def __reduce__(self):  # raised in a worker process (storage/photo_processes.py), read in the caller
        return type(self), (self.message, self.code)


@dataclass(frozen=True)
class ProcessedPhoto:
    original: Rendition
    renditions: dict  # {width: Rendition}, only widths smaller than the original
    content_hash: str  # first 10 hex digits of the SHA-256 of original.data
    extension: str  # "jpg" or "png"
    placeholder: Placeholder | None = None  # None for a photo with transparency


def process_photo(data, filename, max_bytes, max_pixels, max_side, rendition_widths, budget=DEFAULT_BUDGET):
    """Check an upload and return it normalised with its renditions, or raise ImageRejected.
    ``budget`` (storage/photo_budget.py): per-format pixel caps and the decode slot to wait for."""
    refuse_dangerous_name(filename)
    if not data:
        raise ImageRejected("Le fichier envoyé est vide : choisissez à nouveau la photo.", "empty")
    if len(data) > max_bytes:
        raise too_heavy(len(data), max_bytes)
    refuse_code(data)  # PHP or a script anywhere: such a file never reaches a parser
    try:
        with budget.slots.held(budget.wait_seconds):  # from the header on: WebP's takes memory already
            image = open_header(data, max_pixels, budget)  # SVG, HTML, PDF... stop here: not an image
            refuse_markup(data)  # an image whose first bytes a browser would take for a page
            image = normalise(decode(image, data, max_side), max_side)
            original = encode(image)
            renditions = renditions_of(image, rendition_widths)
            placeholder = placeholder_of(image)
    except NoDecodeSlot:
        raise ImageRejected("Le serveur traite déjà d'autres photos et n'a pas pu prendre la vôtre à temps : "
                            "réessayez dans une minute (l'article n'a pas été enregistré).", "busy") from None
    refuse_hidden_code(original.data)
    for rendition in renditions.values():
        refuse_hidden_code(rendition.data)
    return ProcessedPhoto(original=original, renditions=renditions, content_hash=content_hash(original.data),
                          extension=EXTENSIONS[output_format(image)], placeholder=placeholder)


def open_normalised(data):
    """The pixels of a photo process_photo already normalised (its own output: no cap applies)."""
    return decode(open_header(data, max_pixels=math.inf), data, max_side=math.inf)


def make_renditions(data, widths):
    """Renditions of a photo process_photo already normalised (e.g. one that waited for the host)."""
    return renditions_of(open_normalised(data), widths)


def photo_name(slug, content_hash, extension, date):
    """Where a photo goes in the folder: "YYYY/MM/<slug>-<hash>.<ext>". The hash makes the name
    change with the content, so a name is never overwritten with different bytes."""
    if not re.fullmatch(r"[0-9a-f]{10}", content_hash) or extension not in {"jpg", "png", "webp", "gif"}:
        raise ValueError(f"not a photo name: hash {content_hash!r}, extension {extension!r}")
    ascii_slug = unicodedata.normalize("NFKD", slug or "").encode("ascii", "ignore").decode().lower()
    safe_slug = re.sub(r"[^a-z0-9]+", "-", ascii_slug).strip("-")[:80].strip("-")
    return f"{date:%Y/%m}/{safe_slug or 'photo'}-{content_hash}.{extension}"


def content_hash(data):
    return hashlib.sha256(data).hexdigest()[:10]


# --- checks -------------------------------------------------------------------------------------

def refuse_dangerous_name(filename):
    """The stored name never comes from the upload (see photo_name), so this is about intent: nobody
    sends a match photo called "shell.php", "x.php.jpg" (run as PHP by some Apache set-ups),
    ".htaccess", "../index.php", or a name with control or invisible characters (a right-to-left
    override makes a name read as something it is not)."""
    if not filename:  # e.g. bytes the migration found under a name we chose; the content is still checked
        return
    extensions = filename.lower().split(".")[1:]
    if (not filename.isprintable() or "/" in filename or "\\" in filename or filename.startswith(".")
            or DANGEROUS_EXTENSIONS.intersection(extensions)):
        raise ImageRejected("Ce nom de fichier n'est pas accepté pour une photo (extension de programme ou de page "
                            "web, caractère spécial ou chemin) : renommez le fichier, par exemple « photo.jpg », "
                            "puis envoyez-le à nouveau.", "dangerous_name")


def refuse_code(data):
    if CODE_ANYWHERE.search(data):
        raise hidden_content()


def refuse_markup(data):
    if MARKUP_AT_START.search(data, 0, START_LENGTH):
        raise hidden_content()


def refuse_hidden_code(data):
    refuse_code(data)
    refuse_markup(data)


def hidden_content():
    return ImageRejected("Ce fichier contient du code caché (PHP, script ou page web) : il ne peut pas être publié. "
                         "Exportez la photo à nouveau depuis l'appareil ou le logiciel de retouche.", "hidden_content")


def too_heavy(size, max_bytes):
    megabytes = math.ceil(size * 10 / MEGABYTE) / 10  # 15 MB and 1 byte is "15,1 Mo", not "15,0 Mo"
    return ImageRejected(f"Cette photo est trop lourde ({megabytes:.1f} Mo) : {max_bytes / MEGABYTE:.0f} Mo au plus."
                         .replace(".", ",", 1), "too_large")


def too_many_pixels(max_pixels, width=None, height=None, image_format=None):
    """The refusal names the size to export at: the photo's own proportions within ``max_pixels``.
    ``image_format``: the format whose own cap (lower than the others') was passed."""
    if not width:
        return ImageRejected(f"Cette image annonce une taille démesurée : {megapixels(max_pixels)} au plus. "
                             "Réduisez-la puis envoyez-la à nouveau.", "too_many_pixels")
    scale = math.sqrt(max_pixels / (width * height))
    fit_width, fit_height = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    what = f"Cette photo {FORMAT_NAMES[image_format]}" if image_format else "Cette image"
    advice = ", ou en JPEG" if image_format else ""  # JPEG has the cheapest decoding: the highest cap
    return ImageRejected(f"{what} est trop grande ({width} × {height} pixels, {megapixels(width * height)}) : "
                         f"exportez-la en {fit_width} × {fit_height} pixels au plus ({megapixels(max_pixels)})"
                         f"{advice}, puis envoyez-la à nouveau.", "too_many_pixels")


def megapixels(pixels):
    """Say "12,5 mégapixels" (or "40 mégapixels"): one decimal where it says something, a decimal comma."""
    value = f"{pixels / 1e6:.1f}".replace(".", ",").removesuffix(",0")
    return f"{value} mégapixels"


def not_an_image():
    return ImageRejected("Ce fichier n'est pas une image reconnue (JPEG, PNG, WebP, GIF ou HEIC).", "not_an_image")


def open_header(data, max_pixels, budget=DEFAULT_BUDGET):
    """The image's header, read by one of the accepted plugins only, and its size checked against
    ``max_pixels`` and its format's cap: no pixel is decoded yet, so a small file declaring a huge
    image (a decompression bomb) never gets the memory it asks for."""
    webp_size = webp_canvas_size(data)  # Pillow's WebP decoder takes its canvases in open() already
    if webp_size:
        refuse_above_caps(webp_size, "WEBP", max_pixels, budget)
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        # Pillow's own guard fires inside open() beyond twice Image.MAX_IMAGE_PIXELS. That limit is
        # left at its default: it is process-wide and the migration calls us from several threads.
        raise too_many_pixels(max_pixels) from None
    except UnidentifiedImageError:
        for signature, name in REFUSED_SIGNATURES:
            if data.startswith(signature):
                raise ImageRejected(f"Les images {name} ne sont pas acceptées : enregistrez-la en JPEG ou en PNG, "
                                    "puis envoyez-la à nouveau.", "unsupported_format") from None
        raise not_an_image() from None
    except Exception:  # a header broken in a way its plugin did not foresee
        raise not_an_image() from None
    refuse_above_caps(image.size, image.format, max_pixels, budget)
    return image


def refuse_above_caps(size, image_format, max_pixels, budget):
    width, height = size
    format_cap = budget.cap_for(image_format)
    if width * height > min(max_pixels, format_cap):
        raise too_many_pixels(min(max_pixels, format_cap), width, height,
                              image_format if format_cap < max_pixels else None)


def decode(image, data, max_side):
    """The first frame, upright, reduced towards max_side (storage/decoding.py). Any failure to
    decode means a damaged or hostile file, whatever type Pillow raises for it (OSError,
    SyntaxError, EOFError, struct.error, ValueError...)."""
    try:
        return decode_small(image, data, max_side)
    except Exception:
        raise ImageRejected("Cette image est abîmée ou incomplète : elle ne peut pas être lue. Envoyez-la à nouveau, "
                            "ou exportez-la en JPEG depuis l'appareil.", "corrupt") from None


# --- normalisation ------------------------------------------------------------------------------

def normalise(image, max_side):
    """sRGB pixels ("RGB", or "RGBA" when some pixel is see-through), long side <= max_side, and
    nothing else: no EXIF, GPS, XMP, ICC profile or comment survives."""
    icc_profile = image.info.get("icc_profile")
    if max(image.size) > max_side:
        # Resized before the colour conversion: same result to the eye, a fraction of the work.
        image = image.resize(capped_size(image.size, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    image = to_srgb(image, icc_profile)
    if image.mode == "RGBA" and image.getextrema()[3][0] == 255:
        image = image.convert("RGB")  # an alpha channel nobody uses: a JPEG is far lighter
    image.info.clear()  # encoders copy comments and profiles from info; nothing there may leave
    return image


def to_srgb(image, icc_profile):
    target = "RGBA" if image.mode == "RGBA" else "RGB"
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            # A fresh sRGB profile each time (microseconds): LittleCMS handles are not to be shared
            # between threads, and the migration runs us in several.
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            return ImageCms.profileToProfile(image, source, srgb, outputMode=target)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken or mismatched profile is not the editor's fault: keep the colours as decoded
    return image.convert(target)


def output_format(image):
    return "PNG" if image.mode == "RGBA" else "JPEG"


def encode(image):
    return encode_file(image, EXTENSIONS[output_format(image)])


def renditions_of(image, widths):
    """{width: Rendition}: narrower copies in the image's own format, for the widths smaller than it."""
    extension = EXTENSIONS[output_format(image)]
    files = make_files(image, {(extension, width) for width in widths if width < image.width})
    return {width: rendition for (_, width), rendition in files.items()}
