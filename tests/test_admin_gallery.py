"""The editors' gallery (issue 9): photos sent one per request to the upload endpoint, then placed,
ordered, chosen as cover and removed through the article form's inline (what static/js/admin_gallery.js
posts), against the real FTPS server on loopback; and the whole thing in Chromium."""

import stat

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from articles import photos
from articles.forms import checked_photo
from articles.models import Article, ArticlePhoto, Photo
from storage.names import rendition_name
from tests.hostile_images import PHP
from tests.test_photos import article_form, editor_client, files_on_server, jpeg_bytes, upload  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD = "admin:articles_photo_upload"
ALT_REQUIRED = "Décrivez la photo pour les lecteurs malvoyants (texte alternatif)"


def send(client, name, data, slug="tournoi-de-printemps"):
    return client.post(reverse(UPLOAD), {"file": upload(name, data), "slug": slug})


def colour(index):
    """A different photo for each index (other bytes, other content hash)."""
    return jpeg_bytes(size=(1200, 900), color=(15 + 19 * index, 200 - 13 * index, 90 + 7 * index))


def gallery_form(rows, initial=0, **fields):
    """The article form as the gallery posts it: one inline row per dict (photo, position, ...)."""
    data = article_form(**fields)
    data.update({"placements-TOTAL_FORMS": str(len(rows)), "placements-INITIAL_FORMS": str(initial),
                 "placements-MIN_NUM_FORMS": "0", "placements-MAX_NUM_FORMS": "1000"})
    for index, row in enumerate(rows):
        for name, value in {"position": index, "focal_x": 0.5, "focal_y": 0.5, **row}.items():
            if value is not False:
                data[f"placements-{index}-{name}"] = "on" if value is True else str(value)
    return data


def rows_of(article, changes=None):
    """The saved rows of ``article``'s inline as its change form shows them; ``changes``: {photo pk: {...}}."""
    return [{"id": placement.pk, "article": article.pk, "photo": placement.photo_id, "position": placement.position,
             "alt_text": placement.photo.alt_text, **(changes or {}).get(placement.photo_id, {})}
            for placement in article.placements.select_related("photo")]


def save_article(client, rows, article=None, initial=0, **fields):
    if article is None:
        return client.post(reverse("admin:articles_article_add"), gallery_form(rows, **fields))
    data = gallery_form(rows, initial=initial, title=article.title, **fields)
    data["slug"] = article.slug
    return client.post(reverse("admin:articles_article_change", args=[article.pk]), data)


def store_files(photo):
    return [photo.name, *(rendition_name(photo.name, width) for width in photo.renditions)]


def uploaded(client, count, start=0):
    answers = [send(client, f"photo-{index}.jpg", colour(index)) for index in range(start, start + count)]
    assert [answer.status_code for answer in answers] == [201] * count
    return [answer.json() for answer in answers]


def test_twelve_photos_sent_one_by_one_then_placed_in_order(editor_client, hostgator):  # noqa: F811
    sent = uploaded(editor_client, 12)
    assert all(photo["state"] == "uploaded" and photo["thumbnail_url"].startswith(hostgator.public_url)
               for photo in sent)
    assert ArticlePhoto.objects.count() == 0  # in the library, in no gallery until the article is saved
    order = list(reversed(sent))  # the editor put the last one first
    response = save_article(editor_client, [{"photo": photo["id"], "alt_text": f"Photo {photo['id']}"}
                                            for photo in order], title="Tournoi de printemps")
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    article = Article.objects.get()
    assert [placement.photo_id for placement in article.placements.all()] == [photo["id"] for photo in order]
    assert [placement.position for placement in article.placements.all()] == list(range(12))
    on_store = files_on_server(hostgator.root)
    for photo in Photo.objects.all():
        assert photo.on_store and photo.name.startswith(photo.uploaded_at.strftime("%Y/%m/tournoi-de-printemps-"))
        assert len(photo.renditions) == 2  # 480 and 1024 px wide, from a 1200 px photo
        for name in store_files(photo):
            assert name in on_store
            assert stat.S_IMODE((hostgator.root / name).stat().st_mode) == 0o644
    assert len(on_store) == 12 * 3


def test_a_hostile_file_among_good_ones_refuses_only_itself(editor_client, hostgator):  # noqa: F811
    truncated = colour(5)[:2000]
    answers = {name: send(editor_client, name, data) for name, data in [
        ("bonne-1.jpg", colour(1)), ("shell.jpg", PHP), ("coupee.jpg", truncated), ("bonne-2.jpg", colour(2))]}
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "bonne-1.jpg": 201, "shell.jpg": 400, "coupee.jpg": 400, "bonne-2.jpg": 201}
    assert "contient du code caché" in answers["shell.jpg"].json()["error"]
    assert "abîmée ou incomplète" in answers["coupee.jpg"].json()["error"]
    assert "id" not in answers["shell.jpg"].json()
    assert Photo.objects.count() == 2
    assert len(files_on_server(hostgator.root)) == 2 * 3


def test_the_endpoint_is_for_editors_only(client, hostgator, django_user_model):
    answer = send(client, "a.jpg", colour(1))
    assert answer.status_code == 302 and answer["Location"].startswith(reverse("admin:login"))
    client.force_login(django_user_model.objects.create_user("lecteur", "l@example.org", "pw-tests-only"))
    answer = send(client, "a.jpg", colour(1))
    assert answer.status_code == 302 and answer["Location"].startswith(reverse("admin:login"))
    # Staff, but not an editor of articles: refused in French, as JSON the gallery can show.
    intern = django_user_model.objects.create_user("stagiaire", "s@example.org", "pw-tests-only", is_staff=True)
    intern.user_permissions.add(Permission.objects.get(codename="view_article"))
    client.force_login(intern)
    answer = send(client, "a.jpg", colour(1))
    assert answer.status_code == 403 and "droit" in answer.json()["error"]
    assert Photo.objects.count() == 0 and files_on_server(hostgator.root) == []


