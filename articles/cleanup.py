"""Delete a photo from the photo store once no article uses it any more.

Like django-cleanup, deletion waits for the transaction to commit (a rolled-back save keeps its
photo). Unlike it, we know renditions, and we check first: a photo can be in several articles'
galleries, and the default images are never deleted. A photo taken out of its last gallery is
forgotten altogether (its row, a PendingUpload still waiting, its files); a photo uploaded but not
placed in any gallery yet stays in the library.
"""

import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from articles.models import ArticlePhoto, Photo
from storage.errors import StoreError
from storage.names import rendition_name

logger = logging.getLogger(__name__)

WIDTHS_EVER_MADE = (480, 1024)  # the copies of the first site (migration 0007)


def is_deletable(name):
    # Legacy rows may hold full URLs of files we do not own; default images stay forever.
    return bool(name) and "://" not in name and name not in settings.DEFAULT_IMAGE_NAMES


def forget_photo_if_unused(photo_pk):
    """After commit: the photo's row and files go if no gallery holds it any more."""
    with transaction.atomic():
        photo = Photo.objects.select_for_update().filter(pk=photo_pk).first()
        if photo is None or ArticlePhoto.objects.filter(photo_id=photo_pk).exists():
            return
        name = photo.name
        photo.delete()  # and its PendingUpload: a removed photo never comes back from the queue
    delete_photo_files(name)


def every_file_name(name):
    """Every name a photo's files may have: each width the site makes or ever made, in each format,
    and the full size in the modern formats. Derived from the name, not read from the row: files
    made but not recorded yet (a run stopped in between) go too."""
    widths = sorted({*settings.PHOTO_RENDITION_WIDTHS, *settings.PHOTO_WIDTHS_AT_UPLOAD, *WIDTHS_EVER_MADE})
    extensions = [None, *settings.PHOTO_MODERN_FORMATS]
    return [name, *(rendition_name(name, extension=extension) for extension in extensions[1:]),
            *(rendition_name(name, width, extension) for extension in extensions for width in widths)]


def delete_photo_files(name):
    """The file ``name`` and its renditions off the store, unless a Photo names it (or it is not ours)."""
    names = every_file_name(name)
    if not is_deletable(name) or Photo.objects.filter(name__in=names).exists():
        return
    try:
        default_storage.delete_many(names)
    except StoreError as error:
        # An orphan file on the store costs a few KB; failing the editor's save would cost more.
        logger.warning("Old photo %s not deleted from %s: %s", name, default_storage.short, error)


@receiver(post_delete, sender=ArticlePhoto)
def forget_photo_taken_out(sender, instance, **kwargs):
    # Also sent for each placement of a deleted article (Django collects them for this signal).
    # robust: the save has committed; a failure here must not turn it into an error page.
    photo_pk = instance.photo_id
    transaction.on_commit(lambda: forget_photo_if_unused(photo_pk), robust=True)
