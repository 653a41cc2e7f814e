"""A gallery's photos through the upload view, one request each, when the store goes down for some
of them (issue 9, "Host down"; on each store: the FTP server stopped, the bucket answering 503):
those wait, one by one, the rest show, and a retry shows the waiting ones in their places. (A
hostile file among good ones: tests/test_admin_gallery.py.)"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from articles.models import Article, PendingUpload, Photo
from articles.photos import retry_pending_uploads
from tests.gallery_forms import article_form, gallery_row
from tests.test_photos import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def send(client, index, slug="match"):
    data = jpeg_bytes(size=(1200, 800), color=(index * 20 % 256, 90, 255 - index * 20 % 256))
    response = client.post(reverse("admin:articles_photo_upload"),
                           {"file": SimpleUploadedFile(f"IMG_{index:04d}.jpg", data, content_type="image/jpeg"),
                            "slug": slug})
    return response.status_code, json.loads(response.content)


def test_photos_sent_while_the_host_is_down_wait_and_a_retry_shows_them_in_their_places(
        editor_client, client, photo_store):
    answers = []
    for index in range(12):
        if index == 9:
            photo_store.down()
        answers.append(send(editor_client, index))
    assert [status for status, _ in answers] == [201] * 12
    states = [answer["state"] for _, answer in answers]
    assert states == ["uploaded"] * 9 + ["pending"] * 3
    assert "gardée en lieu sûr" in answers[9][1]["message"] and answers[0][1]["message"] == ""
    assert PendingUpload.objects.count() == 3

    photos = [Photo.objects.get(pk=answer["id"]) for _, answer in answers]
    rows = [gallery_row(index, photo=photo, alt_text=f"Photo {index}") for index, photo in enumerate(photos)]
    response = editor_client.post(reverse("admin:articles_article_add"), article_form("Match", rows=rows))
    assert response.status_code == 302, response.context["adminform"].form.errors
    article = Article.objects.get()
    assert [placement.photo_id for placement in article.placements.all()] == [photo.pk for photo in photos]

    waiting = set(PendingUpload.objects.values_list("photo_id", flat=True))
    shown = [photo.pk for photo in Article.objects.with_gallery().get().gallery]
    assert shown == [photo.pk for photo in photos if photo.pk not in waiting]
    page = client.get(article.get_absolute_url()).content.decode()
    for photo in Photo.objects.filter(pk__in=waiting):
        assert photo.name not in page

    photo_store.up()
    report = retry_pending_uploads()
    assert report.ok and len(report.pushed) == len(waiting)
    assert [photo.pk for photo in Article.objects.with_gallery().get().gallery] == [photo.pk for photo in photos]
    assert len(photo_store.files()) == 12 * 3  # each original with its two renditions
