"""Two editors on one photo (issue 9, found in review): a photo shared by two articles, a photo
taken out of one gallery while another form places it, waiting bytes deleted by hand."""

import json
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse

from articles.forms import PHOTO_GONE
from articles.models import Article, ArticlePhoto, PendingUpload, Photo
from articles.photos import retry_pending_uploads
from tests.gallery_forms import article_form, gallery_row
from tests.test_ftp_servers import wait_for
from tests.test_photos import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def shared_photo(**fields):
    photo = Photo.objects.create(name="2026/12/commune-0123456789.jpg", content_hash="0123456789", width=10,
                                 height=10, alt_text="Une photo", **fields)
    first, second = Article.objects.create(title="Premier"), Article.objects.create(title="Second")
    return photo, ArticlePhoto.objects.create(article=first, photo=photo), \
        ArticlePhoto.objects.create(article=second, photo=photo)


def change(client, placement, **fields):
    article = placement.article
    return client.post(reverse("admin:articles_article_change", args=[article.pk]),
                       article_form(article=article, rows=[gallery_row(0, placement, **fields)]))


def test_a_form_opened_earlier_does_not_undo_another_editors_caption(editor_client, hostgator):
    photo, first, second = shared_photo(caption="ancienne")
    stale = article_form(article=first.article)  # the first article's form, as its editor opened it
    assert change(editor_client, second, caption="corrigée").status_code == 302
    assert editor_client.post(reverse("admin:articles_article_change", args=[first.article_id]),
                              stale).status_code == 302
    assert Photo.objects.get().caption == "corrigée"
    assert change(editor_client, ArticlePhoto.objects.get(pk=first.pk), credit="Photo : Sami K.").status_code == 302
    assert Photo.objects.values_list("caption", "credit").get() == ("corrigée", "Photo : Sami K.")


def test_a_photo_forgotten_meanwhile_is_said_in_french_and_the_form_keeps_its_text(editor_client, hostgator):
    photo, first, second = shared_photo()
    rows = [gallery_row(0, photo=photo)]
    ArticlePhoto.objects.filter(photo=photo).delete()  # both galleries drop it: the photo is forgotten
    assert not Photo.objects.exists()
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form("Compte rendu", rows=rows, body="Une heure de travail"))
    assert response.status_code == 200 and PHOTO_GONE in response.content.decode()
    assert "Une heure de travail" in response.content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; SQLite serialises writers")
def test_a_clean_up_waits_for_the_save_that_places_the_photo_and_keeps_it(hostgator):
    from articles.forms import PlacementForm

    photo, first, second = shared_photo()
    placed, go_on = threading.Event(), threading.Event()
    other = Article.objects.create(title="Troisième")

    def editor_placing_it():
        try:
            with transaction.atomic():  # as the admin's view: validation and save in one transaction
                form = PlacementForm(data=gallery_row(0, photo=photo), prefix="placements-0",
                                     instance=ArticlePhoto(article=other))
                assert form.is_valid(), form.errors
                form.save()
                placed.set()
                go_on.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=editor_placing_it)
    thread.start()
    assert placed.wait(30)

    def editors_taking_it_out():  # both other galleries drop it; the clean-up runs after that commit
        ArticlePhoto.objects.filter(pk__in=[first.pk, second.pk]).delete()
        connection.close()

    forgetting = threading.Thread(target=editors_taking_it_out)
    forgetting.start()
    assert wait_for(lambda: waiting_on_a_lock(), timeout=30)  # the clean-up waits for the save
    go_on.set()
    thread.join(30)
    forgetting.join(30)
    assert Photo.objects.filter(pk=photo.pk).exists() and ArticlePhoto.objects.filter(article=other).exists()


def waiting_on_a_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


def test_waiting_bytes_deleted_by_hand_are_replaced_by_the_next_upload_of_the_photo(
        editor_client, photo_store):
    data = jpeg_bytes(color=(30, 160, 90))

    def send():
        response = editor_client.post(reverse("admin:articles_photo_upload"),
                                      {"file": SimpleUploadedFile("a.jpg", data, content_type="image/jpeg")})
        return json.loads(response.content)

    photo_store.down()
    assert send()["state"] == "pending"
    PendingUpload.objects.all().delete()  # « Supprimer les photos en attente sélectionnées »
    photo_store.up()
    again = send()
    assert again["state"] == "uploaded" and Photo.objects.get().on_store
    assert len(photo_store.files()) == 3 and not retry_pending_uploads().failed
