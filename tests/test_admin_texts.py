"""What an editor reads in the admin (issue 8 §7): French that agrees in gender and elides, the
decimal comma, labels capitalised like Django's own, one log line per failed save."""

import html
import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from articles.models import PendingUpload, Photo
from tests.gallery_forms import article_form, article_with_photo
from tests.test_photos import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def page(response):
    return html.unescape(response.content.decode())


def test_the_add_form_is_titled_in_french(editor_client, hostgator):
    text = page(editor_client.get(reverse("admin:articles_article_add")))
    assert "Ajout d'un article" in text and "Ajout de article" not in text
    assert ">Ajouter une photo" in text and "Galerie de photos" in text  # capitalised like the model's labels


def test_the_change_form_shows_the_gallery_with_capitalised_labels(editor_client, hostgator):
    article = article_with_photo("Match", "2026/12/match-0123456789.jpg", 800, 600)
    text = page(editor_client.get(reverse("admin:articles_article_change", args=[article.pk])))
    assert "Modification de l'article" in text
    assert "Légende" in text and "Crédit" in text and "Texte alternatif" in text and "Couverture" in text


def test_a_too_heavy_photo_is_said_with_a_decimal_comma(editor_client, hostgator, settings):
    settings.PHOTO_MAX_BYTES = 1024 * 1024
    heavy = SimpleUploadedFile("lourde.jpg", b"\xff\xd8" + b"0" * int(1.53 * 1024 * 1024), content_type="image/jpeg")
    response = editor_client.post(reverse("admin:articles_article_add"), article_form(photo=heavy))
    assert "trop lourde (1,6 Mo) : 1 Mo au plus" in page(response)


def test_pending_photos_are_deleted_with_a_feminine_action(editor_client, hostgator):
    photo = Photo.objects.create(name="2026/12/match-0123456789.jpg", width=1, height=1, on_store=False)
    PendingUpload.objects.create(photo=photo, name=photo.name, data=b"x", width=1, height=1)
    text = page(editor_client.get(reverse("admin:articles_pendingupload_changelist")))
    assert "Supprimer les photos en attente sélectionnées" in text
    assert "sélectionnés" not in text.replace("sélectionnées", "")


def test_a_save_while_the_host_is_down_logs_one_line(editor_client, hostgator, caplog):
    hostgator.stop()
    caplog.set_level(logging.INFO)
    editor_client.post(reverse("admin:articles_article_add"),
                       article_form(photo=SimpleUploadedFile("a.jpg", jpeg_bytes(), content_type="image/jpeg")))
    assert PendingUpload.objects.count() == 1
    ours = [record for record in caplog.records if record.name.startswith(("storage", "articles"))]
    assert len(ours) == 1 and ours[0].levelno == logging.WARNING, [record.getMessage() for record in ours]
