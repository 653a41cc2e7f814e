"""The editors' gallery (issue 9): photos sent one per request to the upload endpoint, then placed,
ordered, chosen as cover and removed through the article form's inline (what static/js/admin_gallery.js
posts), against the real FTPS server on loopback and a bucket on moto's S3 server; and the whole
thing in Chromium."""

import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from articles import photos
from articles.forms import checked_photo
from articles.models import Article, ArticlePhoto, Photo
from storage.names import rendition_name
from tests.gallery_forms import article_form, gallery_row
from tests.hostile_images import PHP
from tests.test_browser import CSP_LISTENER, csp_violations, log_in, publish_now
from tests.test_photos import fetch, files_on_server, jpeg_bytes, upload

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD = "admin:articles_photo_upload"
SHOTS = Path("/tmp/admin-shots")  # screenshots of the gallery, to look at
ALT_REQUIRED = "Décrivez la photo pour les lecteurs malvoyants (texte alternatif)"


def send(client, name, data, slug="tournoi-de-printemps"):
    return client.post(reverse(UPLOAD), {"file": upload(name, data), "slug": slug})


def colour(index):
    """A different photo for each index (other bytes, other content hash)."""
    return jpeg_bytes(size=(1200, 900), color=(15 + 19 * index, 200 - 13 * index, 90 + 7 * index))


def add_article(client, title, photo_pks, fields_by_photo=None):
    """The add form posted with a new inline row per photo, in that order (as the cards post it)."""
    rows = [gallery_row(index, photo=Photo.objects.get(pk=pk),
                        **{"alt_text": f"Photo {index}", **(fields_by_photo or {}).get(pk, {})})
            for index, pk in enumerate(photo_pks)]
    return client.post(reverse("admin:articles_article_add"), article_form(title, rows=rows))


def change_gallery(client, article, changes):
    """The change form posted with ``article``'s rows, ``changes`` ({photo pk: {field: value}}) applied."""
    rows = [gallery_row(index, placement, **changes.get(placement.photo_id, {}))
            for index, placement in enumerate(article.placements.select_related("photo"))]
    return client.post(reverse("admin:articles_article_change", args=[article.pk]),
                       article_form(article=article, rows=rows))


def store_files(photo):
    return [photo.name, *(rendition_name(photo.name, width) for width in photo.renditions)]


def uploaded(client, count, start=0):
    answers = [send(client, f"photo-{index}.jpg", colour(index)) for index in range(start, start + count)]
    assert [answer.status_code for answer in answers] == [201] * count
    return [answer.json() for answer in answers]


def test_twelve_photos_sent_one_by_one_then_placed_in_order(editor_client, photo_store):
    sent = uploaded(editor_client, 12)
    assert all(photo["state"] == "uploaded" and photo["thumbnail_url"].startswith(photo_store.public_url)
               for photo in sent)
    assert ArticlePhoto.objects.count() == 0  # in the library, in no gallery until the article is saved
    order = list(reversed(sent))  # the editor put the last one first
    response = add_article(editor_client, "Tournoi de printemps", [photo["id"] for photo in order])
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    article = Article.objects.get()
    assert [placement.photo_id for placement in article.placements.all()] == [photo["id"] for photo in order]
    assert [placement.position for placement in article.placements.all()] == list(range(12))
    on_store = photo_store.files()
    for photo in Photo.objects.all():
        assert photo.on_store and photo.name.startswith(photo.uploaded_at.strftime("%Y/%m/tournoi-de-printemps-"))
        assert len(photo.renditions) == 2  # 480 and 1024 px wide, from a 1200 px photo
        for name in store_files(photo):
            assert name in on_store
            if photo_store.kind == "hostgator":  # readable by Apache; a bucket's objects are by its policy
                assert stat.S_IMODE((photo_store.server.root / name).stat().st_mode) == 0o644
    assert fetch(Photo.objects.first().url) == photo_store.read(Photo.objects.first().name)
    assert len(on_store) == 12 * 3


