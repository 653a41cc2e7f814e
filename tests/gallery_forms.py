"""What the article form posts, as a browser without JavaScript would: the article's fields, the
gallery's inline rows (prefix ``placements``) and, optionally, one new photo."""

from datetime import timedelta

from django.utils import timezone

from articles.forms import PHOTO_FIELDS
from articles.models import Article, ArticlePhoto, Photo

PREFIX = "placements"


def gallery_row(index, placement=None, photo=None, position=None, alt_text="Une photo du match", **fields):
    """One inline row: an existing ``placement``, or a new one for ``photo``."""
    photo = photo or placement.photo
    row = {
        "id": placement.pk if placement else "",
        "photo": photo.pk,
        "position": index if position is None else position,
        "caption": photo.caption,
        "credit": photo.credit,
        "alt_text": photo.alt_text or alt_text,
        "focal_x": photo.focal_x,
        "focal_y": photo.focal_y,
    }
    if placement:
        row["article"] = placement.article_id
    if photo.decorative:
        row["decorative"] = "on"
    row.update(fields)
    posted = {f"{PREFIX}-{index}-{key}": value for key, value in row.items() if value is not False}
    if placement:  # what the page showed, sent back hidden (show_hidden_initial): only changes are written
        posted.update({f"initial-{PREFIX}-{index}-{name}": getattr(photo, name) for name in PHOTO_FIELDS})
    return posted


def article_form(title="Victoire des seniors", article=None, rows=None, **extra):
    """The whole form: ``rows`` are gallery_row() dicts (default: every placement of ``article`` as it is)."""
    when = timezone.localtime() - timedelta(minutes=5)
    data = {"title": title if article is None else article.title, "slug": "" if article is None else article.slug,
            "summary": "Résumé", "body": "Texte", "published": "on",
            "published_at_0": when.strftime("%d/%m/%Y"), "published_at_1": when.strftime("%H:%M:%S")}
    if "photo" in extra:
        extra.setdefault("photo_alt_text", "L'équipe")
    existing = list(article.placements.select_related("photo")) if article else []
    if rows is None:
        rows = [gallery_row(index, placement) for index, placement in enumerate(existing)]
    data.update({f"{PREFIX}-TOTAL_FORMS": len(rows), f"{PREFIX}-INITIAL_FORMS": len(existing),
                 f"{PREFIX}-MIN_NUM_FORMS": 0, f"{PREFIX}-MAX_NUM_FORMS": 1000})
    for row in rows:
        data.update(row)
    data.update(extra)
    return data


def article_with_photo(title, name, width=None, height=None, on_store=True, **fields):
    """An article showing the photo ``name`` (made if new), as the data migration leaves old ones."""
    fields.setdefault("published", True)
    fields.setdefault("published_at", timezone.now() - timedelta(hours=1))
    article = Article.objects.create(title=title, **fields)
    photo, _ = Photo.objects.get_or_create(name=name, defaults={"width": width, "height": height,
                                                                "on_store": on_store})
    ArticlePhoto.objects.create(article=article, photo=photo, position=0)
    return article


def shown_photo(article):
    """The cover the article's pages show now (fresh from the database), or None."""
    return Article.objects.with_gallery().get(pk=article.pk).cover_photo
