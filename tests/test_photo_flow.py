"""When a photo travels (issue 8): never inside a database transaction, within the transfer deadline
on a crawling host, and what waits in the queue never outlives the editor's removal or replacement.
Real servers: the pyftpdlib TLS host (throttled, stopped), PostgreSQL for pg_stat_activity."""

import html
import io
import threading

import pytest
from django.db import IntegrityError, connection
from django.db.models.signals import post_save
from django.urls import reverse
from PIL import Image

from articles import photos
from articles.forms import checked_photo
from articles.models import Article, PendingUpload
from storage.names import is_temporary
from tests.test_ftp_servers import wait_for
from tests.test_photos import article_form, editor_client, files_on_server, jpeg_bytes, upload  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def noisy_jpeg(size=(2048, 1536)):
    """A photo that stays large once re-encoded (noise does not compress): about 1.5 MB."""
    buffer = io.BytesIO()
    Image.effect_noise(size, 120).convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def post_article(client, photo_bytes, name="a.jpg", article=None, **extra):
    data = article_form(photo=upload(name, photo_bytes), **extra) if photo_bytes else article_form(**extra)
    if article is None:
        return client.post(reverse("admin:articles_article_add"), data, follow=True)
    data["slug"] = article.slug
    return client.post(reverse("admin:articles_article_change", args=[article.pk]), data, follow=True)


def public_files(root):
    return [name for name in files_on_server(root) if not is_temporary(name.rsplit("/", 1)[-1])]


