"""storage/images.py on its own: no database, no FTP. Images are built with Pillow in each test."""

import hashlib
import io
import struct
from datetime import date

import pytest
from PIL import Image, ImageCms, ImageOps

from storage.images import (
    ImageRejected,
    ProcessedPhoto,
    Rendition,
    make_renditions,
    photo_name,
    process_photo,
    refuse_hidden_code,
)
from tests.hostile_images import hostile_uploads

MAX_BYTES = 15 * 1024 * 1024
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def process(data, filename="photo.jpg", max_side=2048, widths=(480, 1024)):
    return process_photo(data, filename=filename, max_bytes=MAX_BYTES, max_pixels=40_000_000, max_side=max_side,
                         rendition_widths=widths)


def encoded(image, image_format="JPEG", **options):
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def opened(data):
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def close_to(pixel, expected, tolerance=12):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def marked_image(size=(400, 300)):
    """White, with a red block in the top-left corner: shows where the top-left went."""
    image = Image.new("RGB", size, WHITE)
    image.paste(RED, (0, 0, size[0] // 4, size[1] // 4))
    return image


def phone_exif():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90° clockwise to display
    exif[0x010F] = "Samsung"
    exif[0x0110] = "Galaxy S24"
    exif.get_ifd(0x8825).update({1: "N", 2: (36.0, 48.0, 12.5), 3: "E", 4: (10.0, 11.0, 2.0)})
    return exif


# --- orientation and metadata ---------------------------------------------------------------------

def test_phone_photo_comes_out_upright_without_exif_gps_or_comments():
    data = encoded(marked_image(), exif=phone_exif(), comment=b"note-privee", xmp=b"<x:xmpmeta>xmp-prive</x:xmpmeta>")
    assert opened(data).getexif().get_ifd(0x8825)[1] == "N"  # the input really carries a position

    photo = process(data)

    result = opened(photo.original.data)
    assert result.size == (300, 400) == (photo.original.width, photo.original.height)
    # Turned clockwise, the top-left corner goes to the top-right (anticlockwise: bottom-left).
    assert close_to(result.getpixel((290, 10)), RED)
    assert close_to(result.getpixel((10, 10)), WHITE) and close_to(result.getpixel((10, 390)), WHITE)
    assert len(result.getexif()) == 0
    assert not {"exif", "comment", "xmp", "icc_profile"} & set(result.info)
    for trace in (b"Exif", b"GPS", b"Samsung", b"Galaxy", b"note-privee", b"xmp-prive", b"ICC_PROFILE"):
        assert trace not in photo.original.data
    assert photo.extension == "jpg" and result.format == "JPEG" and result.info.get("progressive")


@pytest.mark.filterwarnings("ignore:Metadata Warning")
def test_damaged_exif_does_not_cost_the_photo():
    data = encoded(marked_image(), exif=phone_exif())
    damaged = data.replace(b"\x01\x0f\x00\x02", b"\x01\x0f\x00\x0b", 1)  # the Make tag now claims to be a float
    assert damaged != data
    with pytest.raises(Exception):  # noqa: B017 - the precondition: Pillow cannot rewrite this EXIF
        ImageOps.exif_transpose(opened(damaged))
    result = opened(process(damaged).original.data)
    assert result.size == (300, 400) and close_to(result.getpixel((290, 10)), RED) and len(result.getexif()) == 0


def test_photo_without_orientation_keeps_its_layout():
    photo = process(encoded(marked_image()))
    result = opened(photo.original.data)
    assert result.size == (400, 300) and close_to(result.getpixel((10, 10)), RED)


# --- colour modes ----------------------------------------------------------------------------------

def test_cmyk_jpeg_becomes_rgb():
    photo = process(encoded(Image.new("CMYK", (64, 64), (0, 255, 255, 0))))  # full magenta + yellow: red
    result = opened(photo.original.data)
    assert result.mode == "RGB" and close_to(result.getpixel((32, 32)), RED, tolerance=20)


def icc_profile(red, green, blue):
    """A minimal ICC v2 RGB display profile with the given primaries (D50 XYZ) and gamma 2.2."""
    def s15(value):
        return struct.pack(">i", round(value * 65536))

    def xyz(x, y, z):
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    name = b"test primaries\x00"
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(2.2 * 256)) + bytes(2)
    tags = {b"desc": b"desc" + bytes(4) + struct.pack(">I", len(name)) + name + bytes(78),
            b"wtpt": xyz(0.9642, 1.0, 0.8249), b"rXYZ": xyz(*red), b"gXYZ": xyz(*green), b"bXYZ": xyz(*blue),
            b"rTRC": curve, b"gTRC": curve, b"bTRC": curve}
    body_start = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for signature, tag in tags.items():
        table += signature + struct.pack(">II", body_start + len(body), len(tag))
        body += tag + bytes(-len(tag) % 4)
    header = (struct.pack(">I", body_start + len(body)) + b"none" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + bytes(12) + b"acsp" + bytes(36) + s15(0.9642) + s15(1.0) + s15(0.8249))
    return header + bytes(128 - len(header)) + table + body


SRGB_RED, SRGB_GREEN, SRGB_BLUE = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)