def test_the_endpoint_refuses_a_request_without_csrf_token(hostgator, django_user_model):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(django_user_model.objects.create_superuser("editeur", "e@example.org", "pw-tests-only"))
    assert send(browser, "a.jpg", colour(1)).status_code == 403
    assert Photo.objects.count() == 0 and "STOR" not in hostgator.verbs()
    # The token the gallery sends (the form's, in the X-CSRFToken header) is accepted.
    browser.get(reverse("admin:articles_article_add"))
    answer = browser.post(reverse(UPLOAD), {"file": upload("a.jpg", colour(1))},
                          headers={"X-CSRFToken": browser.cookies[settings.CSRF_COOKIE_NAME].value})
    assert answer.status_code == 201


def test_the_same_file_twice_is_one_photo(editor_client, hostgator):  # noqa: F811
    first, second = (send(editor_client, name, colour(3)) for name in ("match.jpg", "match (copie).jpg"))
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"] and Photo.objects.count() == 1
    assert len(files_on_server(hostgator.root)) == 3


def test_search_finds_library_photos_by_words_and_month(editor_client, hostgator):  # noqa: F811
    photo, _ = photos.store_photo(checked_photo(upload("a.jpg", colour(1))), "archives",
                                  caption="Finale 2025", credit="Photo : Leïla B.")
    photos.store_photo(checked_photo(upload("b.jpg", colour(2))), "autre", caption="Entraînement")
    search = reverse("admin:articles_photo_search")
    month = photo.uploaded_at.strftime("%Y-%m")
    assert [found["id"] for found in editor_client.get(search, {"q": "leïla finale"}).json()["photos"]] == [photo.pk]
    assert len(editor_client.get(search, {"mois": month}).json()["photos"]) == 2
    assert editor_client.get(search, {"mois": "1999-01"}).json()["photos"] == []
    refused = editor_client.get(search, {"mois": "novembre"})
    assert refused.status_code == 400 and "AAAA-MM" in refused.json()["error"]


def test_reorder_cover_and_removal_through_the_inline(editor_client, hostgator):  # noqa: F811
    a, b, c, d = (photo["id"] for photo in uploaded(editor_client, 4))
    save_article(editor_client, [{"photo": pk, "alt_text": f"Photo {pk}"} for pk in (a, b, c, d)],
                 title="Tournoi de printemps")
    article = Article.objects.get()
    # b is in a second article too: removing it from the first must keep its files.
    save_article(editor_client, [{"photo": b, "alt_text": "Photo b"}], title="Revue de presse")
    other = Article.objects.get(title="Revue de presse")
    files_of = {pk: store_files(Photo.objects.get(pk=pk)) for pk in (a, b, c, d)}

    # New order d, a, b (c removed), cover a: what the cards post.
    positions = {d: 0, a: 1, b: 2, c: 3}
    rows = rows_of(article, {pk: {"position": place} for pk, place in positions.items()})
    rows_by_photo = {row["photo"]: row for row in rows}
    rows_by_photo[a]["is_cover"] = True
    rows_by_photo[c]["DELETE"] = True
    response = save_article(editor_client, rows, article=article, initial=4)
    assert response.status_code == 302
    article = Article.objects.get(pk=article.pk)
    assert [placement.photo_id for placement in article.placements.all()] == [d, a, b]
    assert article.cover_id == a and article.cover_photo.pk == a
    assert not Photo.objects.filter(pk=c).exists()
    on_store = files_on_server(hostgator.root)
    assert not set(files_of[c]) & set(on_store)  # gone once the save committed

    # Now b out of this article: the other one still shows it.
    rows = rows_of(article, {b: {"DELETE": True}})
    assert save_article(editor_client, rows, article=article, initial=3).status_code == 302
    assert [placement.photo_id for placement in Article.objects.get(pk=article.pk).placements.all()] == [d, a]
    assert list(other.placements.values_list("photo_id", flat=True)) == [b]
    assert set(files_of[b]) <= set(files_on_server(hostgator.root))


def test_alt_text_required_unless_decorative(editor_client, hostgator):  # noqa: F811
    first, second = (photo["id"] for photo in uploaded(editor_client, 2))
    rows = [{"photo": first, "caption": "Le podium", "credit": "Photo : Sami K.", "alt_text": "Trois coureuses"},
            {"photo": second, "caption": "La foule", "focal_x": 0.25, "focal_y": 0.8}]
    response = save_article(editor_client, rows, title="Cross du club")
    assert response.status_code == 200
    page = response.content.decode()
    assert ALT_REQUIRED in page.replace("&#x27;", "'")
    assert Article.objects.count() == 0 and ArticlePhoto.objects.count() == 0
    # Nothing the editor typed is lost: the rows come back with their photos and fields.
    forms = response.context["inline_admin_formsets"][0].formset.forms
    assert [(form["photo"].value(), form["caption"].value(), form["focal_x"].value()) for form in forms] == [
        (str(first), "Le podium", "0.5"), (str(second), "La foule", "0.25")]
    assert Photo.objects.filter(pk__in=[first, second]).count() == 2

    rows[1]["decorative"] = True
    assert save_article(editor_client, rows, title="Cross du club").status_code == 302
    article = Article.objects.get()
    assert [(photo.caption, photo.credit, photo.decorative, photo.alt) for photo in article.gallery] == [
        ("Le podium", "Photo : Sami K.", False, "Trois coureuses"), ("La foule", "", True, "")]
    assert (article.gallery[1].focal_x, article.gallery[1].focal_y) == (0.25, 0.8)
