"""The data migration from one photo per article to galleries (0004-0006), forwards and back, on a
data set of mixed legacy rows like the migration command's: names of our pipeline, plain names of
files already in the folder, old relative paths, absolute URLs of the old sites, no photo at all,
one file shared by two articles, the same bytes under two names, and photos still waiting."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from articles.models import Article

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("articles", "0003_pending_upload_claim")]
AFTER = [("articles", "0007_photo_files")]  # the latest: the pages below use the models as they are

LEGACY = [  # slug, Article.image, width, height, alt
    ("pipeline", "2026/11/pipeline-0123456789.jpg", 1600, 1200, "Les U15"),
    ("plain", "club.jpg", None, None, ""),
    ("relative", "articles/équipe été.jpg", None, None, "L'équipe"),
    ("old-render", "https://cmtch.onrender.com/media/articles/render-1.jpg", None, None, ""),
    ("club-url", "https://www.cmtch.online/static/article_images/f%C3%AAte.jpg", None, None, ""),
    ("no-photo", "", None, None, ""),
    ("shared-a", "2026/10/partage-aaaaaaaaaa.jpg", 800, 600, "Partagée"),
    ("shared-b", "2026/10/partage-aaaaaaaaaa.jpg", 800, 600, "Partagée aussi"),
    ("same-bytes", "2026/10/autre-nom-aaaaaaaaaa.jpg", 800, 600, ""),
    ("waiting-over-photo", "2026/09/ancienne-bbbbbbbbbb.jpg", 1024, 768, "Ancienne"),
    ("waiting-alone", "", None, None, "Nouvelle"),
]
SHARED_ALT = "Partagée"
WAITING = {"waiting-over-photo": "2026/12/nouvelle-cccccccccc.jpg", "waiting-alone": "2026/12/seule-dddddddddd.jpg"}


def migrate_to(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.fixture
def old_apps():
    apps = migrate_to(BEFORE)
    yield apps
    migrate_to(executor_leaf())


def executor_leaf():
    return MigrationExecutor(connection).loader.graph.leaf_nodes("articles")


def fill_legacy(apps):
    OldArticle = apps.get_model("articles", "Article")
    OldPending = apps.get_model("articles", "PendingUpload")
    when = timezone.now() - timedelta(days=1)
    for slug, image, width, height, alt in LEGACY:
        article = OldArticle.objects.create(title=slug.replace("-", " ").title(), slug=slug, image=image,
                                            image_width=width, image_height=height, image_alt=alt,
                                            published=True, published_at=when)
        if slug in WAITING:
            OldPending.objects.create(article=article, name=WAITING[slug], data=b"bytes", width=640, height=480)
    # A retry of the photo the article already shows: nothing really waits.
    OldPending.objects.create(article=OldArticle.objects.get(slug="pipeline"), name=LEGACY[0][1], data=b"x",
                              width=1, height=1)


def test_every_article_keeps_what_its_pages_showed_and_going_back_restores_the_rows(old_apps, client):
    fill_legacy(old_apps)
    old_rows = sorted(old_apps.get_model("articles", "Article").objects.values_list(
        "slug", "image", "image_width", "image_height", "image_alt"))

    new_apps = migrate_to(AFTER)
    Photo = new_apps.get_model("articles", "Photo")
    PendingUpload = new_apps.get_model("articles", "PendingUpload")
    articles = {article.slug: article for article in Article.objects.with_gallery()}
    for slug, image, width, height, alt in LEGACY:
        article = articles[slug]
        if not image:
            assert article.cover_photo is None and article.image_url == default_storage.url("default_article.jpg")
            continue
        cover = article.cover_photo  # what the pages show: the old photo, at its old URL
        assert (cover.name, cover.width, cover.height) == (image, width, height), slug
        # The pages used the title when alt was empty. One file is one photo with one alt text: the
        # second article sharing a file reads the first one's (the only change a reader can meet).
        assert cover.alt_text == (SHARED_ALT if slug == "shared-b" else alt or article.title)
        assert article.image_url == default_storage.url(image)
        page = client.get(article.get_absolute_url()).content.decode()
        assert f'src="{default_storage.url(image)}"' in page, slug
    assert articles["shared-a"].cover_photo.pk == articles["shared-b"].cover_photo.pk  # one file, one photo
    same_bytes = Photo.objects.get(name="2026/10/autre-nom-aaaaaaaaaa.jpg")
    assert same_bytes.content_hash == ""  # the hash is unique: the first name keeps it
    assert Photo.objects.get(name="2026/10/partage-aaaaaaaaaa.jpg").content_hash == "aaaaaaaaaa"

    # Waiting photos wait per photo now, first in their gallery and chosen as cover once they arrive.
    waiting = {row.photo.name: row for row in PendingUpload.objects.select_related("photo")}
    assert sorted(waiting) == sorted(WAITING.values())
    over = articles["waiting-over-photo"]
    assert [placement.photo.name for placement in over.placements.order_by("position")] == [
        WAITING["waiting-over-photo"], "2026/09/ancienne-bbbbbbbbbb.jpg"]
    assert over.cover.name == WAITING["waiting-over-photo"] and not over.cover.on_store
    assert articles["waiting-alone"].cover_photo is None
    assert Photo.objects.get(name=LEGACY[0][1]).on_store  # the retry of a shown photo was dropped

    old_apps_again = migrate_to(BEFORE)
    OldArticle = old_apps_again.get_model("articles", "Article")
    back = sorted(OldArticle.objects.values_list("slug", "image", "image_width", "image_height", "image_alt"))
    expected = [(slug, image, width, height,
                 SHARED_ALT if slug == "shared-b" else alt or (slug.replace("-", " ").title() if image else ""))
                for slug, image, width, height, alt in old_rows]
    assert back == expected
    OldPending = old_apps_again.get_model("articles", "PendingUpload")
    assert sorted(OldPending.objects.values_list("article__slug", "name")) == sorted(WAITING.items())


def test_odd_waiting_rows_keep_their_photo_and_go_back_to_their_article(old_apps):
    OldArticle = old_apps.get_model("articles", "Article")
    OldPending = old_apps.get_model("articles", "PendingUpload")
    when = timezone.now() - timedelta(days=1)

    def article(slug, image="", waiting=None):
        made = OldArticle.objects.create(title=slug, slug=slug, image=image, image_width=800 if image else None,
                                         image_height=600 if image else None, published=True, published_at=when)
        if waiting:
            OldPending.objects.create(article=made, name=waiting, data=b"bytes", width=640, height=480)
        return made

    article("shown", image="2026/11/match-aaaaaaaaaa.jpg")
    article("same-name", waiting="2026/11/match-aaaaaaaaaa.jpg")  # its waiting file is another's, on the store
    article("twice-a", waiting="2026/11/double-bbbbbbbbbb.jpg")  # two rows waiting with one name
    article("twice-b", waiting="2026/11/double-bbbbbbbbbb.jpg")
    migrate_to(AFTER)
    articles = {article.slug: article for article in Article.objects.with_gallery()}
    assert articles["same-name"].cover_photo.name == "2026/11/match-aaaaaaaaaa.jpg"
    assert articles["twice-a"].cover.name == articles["twice-b"].cover.name == "2026/11/double-bbbbbbbbbb.jpg"
    back = migrate_to(BEFORE)
    assert sorted(back.get_model("articles", "PendingUpload").objects.values_list("article__slug", "name")) == [
        ("twice-a", "2026/11/double-bbbbbbbbbb.jpg")]
    assert back.get_model("articles", "Article").objects.get(slug="same-name").image == "2026/11/match-aaaaaaaaaa.jpg"