def test_embedded_colour_profile_is_converted_to_srgb_then_dropped():
    # A profile whose "red" channel is sRGB's green: applied, red pixels come out green.
    swapped = icc_profile(SRGB_GREEN, SRGB_RED, SRGB_BLUE)
    ImageCms.ImageCmsProfile(io.BytesIO(swapped))  # a valid profile, or this test proves nothing
    photo = process(encoded(Image.new("RGB", (64, 64), (200, 0, 0)), icc_profile=swapped))
    result = opened(photo.original.data)
    red, green, blue = result.getpixel((32, 32))
    assert green > 150 and red < 40 and blue < 40
    assert "icc_profile" not in result.info and b"acsp" not in photo.original.data


def test_broken_colour_profile_is_ignored_not_refused():
    photo = process(encoded(Image.new("RGB", (64, 64), (200, 0, 0)), icc_profile=b"not a profile" * 20))
    assert close_to(opened(photo.original.data).getpixel((32, 32)), (200, 0, 0))


def test_png_with_transparency_stays_transparent_png():
    image = Image.new("RGBA", (1600, 1200), (0, 0, 0, 0))
    image.paste((11, 93, 30, 255), (400, 300, 1200, 900))
    photo = process(encoded(image, "PNG"), filename="logo.png")
    result = opened(photo.original.data)
    assert photo.extension == "png" and result.format == "PNG" and result.mode == "RGBA"
    assert result.getpixel((5, 5))[3] == 0 and result.getpixel((800, 600)) == (11, 93, 30, 255)
    for width, rendition in photo.renditions.items():
        small = opened(rendition.data)
        assert small.format == "PNG" and small.mode == "RGBA" and small.width == width
        assert small.getpixel((1, 1))[3] == 0


def test_alpha_channel_nobody_uses_becomes_jpeg():
    photo = process(encoded(Image.new("RGBA", (64, 64), (10, 200, 30, 255)), "PNG"), filename="opaque.png")
    assert photo.extension == "jpg" and opened(photo.original.data).mode == "RGB"


def test_grey_with_alpha_becomes_rgba_png():
    photo = process(encoded(Image.new("LA", (64, 64), (128, 0)), "PNG"))
    assert photo.extension == "png" and opened(photo.original.data).getpixel((3, 3)) == (128, 128, 128, 0)


def test_palette_gif_is_converted():
    image = Image.new("P", (64, 64), 1)
    image.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    photo = process(encoded(image, "GIF"), filename="affiche.gif")
    result = opened(photo.original.data)
    assert photo.extension == "jpg" and result.mode == "RGB" and close_to(result.getpixel((32, 32)), (200, 30, 30))


def test_palette_gif_with_transparent_colour_becomes_png():
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    image.paste(1, (16, 16, 48, 48))
    photo = process(encoded(image, "GIF", transparency=0), filename="logo.gif")
    result = opened(photo.original.data)
    assert photo.extension == "png" and result.getpixel((2, 2))[3] == 0
    assert result.getpixel((32, 32)) == (200, 30, 30, 255)


