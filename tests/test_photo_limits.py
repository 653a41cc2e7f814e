"""Memory per photo (issue 8): per-format pixel caps, the cheap decoding paths giving the right
pixels, and the bound on photos decoded at once. Memory itself is measured by bench/memory.py,
never asserted here; nothing below depends on timing (threads are driven by events and by the
slots' own count of waiters)."""

import io
import struct
import threading
import zlib

import pytest
from django.urls import reverse
from PIL import Image

from articles.models import Article, PendingUpload
from storage import decoding
from storage.decoding import reduced, webp_canvas_size
from storage.images import ImageRejected, process_photo
from storage.photo_budget import DecodeSlots, PhotoBudget
from tests.gallery_forms import article_form
from tests.hostile_images import png_chunk
from tests.test_photos import files_on_server, upload

MAX_BYTES = 15 * 1024 * 1024
SIZE, CAP = (600, 400), 200_000  # 240,000 pixels against a cap of 200,000
EXPORT_AT = "exportez-la en 547 × 365 pixels au plus (0,2 mégapixels)"  # 600 × 400 scaled by √(200000 / 240000)


def encoded(image, image_format, **options):
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def heic(image):
    pillow_heif = pytest.importorskip("pillow_heif")
    buffer = io.BytesIO()
    try:
        pillow_heif.from_pillow(image).save(buffer, quality=50)
    except (RuntimeError, ValueError, OSError) as error:  # no HEVC encoder in this libheif build
        pytest.skip(f"pillow_heif cannot encode HEIF here: {error}")
    return buffer.getvalue()


def photo(image_format, size=SIZE):
    image = Image.new("RGB", size, (40, 90, 160))
    if image_format == "HEIF":
        return heic(image)
    return encoded(image.convert("P") if image_format == "GIF" else image, image_format)


def process(data, budget=None, max_side=2048, max_pixels=40_000_000):
    return process_photo(data, "photo", max_bytes=MAX_BYTES, max_pixels=max_pixels, max_side=max_side,
                         rendition_widths=(480, 1024), budget=budget or PhotoBudget())


def some_exif():
    exif = Image.Exif()
    exif[0x0131] = "test"  # Software: any EXIF makes Pillow write the extended (VP8X) WebP layout
    return exif.tobytes()


NAMES = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WebP", "HEIF": "HEIC"}


# --- per-format caps --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("image_format", list(NAMES))
def test_a_format_above_its_cap_is_refused_with_the_size_to_export_at(image_format):
    data = photo(image_format)
    with pytest.raises(ImageRejected) as refused:
        process(data, PhotoBudget(caps={image_format: CAP}))
    message = refused.value.message
    assert refused.value.code == "too_many_pixels"
    assert f"Cette photo {NAMES[image_format]} est trop grande (600 × 400 pixels" in message
    assert EXPORT_AT in message and "ou en JPEG" in message
    # Other formats' caps do not apply to it, and at the cap itself it passes.
    other = next(name for name in NAMES if name != image_format)
    assert process(data, PhotoBudget(caps={other: CAP})).original.width == 600
    assert process(data, PhotoBudget(caps={image_format: 240_000})).original.width == 600


def test_the_general_limit_names_the_size_to_export_at_too():
    with pytest.raises(ImageRejected) as refused:
        process(photo("PNG"), max_pixels=2_500_000 // 12)  # 208,333 pixels
    assert refused.value.code == "too_many_pixels"
    assert "Cette image est trop grande (600 × 400 pixels, 0,2 mégapixels)" in refused.value.message
    assert "exportez-la en 559 × 372 pixels au plus" in refused.value.message
    assert "JPEG" not in refused.value.message  # every format has this limit: no format to advise


@pytest.mark.parametrize(("options", "chunk"), [({"lossless": True}, b"VP8L"), ({"quality": 80}, b"VP8 "),
                                               ({"quality": 80, "exif": some_exif()}, b"VP8X")])
def test_webp_size_is_read_from_the_header_as_pillow_reads_it(options, chunk):
    data = encoded(Image.new("RGBA" if options.get("lossless") else "RGB", (321, 123)), "WEBP", **options)
    assert data[12:16] == chunk and webp_canvas_size(data) == (321, 123) == Image.open(io.BytesIO(data)).size
    assert webp_canvas_size(b"RIFF" + bytes(40)) is None and webp_canvas_size(encoded(Image.new("RGB", (9, 9)),
                                                                                       "PNG")) is None


def test_a_webp_declaring_a_huge_canvas_is_refused_before_pillow_opens_it():
    data = bytearray(encoded(Image.new("RGB", (32, 32)), "WEBP", quality=80, exif=some_exif()))
    assert data[12:16] == b"VP8X"
    data[24:30] = (16000 - 1).to_bytes(3, "little") + (16000 - 1).to_bytes(3, "little")  # 256 MP declared
    with pytest.raises(ImageRejected) as refused:
        process(bytes(data), PhotoBudget(caps={"WEBP": 12_000_000}))
    assert refused.value.code == "too_many_pixels"
    assert "exportez-la en 3464 × 3464 pixels au plus (12 mégapixels)" in refused.value.message


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("image_format", list(NAMES))
def test_the_admin_refuses_a_photo_above_its_format_cap_and_writes_nothing(editor_client, hostgator,
                                                                           settings, image_format):
    settings.PHOTO_MAX_PIXELS_BY_FORMAT = {**settings.PHOTO_MAX_PIXELS_BY_FORMAT, image_format: CAP}
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload(f"affiche.{image_format.lower()}", photo(image_format))))
    assert response.status_code == 200
    message = response.context["adminform"].form.errors["photo"][0]
    assert EXPORT_AT in message and NAMES[image_format] in message
    assert Article.objects.count() == 0 and PendingUpload.objects.count() == 0
    assert files_on_server(hostgator.root) == []