def test_a_hostile_file_among_good_ones_refuses_only_itself(editor_client, photo_store):
    truncated = colour(5)[:2000]
    answers = {name: send(editor_client, name, data) for name, data in [
        ("bonne-1.jpg", colour(1)), ("shell.jpg", PHP), ("coupee.jpg", truncated), ("bonne-2.jpg", colour(2))]}
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "bonne-1.jpg": 201, "shell.jpg": 400, "coupee.jpg": 400, "bonne-2.jpg": 201}
    assert "contient du code caché" in answers["shell.jpg"].json()["error"]
    assert "abîmée ou incomplète" in answers["coupee.jpg"].json()["error"]
    assert "id" not in answers["shell.jpg"].json()
    assert Photo.objects.count() == 2
    assert len(photo_store.files()) == 2 * 3


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
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(django_user_model.objects.create_superuser("editeur", "e@example.org", "pw-tests-only"))
    assert send(strict, "a.jpg", colour(1)).status_code == 403
    assert Photo.objects.count() == 0 and "STOR" not in hostgator.verbs()
    # The token the gallery sends (the form's, in the X-CSRFToken header) is accepted.
    strict.get(reverse("admin:articles_article_add"))
    answer = strict.post(reverse(UPLOAD), {"file": upload("a.jpg", colour(1))},
                         headers={"X-CSRFToken": strict.cookies[settings.CSRF_COOKIE_NAME].value})
    assert answer.status_code == 201


def test_the_same_file_twice_is_one_photo(editor_client, photo_store):
    first, second = (send(editor_client, name, colour(3)) for name in ("match.jpg", "match (copie).jpg"))
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"] and Photo.objects.count() == 1
    assert len(photo_store.files()) == 3


def test_search_finds_library_photos_by_words_and_month(editor_client, hostgator):
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


def test_reorder_cover_and_removal_through_the_inline(editor_client, photo_store):
    a, b, c, d = (photo["id"] for photo in uploaded(editor_client, 4))
    assert add_article(editor_client, "Tournoi de printemps", [a, b, c, d]).status_code == 302
    article = Article.objects.get()
    # b is in a second article too: removing it from the first must keep its files.
    add_article(editor_client, "Revue de presse", [b])
    other = Article.objects.get(title="Revue de presse")
    files_of = {pk: store_files(Photo.objects.get(pk=pk)) for pk in (a, b, c, d)}

    # New order d, a, b (c removed), cover a: what the cards post.
    response = change_gallery(editor_client, article, {d: {"position": 0}, a: {"position": 1, "is_cover": "on"},
                                                       b: {"position": 2}, c: {"position": 3, "DELETE": "on"}})
    assert response.status_code == 302
    article = Article.objects.get(pk=article.pk)
    assert [placement.photo_id for placement in article.placements.all()] == [d, a, b]
    assert article.cover_id == a and article.cover_photo.pk == a
    assert not Photo.objects.filter(pk=c).exists()
    on_store = photo_store.files()
    assert not set(files_of[c]) & set(on_store)  # gone once the save committed

    # Now b out of this article: the other one still shows it.
    assert change_gallery(editor_client, article, {b: {"DELETE": "on"}}).status_code == 302
    assert [placement.photo_id for placement in Article.objects.get(pk=article.pk).placements.all()] == [d, a]
    assert list(other.placements.values_list("photo_id", flat=True)) == [b]
    assert set(files_of[b]) <= set(photo_store.files())


def test_alt_text_required_unless_decorative(editor_client, hostgator):
    first, second = (photo["id"] for photo in uploaded(editor_client, 2))
    described = {first: {"caption": "Le podium", "credit": "Photo : Sami K.", "alt_text": "Trois coureuses"},
                 second: {"caption": "La foule", "alt_text": "", "focal_x": 0.25, "focal_y": 0.8}}
    response = add_article(editor_client, "Cross du club", [first, second], described)
    assert response.status_code == 200
    page = response.content.decode()
    assert ALT_REQUIRED in page.replace("&#x27;", "'")
    assert Article.objects.count() == 0 and ArticlePhoto.objects.count() == 0
    # Nothing the editor typed is lost: the rows come back with their photos and fields.
    forms = response.context["inline_admin_formsets"][0].formset.forms
    assert [(form["photo"].value(), form["caption"].value(), form["focal_x"].value()) for form in forms] == [
        (str(first), "Le podium", "0.5"), (str(second), "La foule", "0.25")]
    assert Photo.objects.filter(pk__in=[first, second]).count() == 2

    described[second]["decorative"] = "on"
    assert add_article(editor_client, "Cross du club", [first, second], described).status_code == 302
    article = Article.objects.get()
    assert [(photo.caption, photo.credit, photo.decorative, photo.alt) for photo in article.gallery] == [
        ("Le podium", "Photo : Sami K.", False, "Trois coureuses"), ("La foule", "", True, "")]
    assert (article.gallery[1].focal_x, article.gallery[1].focal_y) == (0.25, 0.8)


