"""The site itself: articles through the admin, public pages, production settings (issue 2), and the
pages' galleries (issue 9): figures in the editor's order, the cover first, focal-point crops."""

import os
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, ArticlePhoto, Photo

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_user("editeur", password="pw-for-tests-only", is_staff=True,
                                                 is_superuser=True)


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def make_article(title, **fields):
    fields.setdefault("published", True)
    fields.setdefault("published_at", timezone.now() - timedelta(hours=1))
    return Article.objects.create(title=title, **fields)


def make_photo(name, **fields):
    """A Photo row already on the store, with the files an upload makes first (its files are not
    needed to render a page)."""
    fields.setdefault("width", 1600)
    fields.setdefault("height", 1200)
    if fields["width"] and "://" not in name:
        fields.setdefault("files", {"jpg": [*(w for w in (480, 1024) if w < fields["width"]), fields["width"]]})
    return Photo.objects.create(name=name, **fields)


def place(article, *photos):
    for position, photo in enumerate(photos):
        ArticlePhoto.objects.create(article=article, photo=photo, position=position)


class Page(HTMLParser):
    """What a page shows of its photos: every <img>, the article's <figure>s (link, image, caption
    text), the <meta property> tags and the <script>s."""

    def __init__(self, html):
        super().__init__()
        self.images, self.figures, self.meta, self.scripts = [], [], {}, []
        self._figure = self._caption = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure" and "photo-figure" in attrs.get("class", "").split():
            self._figure = {"class": attrs["class"], "href": None, "img": None, "caption": None}
        elif tag == "a" and self._figure is not None:
            self._figure["href"] = attrs["href"]
        elif tag == "img":
            self.images.append(attrs)
            if self._figure is not None:
                self._figure["img"] = attrs
        elif tag == "figcaption" and self._figure is not None:
            self._caption = []
        elif tag == "meta" and "property" in attrs:
            self.meta[attrs["property"]] = attrs["content"]
        elif tag == "script":
            self.scripts.append(attrs)

    def handle_data(self, data):
        if self._caption is not None:
            self._caption.append(data)

    def handle_endtag(self, tag):
        if tag == "figcaption" and self._caption is not None:
            self._figure["caption"] = "".join(self._caption)
            self._caption = None
        elif tag == "figure" and self._figure is not None:
            self.figures.append(self._figure)
            self._figure = None


@pytest.mark.django_db
def test_editor_creates_and_publishes_an_article_in_the_admin(editor_client, client):
    response = editor_client.post(reverse("admin:articles_article_add"), {
        "title": "Victoire des U15 à Sousse",
        "slug": "",
        "summary": "Belle victoire 3-1.",
        "body": "Les U15 ont gagné.",
        "published": "on",
        "published_at_0": (timezone.localtime() - timedelta(minutes=5)).strftime("%d/%m/%Y"),
        "published_at_1": (timezone.localtime() - timedelta(minutes=5)).strftime("%H:%M:%S"),
        "placements-TOTAL_FORMS": "0", "placements-INITIAL_FORMS": "0",  # the gallery inline, empty
    })
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    article = Article.objects.get()
    assert article.slug == "victoire-des-u15-a-sousse"

    listing = client.get(reverse("articles:list"))
    assert "Victoire des U15 à Sousse" in listing.content.decode()
    detail = client.get(article.get_absolute_url())
    assert detail.status_code == 200
    assert "Les U15 ont gagné." in detail.content.decode()


