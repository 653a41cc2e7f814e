"""Every article's single photo becomes the first photo of its gallery, and its cover.

- Article.image (a name on the store, or a legacy absolute URL or path) becomes a Photo with the
  article's width, height and alt text; articles naming the same file share one Photo.
- A photo still waiting for HostGator (PendingUpload) becomes a Photo not yet on the store, put
  first and chosen as cover: when it arrives it replaces the old photo on the pages, as it would
  have before; until then the page shows the old one (the first photo on the store). The old photo
  stays in the gallery, second, for the editor to keep or remove.

Empty alt texts become the article's title, which the pages used in their place.

Backwards: each article's cover (or first photo on the store) becomes Article.image again, with its
alt text; a waiting photo goes back to the first article that shows it.
"""

import re

from django.db import migrations

PIPELINE_NAME = re.compile(r"^\d{4}/\d{2}/[a-z0-9-]+-(?P<hash>[0-9a-f]{10})\.(jpg|png|webp|gif)$")


def photo_for(Photo, name, width, height, alt_text, on_store, uploaded_at):
    photo = Photo.objects.filter(name=name).first()
    if photo is not None:
        return photo
    match = PIPELINE_NAME.match(name)
    content_hash = match["hash"] if match else ""
    if content_hash and Photo.objects.filter(content_hash=content_hash).exists():
        content_hash = ""  # the same bytes under two names: the first keeps the hash
    return Photo.objects.create(name=name, width=width, height=height, alt_text=alt_text,
                                content_hash=content_hash, on_store=on_store, uploaded_at=uploaded_at)


def to_gallery(apps, schema_editor):
    Article = apps.get_model("articles", "Article")
    ArticlePhoto = apps.get_model("articles", "ArticlePhoto")
    PendingUpload = apps.get_model("articles", "PendingUpload")
    Photo = apps.get_model("articles", "Photo")
    for article in Article.objects.exclude(image="").order_by("pk"):
        # The pages used the title when the alt text was empty; the photo keeps saying the same.
        alt_text = article.image_alt or article.title
        photo = photo_for(Photo, article.image.name, article.image_width, article.image_height, alt_text, True,
                          article.published_at)  # the library's search by month finds it there
        ArticlePhoto.objects.create(article=article, photo=photo, position=1)
        Article.objects.filter(pk=article.pk).update(cover=photo)
    for pending in PendingUpload.objects.select_related("article").order_by("created_at", "pk"):
        photo = photo_for(Photo, pending.name, pending.width, pending.height,
                          pending.article.image_alt or pending.article.title, False, pending.created_at)
        ArticlePhoto.objects.get_or_create(article=pending.article, photo=photo, defaults={"position": 0})
        Article.objects.filter(pk=pending.article_id).update(cover=photo)
        if photo.on_store or PendingUpload.objects.filter(photo=photo).exists():
            # These very bytes are on the store already (this article's photo, or another's), or
            # another row waits with them: placed and chosen above, nothing more waits.
            pending.delete()
            continue
        pending.photo = photo
        pending.save(update_fields=["photo"])


def to_single_photo(apps, schema_editor):
    Article = apps.get_model("articles", "Article")
    ArticlePhoto = apps.get_model("articles", "ArticlePhoto")
    PendingUpload = apps.get_model("articles", "PendingUpload")
    for article in Article.objects.all():
        placements = list(ArticlePhoto.objects.filter(article=article, photo__on_store=True)
                          .select_related("photo").order_by("position", "pk"))
        shown = next((p.photo for p in placements if p.photo_id == article.cover_id), None)
        shown = shown or (placements[0].photo if placements else None)
        if shown is not None:
            Article.objects.filter(pk=article.pk).update(
                image=shown.name, image_width=shown.width, image_height=shown.height, image_alt=shown.alt_text)
        elif article.cover_id is not None:  # only a photo still waiting: keep what it says
            Article.objects.filter(pk=article.pk).update(image_alt=article.cover.alt_text)
    for pending in PendingUpload.objects.order_by("created_at", "pk"):
        # The article it was meant for: the one whose cover it is, else where it comes first.
        placements = ArticlePhoto.objects.filter(photo_id=pending.photo_id).select_related("article")
        placement = min(placements, key=lambda p: (p.article.cover_id != p.photo_id, p.position, p.pk), default=None)
        if placement is None:  # a photo in the library only: the single-photo schema cannot hold it
            pending.delete()
            continue
        pending.article_id = placement.article_id
        pending.save(update_fields=["article"])


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0004_gallery"),
    ]

    operations = [
        migrations.RunPython(to_gallery, to_single_photo),
    ]