# Records, in the page, every card that showed a progress bar and the most requests in flight at once.
WATCH_UPLOADS = """() => {
    const seen = window.galleryWatch = {progress: [], inFlight: 0};
    new MutationObserver(() => {
        for (const card of document.querySelectorAll('.gallery-card')) {
            const name = card.querySelector('.gallery-name').textContent;
            if (card.querySelector('progress') && !seen.progress.includes(name)) seen.progress.push(name);
        }
        const sending = [...document.querySelectorAll('.gallery-card.is-uploading .gallery-note')]
            .filter(note => note.textContent !== 'En attente…').length;
        seen.inFlight = Math.max(seen.inFlight, sending);
    }).observe(document.querySelector('.gallery-cards'), {subtree: true, childList: true, characterData: true});
}"""

THUMBNAILS_LOADED = """count => {
    const images = [...document.querySelectorAll('.gallery-card.has-row:not([hidden]) img.gallery-thumb')];
    return images.length === count && images.every(image => image.complete && image.naturalWidth > 0);
}"""


@pytest.mark.browser
def test_an_editor_builds_a_gallery_in_chromium(browser_page, live_server, photo_store, django_user_model,
                                                tmp_path):
    """On both stores: the cards' thumbnails come from the store's public URL, which the policy allows."""
    django_user_model.objects.create_superuser("editeur", "e@example.org", "mot-de-passe-de-test-42")
    archive, _ = photos.store_photo(checked_photo(upload("archive.jpg", colour(9))), "archives",
                                    caption="Finale 2025", credit="Photo : Leïla B.", alt_text="La finale 2025")
    names = [f"photo-{index}.jpg" for index in range(1, 7)]
    for index, name in enumerate(names, start=1):
        (tmp_path / name).write_bytes(colour(index))
    page, errors = browser_page, []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(CSP_LISTENER)

    def card(name):
        return page.locator(".gallery-card", has=page.locator(".gallery-name", has_text=name))

    def field(name, field_name):
        return card(name).locator(f"[name$='-{field_name}']")

    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/articles/article/add/")
    page.fill("#id_title", "Tournoi de printemps")
    # The script's cards replace the table and the one-photo fieldset of the no-JavaScript form.
    assert page.locator("fieldset.photo-add").is_hidden() and page.locator("#placements-group table").is_hidden()
    page.evaluate(WATCH_UPLOADS)
    page.set_input_files("#gallery-files", [str(tmp_path / name) for name in names])
    page.wait_for_function(THUMBNAILS_LOADED, arg=6)
    page.wait_for_function("() => document.querySelector('.gallery-count').textContent === '6 sur 6 envoyées'")
    watched = page.evaluate("() => window.galleryWatch")
    assert sorted(watched["progress"]) == names and watched["inFlight"] == 2  # each its own request, 2 at once
    assert page.locator(".gallery-card progress").count() == 0
    assert page.locator("#id_placements-TOTAL_FORMS").input_value() == "6"

    field("photo-3.jpg", "caption").fill("Le départ du 10 km")
    field("photo-3.jpg", "credit").fill("Photo : Sami K.")
    for index, name in enumerate(names[:5], start=1):
        field(name, "alt_text").fill(f"Coureurs, photo {index}")
    field("photo-6.jpg", "decorative").check()
    assert card("photo-6.jpg").locator(".gallery-alt").is_hidden()

    # photo-5 dragged in front of photo-1, then photo-2 moved up from the keyboard.
    first = card("photo-1.jpg")
    first_box = first.bounding_box()
    card("photo-5.jpg").locator(".gallery-card-head").drag_to(
        first, target_position={"x": 8, "y": first_box["height"] - 30})  # its lower left, in view
    field("photo-2.jpg", "caption").focus()
    page.keyboard.press("Alt+ArrowUp")
    assert page.locator(".gallery .visually-hidden[aria-live]").text_content() == "« photo-2.jpg » : position 2 sur 6."
    order = ["photo-5.jpg", "photo-2.jpg", "photo-1.jpg", "photo-3.jpg", "photo-4.jpg", "photo-6.jpg"]
    assert page.locator(".gallery-card .gallery-name").all_text_contents() == order
    assert [field(name, "position").input_value() for name in order] == [str(place) for place in range(6)]
    card("photo-4.jpg").get_by_role("button", name="Descendre").click()
    card("photo-4.jpg").get_by_role("button", name="Monter").click()  # and back

    thumbnail = card("photo-3.jpg").locator("img.gallery-thumb")
    page.wait_for_function("img => img.complete", arg=thumbnail.element_handle())
    assert thumbnail.evaluate("img => img.naturalWidth") > 0
    assert thumbnail.evaluate("img => img.currentSrc").startswith(photo_store.public_url)
    box = thumbnail.bounding_box()
    thumbnail.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.75})
    focal = float(field("photo-3.jpg", "focal_x").input_value()), float(field("photo-3.jpg", "focal_y").input_value())
    assert focal == pytest.approx((0.25, 0.75), abs=0.011)
    marker = card("photo-3.jpg").locator(".gallery-focal").bounding_box()
    assert marker["x"] + marker["width"] / 2 == pytest.approx(box["x"] + box["width"] * 0.25, abs=2)

    field("photo-4.jpg", "is_cover").check()
    field("photo-5.jpg", "is_cover").check()  # one cover: photo-4 is no longer
    assert not field("photo-4.jpg", "is_cover").is_checked()
    assert card("photo-5.jpg").locator(".gallery-cover-badge").is_visible()
    page.locator(".gallery").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "gallery-6-cards.png"))
    page.screenshot(path=str(SHOTS / "gallery-form-full.png"), full_page=True)

    # The library: the six just sent are in this gallery already; the archive can be added.
    page.get_by_role("button", name="Choisir dans la photothèque").click()
    dialog = page.locator("dialog.gallery-library")
    dialog.locator(".gallery-library-pick").nth(6).wait_for()
    assert dialog.locator(".gallery-library-pick:disabled").count() == 6
    page.fill("#gallery-library-mois", archive.uploaded_at.strftime("%Y-%m"))
    page.wait_for_function("() => document.querySelector('.gallery-library-state').textContent === '7 photos'")
    page.screenshot(path=str(SHOTS / "library.png"))
    page.fill("#gallery-library-q", "Leïla")
    page.wait_for_function("() => document.querySelectorAll('.gallery-library-pick').length === 1")
    dialog.locator(".gallery-library-pick").click()
    dialog.get_by_role("button", name="Fermer").click()
    added = card("Finale 2025")
    assert added.locator("[name$='-alt_text']").input_value() == "La finale 2025"
    assert added.locator("[name$='-position']").input_value() == "6"
    page.wait_for_function(THUMBNAILS_LOADED, arg=7)
    added.get_by_role("button", name="Retirer de l'article").click()  # not saved yet: simply emptied
    assert added.is_hidden() and added.locator("[name$='-photo']").input_value() == ""

    publish_now(page)
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    article = Article.objects.get()
    alt_of = {name: f"Coureurs, photo {index}" for index, name in enumerate(names[:5], start=1)}
    assert [photo.alt or "décorative" for photo in article.gallery] == [alt_of.get(name, "décorative")
                                                                        for name in order]
    third = article.gallery[order.index("photo-3.jpg")]
    assert (third.caption, third.credit) == ("Le départ du 10 km", "Photo : Sami K.")
    assert (third.focal_x, third.focal_y) == pytest.approx(focal)
    assert article.cover_photo == article.gallery[0] and article.cover_id == article.gallery[0].pk
    assert not archive.placements.exists() and Photo.objects.filter(pk=archive.pk).exists()

    # The change form shows the saved gallery as cards, in its order.
    page.goto(f"{live_server.url}{reverse('admin:articles_article_change', args=[article.pk])}")
    page.wait_for_function(THUMBNAILS_LOADED, arg=6)
    saved_names = page.locator(".gallery-card .gallery-name").all_text_contents()
    assert saved_names[order.index("photo-3.jpg")] == "Le départ du 10 km" and len(saved_names) == 6
    assert page.locator(".gallery-card.is-cover").count() == 1

    # Readers: six figures in the editor's order (the cover, first here, leads), the caption and credit.
    page.goto(f"{live_server.url}{article.get_absolute_url()}")
    figures = page.locator("article figure:has(img.photo)")  # not the lightbox's
    assert figures.count() == 6
    sources = figures.locator("img").evaluate_all("images => images.map(image => image.getAttribute('src'))")
    assert [next(i for i, photo in enumerate(article.gallery) if photo.name[:-4] in src) for src in sources] == [
        0, 1, 2, 3, 4, 5]
    assert figures.nth(order.index("photo-3.jpg")).locator("figcaption").text_content().split() == \
        "Le départ du 10 km — Photo : Sami K.".split()
    assert csp_violations(page) == [] and errors == []


