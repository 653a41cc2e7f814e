"""A photo's other files -- the width ladder, AVIF, WebP -- and its placeholder (issue 10), against
the real FTP server on loopback: made after the upload, on the store, and listed by the pages only
once they are there."""

import base64
import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from articles import rendition_queue
from articles.models import Article, Photo
from articles.photo_renditions import complete_photo, files_missing
from storage.renditions import files_wanted, widths_for
from tests.gallery_forms import article_form, shown_photo
from tests.test_photos import files_on_server, upload

pytestmark = pytest.mark.django_db(transaction=True)

FORMATS = {"jpg": "JPEG", "avif": "AVIF", "webp": "WEBP"}


def phone_like_jpeg(size=(1600, 1200)):
    """Detail and a smooth sky, EXIF with a GPS position, a camera's colour profile: what a phone sends."""
    gradient = Image.linear_gradient("L").resize(size)
    # Texture at a photo's scale (noise at every pixel is no photo: no codec can shrink it).
    noise = Image.effect_noise((size[0] // 8, size[1] // 8), 40).resize(size, Image.Resampling.BICUBIC)
    image = Image.merge("RGB", (gradient, noise, gradient.rotate(90)))
    exif = Image.Exif()
    exif[0x010F] = "Samsung"
    exif.get_ifd(0x8825)[2] = (36.0, 48.0, 0.0)  # GPSLatitude: where the photo was taken
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif, icc_profile=srgb_profile_bytes())
    return buffer.getvalue()


def srgb_profile_bytes():
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def stored_files(photo, hostgator):
    """{(extension, width): decoded image} of every file of the photo on the store."""
    stem = photo.name.rsplit(".", 1)[0]
    found = {}
    for relative in files_on_server(hostgator.root):
        match = re.fullmatch(re.escape(stem) + r"(?:-(\d+)w)?\.(jpg|avif|webp)", relative)
        if match:
            image = Image.open(hostgator.root / relative)
            image.load()
            found[match[2], int(match[1] or photo.width)] = image
    return found


def save_article_with_photo(editor_client, data):
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload("match.jpg", data)))
    assert response.status_code == 302
    return shown_photo(Article.objects.get())


def test_a_saved_photo_gets_every_width_in_avif_and_webp_clean_and_recorded(editor_client, hostgator, settings):
    settings.PHOTO_RENDITIONS_LATER = "now"
    photo = save_article_with_photo(editor_client, phone_like_jpeg())
    expected = files_wanted(1600, "jpg", settings.PHOTO_RENDITION_WIDTHS, settings.PHOTO_MODERN_FORMATS)
    assert widths_for(1600, settings.PHOTO_RENDITION_WIDTHS) == [320, 400, 480, 640, 800, 1024, 1280, 1600]
    assert {(extension, width) for extension, widths in photo.files.items() for width in widths} == expected
    on_store = stored_files(photo, hostgator)
    assert set(on_store) == expected  # nothing more, nothing less
    for (extension, width), image in on_store.items():
        assert image.format == FORMATS[extension], (extension, width)
        assert image.size == (width, round(1200 * width / 1600)), (extension, width)
        assert image.mode == "RGB"
        # No metadata left: no EXIF (so no GPS), no colour profile (the pixels are sRGB), no XMP.
        assert not image.getexif() and "icc_profile" not in image.info and "xmp" not in image.info, (extension, width)
    assert files_missing(photo) == set()
    # A second pass has nothing to do and sends nothing.
    assert complete_photo(photo).made == 0


def test_the_placeholder_is_a_tiny_preview_of_the_photo_and_its_colour(editor_client, hostgator):
    data = io.BytesIO()
    Image.new("RGB", (1200, 900), (30, 120, 200)).save(data, "JPEG", quality=95)
    photo = save_article_with_photo(editor_client, data.getvalue())
    colour = tuple(int(photo.colour[i:i + 2], 16) for i in (1, 3, 5))
    assert all(abs(a - b) <= 3 for a, b in zip(colour, (30, 120, 200)))  # JPEG's rounding, no more
    prefix = "data:image/webp;base64,"
    assert photo.placeholder.startswith(prefix) and len(photo.placeholder) < 300
    preview = Image.open(io.BytesIO(base64.b64decode(photo.placeholder[len(prefix):])))
    assert preview.format == "WEBP" and preview.size == (8, 6)
    assert all(abs(a - b) <= 8 for a, b in zip(preview.convert("RGB").getpixel((3, 3)), (30, 120, 200)))


