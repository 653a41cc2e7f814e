"""An editor's photo through the admin to the photo store and back on the pages (issue 4), on each
store (``photo_store``: a real FTP server on loopback, then moto's S3 server); the store "down" is
the FTP server stopped, or the bucket answering 503."""

import html
import io
import stat
import urllib.request

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from articles.models import Article, ArticlePhoto, PendingUpload, Photo
from tests.gallery_forms import article_form, gallery_row, shown_photo
from tests.hostile_images import hostile_uploads

pytestmark = pytest.mark.django_db(transaction=True)


def jpeg_bytes(size=(1600, 1200), color=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def files_on_server(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()
                  and not path.name.startswith("default_article"))


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def fetch_with_headers(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read(), response.headers


def test_photo_goes_to_the_host_with_renditions_and_shows_on_pages(editor_client, client, photo_store):
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload("photo équipe.jpg", jpeg_bytes())))
    assert response.status_code == 302
    article = Article.objects.get()
    photo = shown_photo(article)
    name = photo.name
    assert name.startswith(timezone.localdate().strftime("%Y/%m/victoire-des-seniors-")) and name.endswith(".jpg")
    assert (photo.width, photo.height, photo.alt_text) == (1600, 1200, "L'équipe")
    stored = photo_store.files()
    assert stored == sorted([name, name[:-4] + "-480w.jpg", name[:-4] + "-1024w.jpg"])
    for relative in stored:
        body, headers = fetch_with_headers(photo_store.public_url + relative)
        assert body == photo_store.read(relative)
        if photo_store.kind == "hostgator":
            assert stat.S_IMODE((photo_store.server.root / relative).stat().st_mode) == 0o644
        else:
            assert headers["Content-Type"] == "image/jpeg"
            assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    article = Article.objects.with_gallery().get()
    detail = client.get(article.get_absolute_url()).content.decode()
    assert f'src="{article.image_url}"' in detail and "1024w" in detail
    listing = client.get(reverse("articles:list")).content.decode()
    assert article.thumbnail_url in listing and article.thumbnail_url.endswith("-480w.jpg")