@pytest.mark.django_db
def test_admin_is_for_staff_only(client, django_user_model):
    assert client.get(reverse("admin:articles_article_changelist")).status_code == 302
    member = django_user_model.objects.create_user("membre", password="pw-for-tests-only")
    client.force_login(member)
    response = client.get(reverse("admin:articles_article_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_admin_list_shows_photo_preview(editor_client):
    make_article("Tournoi régional")
    page = editor_client.get(reverse("admin:articles_article_changelist")).content.decode()
    assert "Tournoi régional" in page
    assert settings.DEFAULT_IMAGE_NAME in page


@pytest.mark.django_db
def test_drafts_and_future_articles_are_hidden_from_the_public(client):
    draft = make_article("Brouillon secret", published=False)
    future = make_article("Annonce à venir", published_at=timezone.now() + timedelta(days=2))
    listing = client.get(reverse("articles:list")).content.decode()
    assert "Brouillon secret" not in listing and "Annonce à venir" not in listing
    assert client.get(draft.get_absolute_url()).status_code == 404
    assert client.get(future.get_absolute_url()).status_code == 404


@pytest.mark.django_db
def test_unknown_page_shows_the_french_404(client):
    response = client.get("/articles/nexiste-pas/")
    assert response.status_code == 404
    assert "Page introuvable" in response.content.decode()


@pytest.mark.django_db
def test_slug_is_unique_when_titles_repeat():
    first = make_article("Assemblée générale")
    second = make_article("Assemblée générale")
    assert first.slug == "assemblee-generale"
    assert second.slug == "assemblee-generale-2"


@pytest.mark.django_db
def test_image_url_falls_back_to_the_default_image():
    article = make_article("Sans photo")
    assert article.image_url == settings.HOSTGATOR_FTP["PUBLIC_URL"] + "default_article.jpg"


def test_image_url_is_the_public_url_of_the_stored_name():
    photo = Photo(name="2026/11/match-été-0123456789.jpg")
    assert photo.url == settings.HOSTGATOR_FTP["PUBLIC_URL"] + "2026/11/match-%C3%A9t%C3%A9-0123456789.jpg"


@pytest.fixture
def final(db):
    """An article of five photos: one still waiting for HostGator, the editor's cover fourth."""
    article = make_article("Finale de la coupe", summary="Les U15 gagnent la coupe.")
    photos = {
        "entry": make_photo("2026/11/finale-entree-0000000001.jpg", caption="L'entrée des joueuses",
                            credit="Photo : Leïla B.", alt_text="Les joueuses entrent sur le terrain"),
        "waiting": make_photo("2026/11/finale-attente-0000000002.jpg", on_store=False, caption="Pas encore là",
                              alt_text="En attente"),
        "crowd": make_photo("2026/11/finale-tribune-0000000003.jpg", credit="Photo : Sami K.", decorative=True,
                            alt_text="Le public"),
        "cup": make_photo("2026/11/finale-coupe-0000000004.jpg", caption="La coupe soulevée",
                          alt_text="La capitaine soulève la coupe", width=2048, height=1365, focal_x=0.3, focal_y=0.72),
        # A legacy photo: a full URL, size unknown, nothing written about it.
        "legacy": make_photo("https://www.cmtch.online/static/article_images/ancienne.jpg", width=None, height=None),
    }
    place(article, *photos.values())
    article.cover = photos["cup"]
    article.save()
    return article, photos


@pytest.mark.django_db
def test_detail_page_shows_the_cover_then_the_gallery_as_figures(client, final):
    article, photos = final
    html = client.get(article.get_absolute_url()).content.decode()
    page = Page(html)
    # The editor's cover first, then the gallery in its order; the cover is not repeated and the
    # photo still waiting for HostGator is nowhere on the page.
    shown = [photos[key] for key in ("cup", "entry", "crowd", "legacy")]
    assert [figure["href"] for figure in page.figures] == [photo.url for photo in shown]
    assert [figure["img"]["src"] for figure in page.figures] == [photo.url for photo in shown]
    assert "finale-attente" not in html and "Pas encore là" not in html
    assert page.figures[0]["class"] == "photo-figure cover"
    # "caption — credit", either one alone, no figcaption for a photo with neither.
    assert [figure["caption"] for figure in page.figures] == [
        "La coupe soulevée", "L'entrée des joueuses — Photo : Leïla B.", "Photo : Sami K.", None]
    cover, entry, crowd, legacy = (figure["img"] for figure in page.figures)
    # Loading: the cover at once and first; every other photo when the reader scrolls to it.
    assert (cover["loading"], cover["fetchpriority"]) == ("eager", "high")
    assert [image["loading"] for image in (entry, crowd, legacy)] == ["lazy"] * 3
    assert all("fetchpriority" not in image for image in (entry, crowd, legacy))
    assert all(image["decoding"] == "async" for image in (cover, entry, crowd, legacy))
    # alt: its own text; nothing for a decorative photo; the article's title when it has none.
    assert [image["alt"] for image in (cover, entry, crowd, legacy)] == [
        "La capitaine soulève la coupe", "Les joueuses entrent sur le terrain", "", "Finale de la coupe"]
    assert page.figures[2]["img"]["alt"] == "" and 'aria-label="Agrandir la photo"' in html
    # Sizes reserve the room; renditions in srcset; a legacy photo: 1200×630 and its one URL.
    assert (cover["width"], cover["height"]) == ("2048", "1365")
    assert (entry["width"], entry["height"]) == ("1600", "1200")
    assert (legacy["width"], legacy["height"]) == ("1200", "630")
    assert cover["srcset"] == photos["cup"].srcset and "480w" in cover["srcset"] and "2048w" in cover["srcset"]
    assert cover["sizes"] == "(max-width: 1024px) calc(100vw - 2rem), 992px"
    assert entry["srcset"] == photos["entry"].srcset
    assert entry["sizes"].startswith("(max-width: 600px) calc(100vw - 2rem)")
    assert "srcset" not in legacy and "sizes" not in legacy
    assert "fx-30 fy-70" in cover["class"].split(" ", 1)[1]
    # Shared on social networks: the cover and its description.
    assert page.meta["og:title"] == "Finale de la coupe"
    assert page.meta["og:image"] == article.image_url == photos["cup"].url
    assert page.meta["og:image:alt"] == "La capitaine soulève la coupe"
    # The lightbox: its (closed) dialog with French texts, its script deferred, nothing inline.
    assert '<dialog class="lightbox"' in html and 'data-counter="Photo {n} sur {m}"' in html
    assert 'aria-label="Photo précédente"' in html and 'aria-label="Photo suivante"' in html
    assert [script for script in page.scripts if script.get("src", "").endswith(".js")] == [
        {"src": "/static/js/gallery.js", "defer": None}]
    assert "style=" not in html


@pytest.mark.django_db
def test_without_a_pick_the_first_photo_on_the_store_is_the_cover(client, final):
    article, photos = final
    article.cover = photos["waiting"]  # picked, but not on the store yet: not shown
    article.save()
    page = Page(client.get(article.get_absolute_url()).content.decode())
    order = ("entry", "crowd", "cup", "legacy")
    assert [figure["href"] for figure in page.figures] == [photos[key].url for key in order]
    assert page.meta["og:image"] == photos["entry"].url


@pytest.mark.django_db
def test_a_decorative_cover_has_no_og_image_alt(client, final):
    article, photos = final
    article.cover = photos["crowd"]
    article.save()
    page = Page(client.get(article.get_absolute_url()).content.decode())
    assert page.figures[0]["img"]["alt"] == ""
    assert page.meta["og:image"] == photos["crowd"].url and "og:image:alt" not in page.meta


@pytest.mark.django_db
def test_an_article_without_photos_shows_the_default_image(client):
    article = make_article("Communiqué du bureau")
    place(article, make_photo("2026/11/communique-0000000009.jpg", on_store=False))  # not there yet
    html = client.get(article.get_absolute_url()).content.decode()
    page = Page(html)
    default_url = settings.HOSTGATOR_FTP["PUBLIC_URL"] + settings.DEFAULT_IMAGE_NAME
    assert page.figures == [] and "<dialog" not in html and "gallery.js" not in html
    [image] = page.images
    assert (image["src"], image["alt"], image["width"], image["height"]) == (
        default_url, "Communiqué du bureau", "1200", "630")
    assert image["class"] == "photo" and image["loading"] == "eager"
    assert page.meta["og:image"] == default_url and page.meta["og:image:alt"] == "Communiqué du bureau"


@pytest.mark.django_db
def test_a_single_photo_is_the_cover_with_no_gallery_below(client):
    article = make_article("Assemblée générale")
    photo = make_photo("2026/11/ag-0000000010.jpg", alt_text="La salle")
    place(article, photo)
    html = client.get(article.get_absolute_url()).content.decode()
    assert [figure["href"] for figure in Page(html).figures] == [photo.url]
    assert 'class="gallery"' not in html and '<dialog class="lightbox"' in html


@pytest.mark.django_db
def test_list_cards_show_the_cover_cropped_around_its_focal_point(client, final):
    article, photos = final
    plain = make_article("Communiqué", published_at=timezone.now() - timedelta(days=1))
    page = Page(client.get(reverse("articles:list")).content.decode())
    card, default_card = page.images
    cup = photos["cup"]
    assert card["src"] == cup.thumbnail_url and card["src"].endswith("-480w.jpg")
    assert card["class"] == "photo fx-30 fy-70" and card["alt"] == "La capitaine soulève la coupe"
    assert card["srcset"] == cup.srcset and (card["width"], card["height"]) == ("2048", "1365")
    assert (card["loading"], card["fetchpriority"]) == ("eager", "high")
    assert (default_card["src"], default_card["class"], default_card["loading"]) == (plain.image_url, "photo", "eager")
    assert "fetchpriority" not in default_card
    css = (ROOT / "static/css/site.css").read_text()
    assert "object-position: var(--fx, 50%) var(--fy, 50%)" in css
    for step in range(0, 101, 5):
        assert f".fx-{step}{{--fx:{step}%}}" in css and f".fy-{step}{{--fy:{step}%}}" in css


def test_focal_classes_round_to_steps_of_five():
    assert Photo(focal_x=0.3, focal_y=0.72).focal_classes == "fx-30 fy-70"
    assert Photo(focal_x=0, focal_y=1).focal_classes == "fx-0 fy-100"


@pytest.mark.django_db
def test_list_page_paginates_newest_first(client):
    now = timezone.now()
    for day in range(15):
        make_article(f"Match {day:02d}", published_at=now - timedelta(days=day + 1))
    first_page = client.get(reverse("articles:list")).content.decode()
    assert first_page.index("Match 00") < first_page.index("Match 01")
    assert "Match 14" not in first_page
    assert "Match 14" in client.get(reverse("articles:list") + "?page=2").content.decode()


@pytest.mark.django_db
def test_public_pages_stay_within_four_queries(client, django_assert_max_num_queries):
    for number in range(20):
        article = make_article(f"Article {number}")
        place(article, *(make_photo(f"2026/11/article-{number}-{index}-0123456789.jpg", alt_text=f"Photo {index}")
                         for index in range(3)))
    with django_assert_max_num_queries(4):
        listing = client.get(reverse("articles:list"))
    assert len(Page(listing.content.decode()).images) == 12
    article = Article.objects.first()
    with django_assert_max_num_queries(4):
        detail = client.get(article.get_absolute_url())
    assert len(Page(detail.content.decode()).figures) == 3


@pytest.mark.django_db
def test_healthz_answers_without_ftp(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def run_manage(*args, **env_overrides):
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DJANGO_", "HOSTGATOR_", "DATABASE_URL"))}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING",
                        DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 20 + "-production-like-key-0123456789-abcdefghij",
                        HOSTGATOR_FTP_PASSWORD="not-a-real-password")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


PRODUCTION_KEY = "x" * 20 + "-production-like-key-0123456789-abcdefghij"


@pytest.mark.parametrize(("variables", "expected"), [
    ({}, "cmtch.E001"),  # no HOSTGATOR_FTP_PASSWORD: photos would go to the embedded server
    ({"HOSTGATOR_FTP_PASSWORD": "not-a-real-password", "HOSTGATOR_FTP_TLS": "off"}, "cmtch.W001"),
    ({"HOSTGATOR_FTP_PASSWORD": "not-a-real-password", "HOSTGATOR_PUBLIC_URL": "http://www.cmtch.online/x/"},
     "cmtch.W002"),
])
def test_check_deploy_refuses_an_unsafe_photo_configuration(variables, expected):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="0",
                        DJANGO_SECRET_KEY=PRODUCTION_KEY, **variables)
    assert result.returncode != 0
    assert expected in result.stderr + result.stdout


def test_start_up_fails_clearly_without_a_secret_key():
    result = run_manage("check", DJANGO_DEBUG="0", HOSTGATOR_FTP_PASSWORD="not-a-real-password")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one clear line, no traceback


def test_render_blueprint_matches_the_procfile_and_keeps_secrets_out():
    import yaml

    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    web = blueprint["services"][0]
    procfile_command = (ROOT / "Procfile").read_text().split("web:", 1)[1].strip()
    assert web["startCommand"] == procfile_command.replace("${PORT:-8000}", "$PORT")
    assert web["plan"] == "free" and web["healthCheckPath"] == "/healthz"
    assert "migrate" in web["buildCommand"] and "collectstatic" in web["buildCommand"]
    variables = {item["key"]: item for item in web["envVars"]}
    assert variables["HOSTGATOR_FTP_PASSWORD"] == {"key": "HOSTGATOR_FTP_PASSWORD", "sync": False}
    assert variables["DJANGO_SECRET_KEY"]["generateValue"] is True
    assert variables["DATABASE_URL"]["fromDatabase"]["name"] == blueprint["databases"][0]["name"]
    assert (ROOT / ".python-version").read_text().strip().startswith("3.11")


@pytest.mark.django_db
def test_the_first_row_of_cards_loads_at_once_and_the_others_when_scrolled_to(client):
    for day in range(5):
        make_article(f"Match {day}", published_at=timezone.now() - timedelta(days=day + 1))
    images = Page(client.get(reverse("articles:list")).content.decode()).images
    assert [image["loading"] for image in images] == ["eager"] * 3 + ["lazy"] * 2  # three cards a row on a desktop
    assert [image.get("fetchpriority") for image in images] == ["high", None, None, None, None]