def test_pages_list_only_the_files_that_exist(editor_client, client, hostgator, settings):
    settings.PHOTO_RENDITIONS_LATER = "off"
    photo = save_article_with_photo(editor_client, phone_like_jpeg())
    article = Article.objects.get()
    article.published = True
    article.save()
    # Before its other files: the JPEG copies made at upload, no <picture> source yet.
    html = client.get(article.get_absolute_url()).content.decode()
    assert "<source" not in html and "-480w.jpg 480w" in html and "-320w" not in html
    assert f"img.ph-{photo.pk}{{background:{photo.colour} url({photo.placeholder})" in html
    assert f"ph-{photo.pk}" in re.search(r'<img [^>]*class="([^"]+)"', html)[1]

    complete_photo(photo)
    html = client.get(article.get_absolute_url()).content.decode()
    sources = re.findall(r'<source type="([^"]+)" srcset="([^"]+)"', html)
    assert [media_type for media_type, _ in sources][:2] == ["image/avif", "image/webp"]
    on_store = set(files_on_server(hostgator.root))
    listed = [url for _, srcset in sources for url in re.findall(r"(\S+) \d+w", srcset)]
    listed += re.findall(r"(\S+) \d+w", re.search(r'<img [^>]*srcset="([^"]+)"', html)[1])
    assert len(listed) == 3 * 8  # 7 narrower widths and the full size, in AVIF, WebP and JPEG
    for url in listed:
        assert url.startswith(settings.HOSTGATOR_FTP["PUBLIC_URL"])
        assert url[len(settings.HOSTGATOR_FTP["PUBLIC_URL"]):] in on_store, url
    # The CSP lets the placeholders' one <style> through by its nonce, and nothing else inline.
    response = client.get(article.get_absolute_url())
    nonce = re.search(r'<style nonce="([^"]+)"', response.content.decode())[1]
    assert f"'nonce-{nonce}'" in response["Content-Security-Policy"]


def test_the_background_thread_makes_them_after_the_save(editor_client, hostgator, settings):
    settings.PHOTO_RENDITIONS_LATER = "background"
    photo = save_article_with_photo(editor_client, phone_like_jpeg((900, 600)))
    rendition_queue.wait_until_done()
    photo.refresh_from_db()
    assert set(photo.files) == {"jpg", "avif", "webp"} and photo.files["avif"] == [320, 400, 480, 640, 800, 900]
    assert files_missing(photo) == set()


def test_a_host_failure_after_the_upload_leaves_the_photo_in_jpeg_for_a_later_run(editor_client, hostgator, settings,
                                                                                   caplog):
    settings.PHOTO_RENDITIONS_LATER = "off"
    photo = save_article_with_photo(editor_client, phone_like_jpeg((900, 600)))
    before = dict(photo.files)
    hostgator.stop()
    rendition_queue.complete_quietly(photo.pk, None)  # the original cannot even be read back
    photo.refresh_from_db()
    assert photo.files == before and "regenerate_renditions will" in caplog.text
    assert len(files_missing(photo)) == 2 * 6 + 4  # AVIF, WebP at every width; JPEG 320, 400, 640, 800


def test_a_photo_pushed_by_the_retry_command_gets_its_other_files_before_the_command_ends(editor_client, hostgator,
                                                                                          settings):
    settings.PHOTO_RENDITIONS_LATER = "background"
    hostgator.stop()
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload("match.jpg", phone_like_jpeg((900, 600)))))
    assert response.status_code == 302
    hostgator.start()
    output = io.StringIO()
    call_command("retry_pending_uploads", stdout=output)
    assert "1 pushed" in output.getvalue()
    photo = Photo.objects.get()
    assert photo.on_store and files_missing(photo) == set() and photo.files["avif"][-1] == 900