# --- cheap paths give the right pixels ------------------------------------------------------------------------------

def one_bit_png(width, height):
    """A 1-bit PNG declaring width × height: black top half, white bottom half (a few KB)."""
    black, white = b"\x00" + bytes((width + 7) // 8), b"\x00" + b"\xff" * ((width + 7) // 8)
    rows = black * (height // 2) + white * (height - height // 2)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(rows, 9))
            + png_chunk(b"IEND", b""))


def test_a_huge_declared_one_bit_png_comes_out_right():
    data = one_bit_png(7000, 5000)  # 35 MP, under the cap; a few KB
    assert len(data) < 100_000
    result = Image.open(io.BytesIO(process(data).original.data))
    assert result.size == (2048, 1463) and result.mode == "RGB"
    assert result.getpixel((1000, 100)) == (0, 0, 0) and result.getpixel((1000, 1400)) == (255, 255, 255)


def test_a_huge_palette_gif_with_transparency_comes_out_right():
    image = Image.new("P", (6000, 4000), 0)
    image.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    image.paste(1, (0, 2000, 6000, 4000))  # bottom half red, top half the transparent colour
    result = Image.open(io.BytesIO(process(encoded(image, "GIF", transparency=0)).original.data))
    assert result.format == "PNG" and result.size == (2048, 1365)
    assert result.getpixel((1000, 100))[3] == 0 and result.getpixel((1000, 1300)) == (200, 30, 30, 255)


def noisy(mode, size=(97, 61)):
    noise = Image.effect_noise(size, 80)
    if mode == "P":
        image = noise.convert("RGB").quantize(16)
        image.info["transparency"] = 3
        return image
    if mode == "I;16":
        return noise.convert("I").point(lambda value: value * 257).convert("I;16")
    if len(mode) == 1:
        return noise.convert(mode)
    flips = [None, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_180]
    return Image.merge(mode, [noise.transpose(flip) if flip else noise for flip in flips[:len(mode)]])


@pytest.mark.parametrize(("mode", "target"), [("P", "RGBA"), ("1", "L"), ("L", "L"), ("LA", "RGBA"), ("RGB", "RGB"),
                                              ("CMYK", "CMYK"), ("RGBA", "RGBA"), ("I;16", "L")])
@pytest.mark.parametrize("factor", [1, 3, 4])
def test_reducing_band_by_band_gives_exactly_the_whole_image_reduced(monkeypatch, mode, target, factor):
    monkeypatch.setattr(decoding, "BAND_PIXELS", 500)  # many bands, the last one short
    image = noisy(mode)
    whole = decoding.in_mode(image, target)
    expected = whole.reduce(factor) if factor > 1 else whole
    result = reduced(image.size, lambda top, bottom: image.crop((0, top, image.width, bottom)), target, factor)
    assert result.mode == expected.mode and result.size == expected.size
    assert result.tobytes() == expected.tobytes()


def test_a_reduced_photo_is_still_turned_upright():
    image = Image.new("RGB", (400, 300), (255, 255, 255))
    image.paste((255, 0, 0), (0, 0, 100, 75))  # the top-left corner is red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90° clockwise to display
    for image_format in ("JPEG", "PNG", "WEBP"):
        result = Image.open(io.BytesIO(process(encoded(image, image_format, exif=exif), max_side=100).original.data))
        assert result.size == (75, 100), image_format  # reduced by 4, then turned
        assert result.getpixel((70, 5))[0] > 200 and result.getpixel((5, 5))[1] > 200, image_format


def test_a_heic_with_transparency_stays_transparent():
    image = Image.new("RGBA", (600, 400), (0, 0, 0, 0))
    image.paste((11, 93, 30, 255), (150, 100, 450, 300))
    photo_out = process(heic(image), max_side=200)
    result = Image.open(io.BytesIO(photo_out.original.data))
    assert photo_out.extension == "png" and result.size == (200, 134)  # reduced by 3
    assert result.getpixel((3, 3))[3] == 0 and result.getpixel((100, 67))[3] == 255


# --- the bound on photos decoded at once -------------------------------------------------------------------------

def test_a_second_photo_waits_for_the_slot_and_a_third_that_cannot_wait_is_told_to_retry():
    slots = DecodeSlots(1)
    holding, release = threading.Event(), threading.Event()
    outcomes = []

    def first():  # another editor's photo, in the middle of its decoding
        with slots.held(None):
            holding.set()
            release.wait()

    def second():
        outcomes.append(process(photo("JPEG"), PhotoBudget(slots=slots, wait_seconds=None)))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert holding.wait(60)  # the timeouts only keep a broken bound from hanging the suite
    threads[1].start()
    assert slots.wait_until(lambda state: state.waiting == 1, timeout=60)
    assert outcomes == [] and slots.busy == 1  # the second waits: it cannot have decoded anything

    with pytest.raises(ImageRejected) as refused:
        process(photo("JPEG"), PhotoBudget(slots=slots, wait_seconds=0))
    assert refused.value.code == "busy" and "réessayez" in refused.value.message

    release.set()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 1 and outcomes[0].original.width == 600
    assert slots.busy == 0 and slots.waiting == 0


def test_waiting_photos_get_the_slot_in_their_order_of_arrival():
    # A gallery's requests queue for the one slot: none may lose the race for it again and again.
    slots, order = DecodeSlots(1), []
    holding, release = threading.Event(), threading.Event()

    def first():
        with slots.held(None):
            holding.set()
            release.wait()

    def waiter(number):
        with slots.held(None):
            order.append(number)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert holding.wait(60)
    for number in range(6):
        threads.append(threading.Thread(target=waiter, args=(number,)))
        threads[-1].start()
        assert slots.wait_until(lambda state, queued=number + 1: state.waiting == queued, timeout=60)
    release.set()
    for thread in threads:
        thread.join(60)
    assert order == list(range(6)) and slots.waiting == 0 and slots.busy == 0


def test_two_slots_let_two_photos_decode_together():
    slots = DecodeSlots(2)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with slots.held(None):
            holding.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(60)
    assert process(photo("PNG"), PhotoBudget(slots=slots, wait_seconds=0)).original.width == 600
    release.set()
    holder.join()


def test_a_refused_or_damaged_photo_gives_its_slot_back():
    slots = DecodeSlots(1)
    with pytest.raises(ImageRejected):
        process(photo("PNG")[:200], PhotoBudget(slots=slots))
    with pytest.raises(ImageRejected):
        process(photo("PNG"), PhotoBudget(slots=slots, caps={"PNG": CAP}))
    assert slots.busy == 0
    assert process(photo("PNG"), PhotoBudget(slots=slots, wait_seconds=0)).original.width == 600


def test_every_caller_in_a_process_shares_one_set_of_slots(settings):
    from articles.photo_processing import photo_budget

    assert photo_budget().slots is photo_budget().slots
    settings.PHOTO_DECODES_AT_ONCE = 2
    assert photo_budget().slots.count == 2


@pytest.mark.django_db(transaction=True)
def test_the_admin_tells_the_editor_to_retry_when_the_slot_stays_busy(editor_client, hostgator,
                                                                      settings):
    from articles.photo_processing import photo_budget

    settings.PHOTO_DECODE_WAIT_SECONDS = 0
    holding, release = threading.Event(), threading.Event()

    def other_editor():
        with photo_budget().slots.held(None):
            holding.set()
            release.wait()

    holder = threading.Thread(target=other_editor)
    holder.start()
    try:
        assert holding.wait(60)
        response = editor_client.post(reverse("admin:articles_article_add"),
                                      article_form(photo=upload("match.jpg", photo("JPEG"))))
    finally:
        release.set()
        holder.join()
    assert "réessayez" in response.context["adminform"].form.errors["photo"][0]
    assert Article.objects.count() == 0 and files_on_server(hostgator.root) == []
