"""Delete an article's old photo from HostGator once nobody needs it.

Like django-cleanup, deletion waits for the transaction to commit (a rolled-back save keeps its
photo). Unlike it, we know renditions, and we check other rows first: content-hash names let two
articles share one file, and the default images are never deleted.
"""

import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete, post_init, post_save
from django.dispatch import receiver

from articles.models import Article, PendingUpload
from storage.errors import HostGatorError
from storage.names import rendition_name

logger = logging.getLogger(__name__)

def is_deletable(name):
    # Legacy rows may hold full URLs of files we do not own; default images stay forever.
    return bool(name) and "://" not in name and name not in settings.DEFAULT_IMAGE_NAMES


def delete_photo_when_unused(name):
    if is_deletable(name):
        transaction.on_commit(lambda: delete_photo_files(name))


def delete_photo_files(name):
    if Article.objects.filter(image=name).exists() or PendingUpload.objects.filter(name=name).exists():
        return
    names = [name, *(rendition_name(name, width) for width in settings.PHOTO_RENDITION_WIDTHS)]
    try:
        default_storage.delete_many(names)
    except HostGatorError as error:
        # An orphan file on the host costs a few KB; failing the editor's save would cost more.
        logger.warning("Old photo %s not deleted from HostGator: %s", name, error)


@receiver(post_init, sender=Article)
def remember_loaded_photo(sender, instance, **kwargs):
    instance._photo_name_at_load = instance.image.name or ""


@receiver(post_save, sender=Article)
def delete_replaced_photo(sender, instance, **kwargs):
    previous = instance._photo_name_at_load
    instance._photo_name_at_load = instance.image.name or ""
    if previous != instance._photo_name_at_load:
        delete_photo_when_unused(previous)


@receiver(post_delete, sender=Article)
def delete_photo_of_deleted_article(sender, instance, **kwargs):
    delete_photo_when_unused(instance.image.name or "")
