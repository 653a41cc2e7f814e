"""When a photo travels (issue 8): never inside a database transaction, within the transfer deadline
on a crawling host, and what waits in the queue never outlives the editor's removal or replacement.
Real servers: the pyftpdlib TLS host (throttled, stopped), PostgreSQL for pg_stat_activity; the
queue's tests on both stores (``photo_store``: the bucket down is one answering 503)."""

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
from articles.models import Article, ArticlePhoto, PendingUpload, Photo
from storage.names import is_temporary
from tests.gallery_forms import article_form, gallery_row, shown_photo
from tests.test_ftp_servers import wait_for
from tests.test_photos import files_on_server, jpeg_bytes, upload

pytestmark = pytest.mark.django_db(transaction=True)


def noisy_jpeg(size=(2048, 1536)):
    """A photo that stays large once re-encoded (noise does not compress): about 1.5 MB."""
    buffer = io.BytesIO()
    Image.effect_noise(size, 120).convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def post_article(client, photo_bytes, name="a.jpg", article=None, **extra):
    if photo_bytes:
        extra["photo"] = upload(name, photo_bytes)
    data = article_form(article=article, **extra)
    if article is None:
        return client.post(reverse("admin:articles_article_add"), data, follow=True)
    return client.post(reverse("admin:articles_article_change", args=[article.pk]), data, follow=True)


def park_in(article, processed, claimed=True):
    """What the admin's save keeps before sending: the photo parked and placed in the gallery."""
    from django.db import transaction

    with transaction.atomic():
        photo, row = photos.park_photo(processed, article.slug, claimed=claimed)
        photos.place_photo(article, photo)
    return row


def waiting_photo(name, data, width=10, height=10):
    photo = Photo.objects.create(name=name, width=width, height=height, on_store=False)
    return PendingUpload.objects.create(photo=photo, name=name, data=data, width=width, height=height)


def public_files(root):
    return [name for name in files_on_server(root) if not is_temporary(name.rsplit("/", 1)[-1])]


