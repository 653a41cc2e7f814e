"""The site itself: articles through the admin, public pages, production settings (issue 2)."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from articles.models import Article

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


@pytest.mark.django_db
def test_editor_creates_and_publishes_an_article_in_the_admin(editor_client, client):
    response = editor_client.post(reverse("admin:articles_article_add"), {
        "title": "Victoire des U15 à Sousse",
        "slug": "",
        "summary": "Belle victoire 3-1.",
        "body": "Les U15 ont gagné.",
        "image_alt": "",
        "published": "on",
        "published_at_0": (timezone.localtime() - timedelta(minutes=5)).strftime("%d/%m/%Y"),
        "published_at_1": (timezone.localtime() - timedelta(minutes=5)).strftime("%H:%M:%S"),
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


def test_image_url_falls_back_to_the_default_image():
    article = Article(title="Sans photo")
    assert article.image_url == settings.HOSTGATOR_FTP["PUBLIC_URL"] + "default_article.jpg"


def test_image_url_is_the_public_url_of_the_stored_name():
    article = Article(title="Avec photo", image="2026/11/match-été-0123456789.jpg")
    assert article.image_url == settings.HOSTGATOR_FTP["PUBLIC_URL"] + "2026/11/match-%C3%A9t%C3%A9-0123456789.jpg"


@pytest.mark.django_db
def test_pages_show_photo_and_og_tags(client):
    with_photo = make_article("Finale", image="2026/11/finale-abcdef0123.jpg", image_alt="La finale")
    without_photo = make_article("Communiqué")
    detail = client.get(with_photo.get_absolute_url()).content.decode()
    assert f'<meta property="og:image" content="{with_photo.image_url}">' in detail
    assert '<meta property="og:title" content="Finale">' in detail
    listing = client.get(reverse("articles:list")).content.decode()
    assert with_photo.image_url in listing
    assert without_photo.image_url in listing


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
        make_article(f"Article {number}", image=f"2026/11/article-{number}-0123456789.jpg")
    with django_assert_max_num_queries(4):
        assert client.get(reverse("articles:list")).status_code == 200
    article = Article.objects.first()
    with django_assert_max_num_queries(4):
        assert client.get(article.get_absolute_url()).status_code == 200


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