def test_removing_a_photo_and_deleting_the_article_remove_files_after_commit(editor_client, photo_store):
    editor_client.post(reverse("admin:articles_article_add"), article_form(photo=upload("a.jpg", jpeg_bytes())))
    article = Article.objects.get()
    first = shown_photo(article).name
    placement = article.placements.get()
    data = article_form(article=article, rows=[gallery_row(0, placement, DELETE="on")],
                        photo=upload("b.jpg", jpeg_bytes(color=(10, 120, 200))))
    response = editor_client.post(reverse("admin:articles_article_change", args=[article.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    second = shown_photo(article).name
    assert second != first and Photo.objects.count() == 1
    assert first not in photo_store.files()
    assert not any(first[:-4] in path for path in photo_store.files())
    assert second in photo_store.files()

    editor_client.post(reverse("admin:articles_article_delete", args=[article.pk]), {"post": "yes"})
    assert photo_store.files() == [] and Photo.objects.count() == 0


def test_a_photo_another_article_shows_is_kept(photo_store, editor_client):
    editor_client.post(reverse("admin:articles_article_add"), article_form(photo=upload("a.jpg", jpeg_bytes())))
    article = Article.objects.get()
    photo = shown_photo(article)
    other = Article.objects.create(title="Même photo")
    ArticlePhoto.objects.create(article=other, photo=photo)
    article.delete()
    assert shown_photo(other) == photo and photo.name in photo_store.files()
    assert len(photo_store.files()) == 3


def test_removing_the_only_photo_shows_the_default(editor_client, client, photo_store):
    editor_client.post(reverse("admin:articles_article_add"), article_form(photo=upload("a.jpg", jpeg_bytes())))
    article = Article.objects.get()
    data = article_form(article=article, rows=[gallery_row(0, article.placements.get(), DELETE="on")])
    editor_client.post(reverse("admin:articles_article_change", args=[article.pk]), data)
    assert shown_photo(article) is None
    assert Article.objects.get().image_url == photo_store.public_url + "default_article.jpg"
    assert photo_store.files() == []


def test_same_photo_uploaded_twice_is_stored_once(editor_client, photo_store):
    data = jpeg_bytes()
    editor_client.post(reverse("admin:articles_article_add"), article_form(photo=upload("a.jpg", data)))
    article = Article.objects.get()
    editor_client.post(reverse("admin:articles_article_change", args=[article.pk]),
                       article_form(article=article, photo=upload("copie.jpg", data)))
    assert len(photo_store.files()) == 3
    assert Photo.objects.count() == 1 and article.placements.count() == 1
    assert shown_photo(article).name in photo_store.files()


@pytest.mark.parametrize("case", hostile_uploads(), ids=lambda case: case[0])
def test_hostile_upload_is_refused_in_french_and_writes_nothing(editor_client, photo_store, case):
    filename, data, _code = case
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload(filename, data)))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "photo" in errors
    message = errors["photo"][0]
    assert any(word in message for word in ("image", "photo", "fichier", "Fichier", "Photo", "Image")), message
    assert Article.objects.count() == 0 and PendingUpload.objects.count() == 0 and Photo.objects.count() == 0
    assert photo_store.files() == []


def test_host_down_keeps_the_photo_and_retry_publishes_it(editor_client, client, photo_store):
    photo_store.down()
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload("a.jpg", jpeg_bytes())), follow=True)
    assert response.status_code == 200
    assert "sera publiée automatiquement" in response.content.decode()
    place = {"hostgator": "l'hébergement des photos (HostGator)", "s3": "le stockage des photos (S3)"}[photo_store.kind]
    assert f"mais {place} ne répond pas" in html.unescape(response.content.decode())  # the store editors have
    article = Article.objects.get()
    assert shown_photo(article) is None
    pending = PendingUpload.objects.get()
    assert pending.photo.placements.get().article == article and len(bytes(pending.data)) > 1000
    page = client.get(article.get_absolute_url()).content.decode()
    assert "default_article.jpg" in page
    assert "en attente" in editor_client.get(reverse("admin:articles_article_changelist")).content.decode()

    photo_store.up()
    call_command("retry_pending_uploads")
    photo = shown_photo(article)
    assert photo.name == pending.name and photo.on_store
    assert PendingUpload.objects.count() == 0
    assert fetch(photo.url) == bytes(pending.data)
    assert len(photo_store.files()) == 3
    assert photo.url in client.get(article.get_absolute_url()).content.decode()

    def state():
        return photo_store.files(), list(Photo.objects.values_list("name", "on_store")), \
            Article.objects.values_list("updated_at", flat=True).get()

    before = state()
    call_command("retry_pending_uploads")
    assert state() == before


def test_a_full_store_keeps_the_photo_and_tells_the_editor_what_to_do(editor_client, photo_store):
    photo_store.full()
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload("a.jpg", jpeg_bytes())), follow=True)
    page = html.unescape(response.content.decode())
    place = {"hostgator": "l'hébergement des photos (HostGator)", "s3": "le stockage des photos (S3)"}[photo_store.kind]
    remedy = {"hostgator": "« Utilisation du disque »", "s3": "augmentez le quota du bucket"}[photo_store.kind]
    assert f"mais l'espace de {place} est plein" in page and remedy in page
    assert "dès que de la place sera libérée" in page
    pending = PendingUpload.objects.get()
    assert shown_photo(Article.objects.get()) is None and len(bytes(pending.data)) > 1000
    assert photo_store.files() == []
    assert photo_store.uploads() <= 3  # each file tried once at most: another try cannot help
    photo_store.up()
    call_command("retry_pending_uploads")
    assert shown_photo(Article.objects.get()).name == pending.name and len(photo_store.files()) == 3