def open_transactions():
    """Sessions of our test database that sit in an open transaction (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_crawling_host_parks_the_photo_at_the_deadline_with_no_transaction_open(
        editor_client, hostgator, settings):  # noqa: F811
    settings.HOSTGATOR_FTP = {**hostgator.settings, "TRANSFER_TIMEOUT": 4}
    hostgator.read_limit = 16 * 1024  # 1.5 MB would take 90 s
    response, seen_during_upload = {}, []

    def save():
        response["page"] = post_article(editor_client, noisy_jpeg())

    saver = threading.Thread(target=save)
    saver.start()
    assert wait_for(lambda: "STOR" in hostgator.verbs(), timeout=30)  # bytes are travelling now
    if connection.vendor == "postgresql":
        seen_during_upload.append(open_transactions())
    saver.join(60)
    page = response["page"].content.decode()
    assert "trop lent" in page and "sera publiée automatiquement" in page
    article = Article.objects.get()
    assert not article.image
    parked = PendingUpload.objects.get(article=article)
    # No half file at a public name: the original is not there, and a small rendition that made it
    # in time is whole (the retry writes the same bytes again under the same name).
    assert parked.name not in public_files(hostgator.root)
    for name in public_files(hostgator.root):
        Image.open(hostgator.root / name).load()
    assert seen_during_upload in ([], [0])


def test_removing_the_photo_cancels_what_waits(editor_client, hostgator):  # noqa: F811
    post_article(editor_client, jpeg_bytes(color=(10, 200, 10)))
    article = Article.objects.get()
    first = article.image.name
    hostgator.stop()
    page = post_article(editor_client, jpeg_bytes(color=(200, 10, 10)), article=article).content.decode()
    assert "la photo précédente reste affichée" in page  # not the default image: the page keeps the first
    assert PendingUpload.objects.count() == 1
    post_article(editor_client, None, article=article, remove_photo="on")
    assert PendingUpload.objects.count() == 0
    hostgator.start()
    assert photos.retry_pending_uploads().pushed == []
    article.refresh_from_db()
    assert not article.image
    assert [name for name in files_on_server(hostgator.root) if "victoire" in name and name != first
            and not name.startswith(first[:-4])] == []  # the red photo never reached the host


def test_a_new_upload_supersedes_the_photo_that_waits(editor_client, hostgator):  # noqa: F811
    hostgator.stop()
    page = html.unescape(post_article(editor_client, jpeg_bytes(color=(200, 10, 10))).content.decode())
    assert "l'image par défaut s'affiche" in page
    article = Article.objects.get()
    hostgator.start()
    post_article(editor_client, jpeg_bytes(color=(10, 10, 200)), article=article)
    article.refresh_from_db()
    assert article.image and PendingUpload.objects.count() == 0
    assert photos.retry_pending_uploads().pushed == []
    assert len(files_on_server(hostgator.root)) == 3  # the blue photo and its renditions only


def test_a_rolled_back_save_sends_nothing(editor_client, hostgator):  # noqa: F811
    def fail_after_save(sender, instance, **kwargs):
        raise IntegrityError("simulated failure after the article row was written")

    post_save.connect(fail_after_save, sender=Article)
    try:
        with pytest.raises(IntegrityError):
            post_article(editor_client, jpeg_bytes())
    finally:
        post_save.disconnect(fail_after_save, sender=Article)
    assert Article.objects.count() == 0 and PendingUpload.objects.count() == 0
    assert "STOR" not in hostgator.verbs() and files_on_server(hostgator.root) == []


def test_an_article_deleted_during_the_upload_leaves_no_files(hostgator, settings):
    article = Article.objects.create(title="Supprimé pendant l'envoi")
    processed = checked_photo(upload("a.jpg", jpeg_bytes()))
    parked = photos.park_photo(article, processed)
    Article.objects.filter(pk=article.pk).delete()  # another editor, while the bytes travel
    assert photos.send_parked_photo(parked, processed.renditions).state == photos.UPLOADED
    assert "STOR" in hostgator.verbs() and files_on_server(hostgator.root) == []


def test_a_photo_removed_while_its_save_still_uploads_is_not_published(hostgator):
    article = Article.objects.create(title="Retirée pendant son propre envoi")
    processed = checked_photo(upload("a.jpg", jpeg_bytes()))
    parked = photos.park_photo(article, processed)  # what the admin's save keeps before sending
    photos.cancel_waiting_photos(article)  # « Retirer la photo » in another tab, meanwhile
    assert photos.send_parked_photo(parked, processed.renditions).state == photos.UPLOADED
    article.refresh_from_db()
    assert not article.image and files_on_server(hostgator.root) == []


def test_a_photo_that_fails_for_its_own_reason_does_not_block_the_queue(hostgator):
    first, second = Article.objects.create(title="Abîmée"), Article.objects.create(title="Saine")
    PendingUpload.objects.create(article=first, name="2026/12/abimee-0123456789.jpg", data=b"not a photo",
                                 width=10, height=10)
    good = checked_photo(upload("b.jpg", jpeg_bytes()))
    photos.park_photo(second, good, claimed=False)
    report = photos.retry_pending_uploads()
    assert len(report.pushed) == 1 and len(report.failed) == 1
    second.refresh_from_db()
    assert second.image
    broken = PendingUpload.objects.get()
    assert broken.claimed_until is None and broken.attempts == 1 and broken.last_error


def test_a_parked_photo_removed_during_its_push_is_not_published(hostgator):
    article = Article.objects.create(title="Retirée pendant l'envoi")
    processed = checked_photo(upload("a.jpg", jpeg_bytes()))
    PendingUpload.objects.create(article=article, name="2026/12/retiree-0123456789.jpg", data=processed.original.data,
                                 width=processed.original.width, height=processed.original.height)
    row = photos.claim(PendingUpload.objects.get().pk)
    assert photos.claim(row.pk) is None  # another run keeps off it meanwhile
    photos.cancel_waiting_photos(article)  # the editor removes it while the bytes travel
    assert photos.push_pending(row) is None
    article.refresh_from_db()
    assert not article.image
    assert files_on_server(hostgator.root) == []


def test_uploads_refuse_to_run_inside_a_transaction(hostgator):
    from django.db import transaction

    article = Article.objects.create(title="Dans une transaction")
    processed = checked_photo(upload("a.jpg", jpeg_bytes()))
    with transaction.atomic(), pytest.raises(RuntimeError, match="after the transaction"):
        photos.attach_photo(article, processed)
    assert "STOR" not in hostgator.verbs()