def open_transactions():
    """Sessions of our test database that sit in an open transaction (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_crawling_host_parks_the_photo_at_the_deadline_with_no_transaction_open(
        editor_client, hostgator, settings):
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
    assert shown_photo(article) is None
    parked = PendingUpload.objects.get(photo__placements__article=article)
    # No half file at a public name: the original is not there, and a small rendition that made it
    # in time is whole (the retry writes the same bytes again under the same name).
    assert parked.name not in public_files(hostgator.root)
    for name in public_files(hostgator.root):
        Image.open(hostgator.root / name).load()
    assert seen_during_upload in ([], [0])


def test_removing_a_waiting_photo_cancels_it(editor_client, photo_store):
    post_article(editor_client, jpeg_bytes(color=(10, 200, 10)))
    article = Article.objects.get()
    first = shown_photo(article).name
    photo_store.down()
    page = html.unescape(post_article(editor_client, jpeg_bytes(color=(200, 10, 10)), article=article).content.decode())
    assert "elle n'apparaît pas sur la page" in page  # the page keeps the first photo meanwhile
    assert PendingUpload.objects.count() == 1 and shown_photo(article).name == first
    green, red = article.placements.select_related("photo")
    post_article(editor_client, None, article=article, rows=[gallery_row(0, green), gallery_row(1, red, DELETE="on")])
    assert PendingUpload.objects.count() == 0 and Photo.objects.count() == 1
    photo_store.up()
    assert photos.retry_pending_uploads().pushed == []
    assert shown_photo(article).name == first
    assert [name for name in photo_store.files() if not name.startswith(first[:-4])] == []


def test_a_waiting_photo_goes_out_with_the_next_quick_upload_in_its_place(editor_client, photo_store):
    photo_store.down()
    page = html.unescape(post_article(editor_client, jpeg_bytes(color=(200, 10, 10))).content.decode())
    assert "elle n'apparaît pas sur la page" in page
    article = Article.objects.get()
    assert shown_photo(article) is None
    photo_store.up()
    post_article(editor_client, jpeg_bytes(color=(10, 10, 200)), article=article)
    assert PendingUpload.objects.count() == 0  # pushed after the quick upload of the blue one
    gallery = Article.objects.with_gallery().get().gallery
    assert len(gallery) == 2 and gallery[0].name == article.placements.first().photo.name
    assert len(photo_store.files()) == 6


def test_a_rolled_back_save_sends_nothing(editor_client, photo_store):
    def fail_after_save(sender, instance, **kwargs):
        raise IntegrityError("simulated failure after the article row was written")

    post_save.connect(fail_after_save, sender=Article)
    try:
        with pytest.raises(IntegrityError):
            post_article(editor_client, jpeg_bytes())
    finally:
        post_save.disconnect(fail_after_save, sender=Article)
    assert Article.objects.count() == 0 and PendingUpload.objects.count() == 0 and Photo.objects.count() == 0
    assert photo_store.uploads() == 0 and photo_store.files() == []


def test_an_article_deleted_during_the_upload_leaves_no_files(photo_store):
    article = Article.objects.create(title="Supprimé pendant l'envoi")
    processed = checked_photo(upload("a.jpg", jpeg_bytes()))
    parked = park_in(article, processed)
    Article.objects.filter(pk=article.pk).delete()  # another editor, while the bytes travel
    assert photos.send_parked_photo(parked, processed.renditions).state == photos.UPLOADED
    assert photo_store.uploads() > 0 and photo_store.files() == []


def test_a_photo_removed_while_its_save_still_uploads_is_not_published(photo_store):
    article = Article.objects.create(title="Retirée pendant son propre envoi")
    processed = checked_photo(upload("a.jpg", jpeg_bytes()))
    parked = park_in(article, processed)
    ArticlePhoto.objects.filter(article=article).delete()  # « Retirer de l'article » in another tab, meanwhile
    assert photos.send_parked_photo(parked, processed.renditions).state == photos.UPLOADED
    assert shown_photo(article) is None and photo_store.files() == [] and Photo.objects.count() == 0


def test_a_photo_that_fails_for_its_own_reason_does_not_block_the_queue(photo_store):
    first, second = Article.objects.create(title="Abîmée"), Article.objects.create(title="Saine")
    broken = waiting_photo("2026/12/abimee-0123456789.jpg", b"not a photo")
    ArticlePhoto.objects.create(article=first, photo=broken.photo)
    good = checked_photo(upload("b.jpg", jpeg_bytes()))
    park_in(second, good, claimed=False)
    report = photos.retry_pending_uploads()
    assert len(report.pushed) == 1 and len(report.failed) == 1
    assert shown_photo(second) is not None and shown_photo(first) is None
    broken = PendingUpload.objects.get()
    assert broken.claimed_until is None and broken.attempts == 1 and broken.last_error


def test_a_parked_photo_removed_during_its_push_is_not_published(photo_store):
    article = Article.objects.create(title="Retirée pendant l'envoi")
    processed = checked_photo(upload("a.jpg", jpeg_bytes()))
    parked = waiting_photo("2026/12/retiree-0123456789.jpg", processed.original.data, processed.original.width,
                           processed.original.height)
    ArticlePhoto.objects.create(article=article, photo=parked.photo)
    row = photos.claim(parked.pk)
    assert photos.claim(row.pk) is None  # another run keeps off it meanwhile
    ArticlePhoto.objects.filter(article=article).delete()  # the editor removes it while the bytes travel
    assert photos.push_pending(row) is None
    assert shown_photo(article) is None and Photo.objects.count() == 0
    assert photo_store.files() == []


def test_uploads_refuse_to_run_inside_a_transaction(photo_store):
    from django.db import transaction

    article = Article.objects.create(title="Dans une transaction")
    processed = checked_photo(upload("a.jpg", jpeg_bytes()))
    with transaction.atomic(), pytest.raises(RuntimeError, match="after the transaction"):
        photos.attach_photo(article, processed)
    assert photo_store.uploads() == 0