@pytest.mark.parametrize("image_format", ["GIF", "WEBP", "PNG"])
def test_animation_keeps_its_first_frame(image_format):
    frames = [Image.new("RGB", (64, 64), RED), Image.new("RGB", (64, 64), BLUE)]
    data = encoded(frames[0], image_format, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    photo = process(data, filename="anime." + image_format.lower())
    assert close_to(opened(photo.original.data).getpixel((32, 32)), RED, tolerance=20)


def test_sixteen_bit_grey_png_keeps_its_middle_tones():
    image = Image.new("I;16", (256, 16))
    for x in range(256):
        for y in range(16):
            image.putpixel((x, y), x * 257)  # 0 .. 65535
    photo = process(encoded(image, "PNG"), filename="scan.png")
    result = opened(photo.original.data)
    # A plain conversion would clip every value above 255 to white.
    assert result.mode == "RGB" and 118 <= result.getpixel((128, 8))[0] <= 138 and result.getpixel((2, 8))[0] < 12


def test_mpo_from_a_phone_is_taken_as_jpeg():
    frames = [Image.new("RGB", (64, 64), RED), Image.new("RGB", (64, 64), BLUE)]
    data = encoded(frames[0], "MPO", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert close_to(opened(process(data).original.data).getpixel((5, 5)), RED)


# --- size and renditions -------------------------------------------------------------------------------

@pytest.mark.parametrize(("size", "expected"), [((3000, 1000), (2048, 683)), ((1000, 3000), (683, 2048)),
                                                ((5000, 4000), (2048, 1638)), ((800, 600), (800, 600)),
                                                # phones: a half-size decode just under the cap, no resize
                                                ((4032, 3024), (2016, 1512)), ((3000, 4000), (1500, 2000))])
def test_long_side_is_capped_and_small_images_are_not_enlarged(size, expected):
    photo = process(encoded(Image.new("RGB", size, (40, 90, 160))))
    assert opened(photo.original.data).size == expected == (photo.original.width, photo.original.height)


def test_renditions_are_narrower_copies_in_the_same_format():
    photo = process(encoded(marked_image((1600, 1200))))
    assert sorted(photo.renditions) == [480, 1024]
    for width, rendition in photo.renditions.items():
        image = opened(rendition.data)
        assert isinstance(rendition, Rendition)
        assert image.format == "JPEG" and image.size == (width, width * 3 // 4) == (rendition.width, rendition.height)
        assert close_to(image.getpixel((2, 2)), RED, tolerance=20)
        assert len(image.getexif()) == 0


def test_only_widths_smaller_than_the_photo_are_made():
    assert sorted(process(encoded(Image.new("RGB", (800, 600)))).renditions) == [480]
    assert process(encoded(Image.new("RGB", (480, 360)))).renditions == {}


@pytest.mark.parametrize("image", [marked_image((1600, 1200)), Image.new("RGBA", (1200, 900), (0, 0, 0, 0))])
def test_make_renditions_from_stored_bytes_matches_process_photo(image):
    photo = process(encoded(image, "PNG"))
    again = make_renditions(photo.original.data, (480, 1024))
    assert sorted(again) == sorted(photo.renditions)
    for width, rendition in again.items():
        assert (rendition.width, rendition.height) == (photo.renditions[width].width, photo.renditions[width].height)
        assert opened(rendition.data).format == opened(photo.original.data).format


def test_make_renditions_of_damaged_bytes_is_a_refusal_not_a_pillow_error():
    with pytest.raises(ImageRejected):
        make_renditions(encoded(marked_image((1600, 1200)))[:2000], (480,))


# --- identity ------------------------------------------------------------------------------------------

def test_same_photo_twice_gives_the_same_hash_and_another_photo_another():
    data = encoded(marked_image())
    first, second = process(data, filename="a.jpg"), process(data, filename="copie.jpg")
    assert isinstance(first, ProcessedPhoto)
    assert first.content_hash == second.content_hash == hashlib.sha256(first.original.data).hexdigest()[:10]
    assert first.original.data == second.original.data
    assert process(encoded(marked_image((401, 300)))).content_hash != first.content_hash


def test_trailing_payload_is_not_in_the_stored_photo():
    payload = b"PK\x03\x04 hidden archive appended after the image"
    photo = process(encoded(marked_image()) + payload)
    assert payload not in photo.original.data and photo.original.data.endswith(b"\xff\xd9")


# --- refusals ----------------------------------------------------------------------------------------------

FRENCH_WORDS = ("fichier", "image", "photo", "Fichier", "Image", "Photo")


@pytest.mark.parametrize("case", hostile_uploads(), ids=lambda case: repr(case[0]))
def test_every_hostile_upload_is_refused_in_french(case):
    filename, data, expected_code = case
    with pytest.raises(ImageRejected) as refused:
        process(data, filename=filename)
    assert refused.value.code == expected_code
    message = refused.value.message
    assert str(refused.value) == message and any(word in message for word in FRENCH_WORDS), message
    assert "Traceback" not in message and "PIL" not in message and "cannot" not in message


def test_hostile_list_is_broad():
    cases = hostile_uploads()
    assert len(cases) >= 24
    assert {code for _, _, code in cases} == {"not_an_image", "hidden_content", "dangerous_name", "empty", "corrupt",
                                               "too_large", "too_many_pixels", "unsupported_format"}


@pytest.mark.parametrize("filename", ["IMG_20260412_153012.JPG", "photo équipe.jpg", "Sortie avec M. Py.jpeg",
                                      "image", "tournoi.2026.webp", None])
def test_ordinary_names_are_accepted(filename):
    assert process(encoded(marked_image()), filename=filename).extension == "jpg"


@pytest.mark.parametrize("filename", ["IMG\u202egpj.jpg", "zero\u200bwidth.jpg", "albums/match.jpg",
                                      "C:\\photos\\match.jpg", ".photo.jpg", "photo.PhP.", "tournoi.py.jpg"])
def test_names_django_would_clean_are_refused_here_too(filename):
    # The admin gets names through Django (basename, invisible characters removed); other callers may not.
    with pytest.raises(ImageRejected) as refused:
        process(encoded(marked_image()), filename=filename)
    assert refused.value.code == "dangerous_name"


def test_code_is_searched_everywhere_and_page_tags_only_where_browsers_sniff():
    with pytest.raises(ImageRejected):
        refuse_hidden_code(bytes(5_000_000) + b"<?PHP echo 1;")
    with pytest.raises(ImageRejected):
        refuse_hidden_code(bytes(100) + b"<SVG onload=alert(1)>")
    # Four bytes like "<svg" turn up by chance in megabytes of compressed data: not a reason to refuse.
    refuse_hidden_code(bytes(5_000) + b"<svg")
    refuse_hidden_code(bytes(5_000) + b"<?php_")  # not an opening tag: PHP wants a space after it


def test_pixel_limit_is_the_callers():
    data = encoded(Image.new("RGB", (1000, 1000)))
    with pytest.raises(ImageRejected) as refused:
        process_photo(data, "a.jpg", max_bytes=MAX_BYTES, max_pixels=999_999, max_side=2048, rendition_widths=())
    assert refused.value.code == "too_many_pixels" and "1000 × 1000" in refused.value.message
    with pytest.raises(ImageRejected) as refused:
        process_photo(data, "a.jpg", max_bytes=len(data) - 1, max_pixels=10**7, max_side=2048, rendition_widths=())
    assert refused.value.code == "too_large"


# --- HEIC ------------------------------------------------------------------------------------------------------

def heic_bytes(image, exif):
    pillow_heif = pytest.importorskip("pillow_heif")
    buffer = io.BytesIO()
    try:
        pillow_heif.from_pillow(image).save(buffer, quality=90, exif=exif.tobytes())
    except (RuntimeError, ValueError, OSError) as error:  # no HEVC encoder in this libheif build
        pytest.skip(f"pillow_heif cannot encode HEIF here: {error}")
    return buffer.getvalue()


def test_iphone_heic_becomes_an_upright_jpeg_without_metadata():
    data = heic_bytes(marked_image(), phone_exif())
    assert Image.open(io.BytesIO(data)).format == "HEIF"
    photo = process(data, filename="IMG_0042.HEIC")
    result = opened(photo.original.data)
    assert photo.extension == "jpg" and result.format == "JPEG" and result.size == (300, 400)
    assert close_to(result.getpixel((290, 10)), RED, tolerance=30) and close_to(result.getpixel((10, 390)), WHITE)
    assert len(result.getexif()) == 0 and b"Samsung" not in photo.original.data


# --- names -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("slug", "expected"), [
    ("victoire-des-seniors", "2026/11/victoire-des-seniors-0123456789.jpg"),
    ("Été à Tunis !", "2026/11/ete-a-tunis-0123456789.jpg"),
    ("../../public_html/x.php", "2026/11/public-html-x-php-0123456789.jpg"),
    ("", "2026/11/photo-0123456789.jpg"),
    ("---", "2026/11/photo-0123456789.jpg"),
    ("a" * 79 + "-b", "2026/11/" + "a" * 79 + "-0123456789.jpg"),
])
def test_photo_name(slug, expected):
    assert photo_name(slug, "0123456789", "jpg", date(2026, 11, 3)) == expected


@pytest.mark.parametrize(("content_hash", "extension"), [("0123456789", "php"), ("../x", "jpg"), ("ABCDEF0123", "jpg")])
def test_photo_name_refuses_what_process_photo_never_gives(content_hash, extension):
    with pytest.raises(ValueError):
        photo_name("x", content_hash, extension, date(2026, 11, 3))