@pytest.mark.browser
def test_refused_waiting_and_undescribed_photos_in_chromium(browser_page, live_server, hostgator,
                                                            django_user_model, tmp_path):
    django_user_model.objects.create_superuser("editeur", "e@example.org", "mot-de-passe-de-test-42")
    for name, data in [("bonne.jpg", colour(1)), ("shell.jpg", PHP), ("coupee.jpg", colour(2)[:2000]),
                       ("attente.jpg", colour(3))]:
        (tmp_path / name).write_bytes(data)
    page, errors = browser_page, []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(CSP_LISTENER)
    count = page.locator(".gallery-count")

    def card(name):
        return page.locator(".gallery-card", has=page.locator(".gallery-name", has_text=name))

    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/articles/article/add/")
    page.fill("#id_title", "Cross du club")
    page.set_input_files("#gallery-files", [str(tmp_path / name) for name in ("bonne.jpg", "shell.jpg", "coupee.jpg")])
    page.wait_for_function("() => document.querySelector('.gallery-count').textContent === "
                           "'1 sur 3 envoyée · 2 refusées'")
    assert "contient du code caché" in card("shell.jpg").get_by_role("alert").text_content()
    assert "abîmée ou incomplète" in card("coupee.jpg").get_by_role("alert").text_content()
    page.locator(".gallery").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "refused.png"))
    card("coupee.jpg").get_by_role("button", name="Réessayer").click()  # refused again, for the same reason
    card("coupee.jpg").get_by_role("alert").wait_for()
    assert count.text_content() == "1 sur 3 envoyée · 2 refusées"
    for name in ("shell.jpg", "coupee.jpg"):
        card(name).get_by_role("button", name="Ne pas l'ajouter").click()
    assert count.text_content() == "1 sur 1 envoyée" and page.locator(".gallery-card").count() == 1

    hostgator.stop()  # the photo waits in the database; the card says so, with no thumbnail yet
    page.set_input_files("#gallery-files", str(tmp_path / "attente.jpg"))
    waiting = card("attente.jpg").locator(".gallery-waiting")
    waiting.wait_for()
    assert "ne répond pas" in waiting.text_content() and "gardée en lieu sûr" in waiting.text_content()
    assert card("attente.jpg").locator("img").count() == 0 and count.text_content() == "2 sur 2 envoyées"

    # Saved with no alt text: the French error on each card, nothing lost.
    card("bonne.jpg").locator("[name$='-caption']").fill("L'arrivée")
    publish_now(page)
    page.click("input[name=_save]")
    page.locator(".errornote").first.wait_for()
    assert Article.objects.count() == 0
    page.wait_for_function(THUMBNAILS_LOADED, arg=1)
    cards = page.locator(".gallery-card")
    assert cards.count() == 2 and cards.locator(".errorlist", has_text=ALT_REQUIRED).count() == 2
    assert cards.nth(0).locator("[name$='-caption']").input_value() == "L'arrivée"
    assert "en attente d'envoi" in cards.nth(1).locator(".gallery-waiting").text_content()
    cards.nth(0).scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "alt-missing.png"))
    cards.nth(0).locator("[name$='-alt_text']").fill("Une coureuse franchit la ligne")
    cards.nth(1).locator("[name$='-decorative']").check()
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    article = Article.objects.get()
    assert article.placements.count() == 2
    assert [(photo.caption, photo.alt) for photo in article.gallery] == [
        ("L'arrivée", "Une coureuse franchit la ligne")]

    # The waiting photo taken out of the saved article: greyed until the save, and it can be put back.
    page.goto(f"{live_server.url}{reverse('admin:articles_article_change', args=[article.pk])}")
    waiting_card = page.locator(".gallery-card").nth(1)
    waiting_card.get_by_role("button", name="Retirer de l'article").click()
    delete = waiting_card.locator("[name$='-DELETE']")
    assert "is-removed" in waiting_card.get_attribute("class") and delete.is_checked()
    waiting_card.get_by_role("button", name="Remettre dans l'article").click()
    assert not delete.is_checked()
    waiting_card.get_by_role("button", name="Retirer de l'article").click()
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert article.placements.count() == 1 and Photo.objects.count() == 1  # the waiting one is forgotten
    assert csp_violations(page) == [] and errors == []
