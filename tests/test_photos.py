"""An editor's photo through the admin to HostGator and back on the pages (issue 4), against a real
FTP server on loopback; the host "down" is that server stopped."""

import io
import stat
import urllib.request
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from articles.models import Article, PendingUpload
from tests.hostile_images import hostile_uploads

pytestmark = pytest.mark.django_db(transaction=True)


def jpeg_bytes(size=(1600, 1200), color=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def editor_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("editeur", "e@example.org", "pw-tests-only"))
    return client


def article_form(title="Victoire des seniors", **extra):
    when = timezone.localtime() - timedelta(minutes=5)
    data = {"title": title, "slug": "", "summary": "Résumé", "body": "Texte", "image_alt": "L'équipe",
            "published": "on", "published_at_0": when.strftime("%d/%m/%Y"), "published_at_1": when.strftime("%H:%M:%S")}
    data.update(extra)
    return data


def upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def files_on_server(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()
                  and not path.name.startswith("default_article"))


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def test_photo_goes_to_the_host_with_renditions_and_shows_on_pages(editor_client, client, hostgator):
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload("photo équipe.jpg", jpeg_bytes())))
    assert response.status_code == 302
    article = Article.objects.get()
    name = article.image.name
    assert name.startswith(timezone.localdate().strftime("%Y/%m/victoire-des-seniors-")) and name.endswith(".jpg")
    assert (article.image_width, article.image_height) == (1600, 1200)
    stored = files_on_server(hostgator.root)
    assert stored == sorted([name, name[:-4] + "-480w.jpg", name[:-4] + "-1024w.jpg"])
    for relative in stored:
        assert stat.S_IMODE((hostgator.root / relative).stat().st_mode) == 0o644
        assert fetch(hostgator.public_url + relative) == (hostgator.root / relative).read_bytes()
    detail = client.get(article.get_absolute_url()).content.decode()
    assert f'src="{article.image_url}"' in detail and "1024w" in detail
    listing = client.get(reverse("articles:list")).content.decode()
    assert article.thumbnail_url in listing and article.thumbnail_url.endswith("-480w.jpg")


def test_replacing_and_deleting_remove_old_files_after_commit(editor_client, hostgator):
    editor_client.post(reverse("admin:articles_article_add"), article_form(photo=upload("a.jpg", jpeg_bytes())))
    article = Article.objects.get()
    first = article.image.name
    change_url = reverse("admin:articles_article_change", args=[article.pk])
    data = article_form(photo=upload("b.jpg", jpeg_bytes(color=(10, 120, 200))))
    data["slug"] = article.slug
    assert editor_client.post(change_url, data).status_code == 302
    article.refresh_from_db()
    assert article.image.name != first
    assert not (hostgator.root / first).exists()
    assert not any(first[:-4] in path for path in files_on_server(hostgator.root))
    assert (hostgator.root / article.image.name).exists()

    editor_client.post(reverse("admin:articles_article_delete", args=[article.pk]), {"post": "yes"})
    assert files_on_server(hostgator.root) == []


def test_a_file_another_article_uses_is_kept(hostgator, editor_client):
    editor_client.post(reverse("admin:articles_article_add"), article_form(photo=upload("a.jpg", jpeg_bytes())))
    article = Article.objects.get()
    Article.objects.create(title="Même photo", image=article.image.name, image_width=1600, image_height=1200)
    article.delete()
    assert (hostgator.root / Article.objects.get().image.name).exists()


def test_removing_the_photo_shows_the_default(editor_client, client, hostgator):
    editor_client.post(reverse("admin:articles_article_add"), article_form(photo=upload("a.jpg", jpeg_bytes())))
    article = Article.objects.get()
    data = article_form(remove_photo="on")
    data["slug"] = article.slug
    editor_client.post(reverse("admin:articles_article_change", args=[article.pk]), data)
    article.refresh_from_db()
    assert not article.image
    assert article.image_url == hostgator.public_url + "default_article.jpg"
    assert files_on_server(hostgator.root) == []


def test_same_photo_uploaded_twice_is_stored_once(editor_client, hostgator):
    data = jpeg_bytes()
    editor_client.post(reverse("admin:articles_article_add"), article_form(photo=upload("a.jpg", data)))
    article = Article.objects.get()
    form = article_form(photo=upload("copie.jpg", data))
    form["slug"] = article.slug
    editor_client.post(reverse("admin:articles_article_change", args=[article.pk]), form)
    article.refresh_from_db()
    assert len(files_on_server(hostgator.root)) == 3
    assert (hostgator.root / article.image.name).exists()


@pytest.mark.parametrize("case", hostile_uploads(), ids=lambda case: case[0])
def test_hostile_upload_is_refused_in_french_and_writes_nothing(editor_client, hostgator, case):
    filename, data, _code = case
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload(filename, data)))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "photo" in errors
    message = errors["photo"][0]
    assert any(word in message for word in ("image", "photo", "fichier", "Fichier", "Photo", "Image")), message
    assert Article.objects.count() == 0 and PendingUpload.objects.count() == 0
    assert files_on_server(hostgator.root) == []


def test_host_down_keeps_the_photo_and_retry_publishes_it(editor_client, client, hostgator):
    hostgator.stop()
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload("a.jpg", jpeg_bytes())), follow=True)
    assert response.status_code == 200
    assert "sera publiée automatiquement" in response.content.decode()
    article = Article.objects.get()
    assert not article.image
    pending = PendingUpload.objects.get()
    assert pending.article == article and len(bytes(pending.data)) > 1000
    page = client.get(article.get_absolute_url()).content.decode()
    assert "default_article.jpg" in page
    assert "en attente" in editor_client.get(reverse("admin:articles_article_changelist")).content.decode()

    hostgator.start()
    call_command("retry_pending_uploads")
    article.refresh_from_db()
    assert article.image.name == pending.name
    assert PendingUpload.objects.count() == 0
    assert fetch(article.image_url) == bytes(pending.data)
    assert len(files_on_server(hostgator.root)) == 3
    assert article.image_url in client.get(article.get_absolute_url()).content.decode()

    before = (files_on_server(hostgator.root), Article.objects.values_list("image", "updated_at").get())
    call_command("retry_pending_uploads")
    assert (files_on_server(hostgator.root), Article.objects.values_list("image", "updated_at").get()) == before
