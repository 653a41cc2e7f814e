"""The files a photo on the store still lacks -- widths of the ladder, AVIF, WebP -- made from its
original and put beside it, then written in its row (Photo.files), which is what pages list.

One path for every caller: the web process right after an upload (articles/rendition_queue.py,
with the original still in memory) and ``manage.py regenerate_renditions`` (which downloads the
original once). The files go up first and the row says so after: a page never names a file that is
not there, and a run stopped in between only leaves files that the next run writes again (their
names derive from the photo's, so the same bytes land at the same names: idempotent).
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from articles.cleanup import delete_photo_files
from articles.models import Photo
from articles.photo_processing import BulkPhotoWork
from storage.renditions import files_wanted

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completion:
    photo_pk: int
    made: int  # files uploaded
    bytes: int  # their size in all


def files_missing(photo):
    """{(extension, width)} the photo should have on the store and Photo.files does not list.
    Nothing for a photo whose width is unknown (a legacy file the pipeline never saw), nor for one
    named by a URL (not ours), nor for one still waiting for the store."""
    if not photo.width or not photo.on_store or "://" in photo.name:
        return set()
    wanted = files_wanted(photo.width, photo.extension, settings.PHOTO_RENDITION_WIDTHS,
                          settings.PHOTO_MODERN_FORMATS)
    have = {(extension, width) for extension, widths in photo.files.items() for width in widths}
    return wanted - have


def complete_photo(photo, original=None, dry_run=False, work=None):
    """Make, upload and record what ``photo`` lacks. ``original``: its bytes, when the caller has
    them (else they are downloaded from the store, once). ``work``: the BulkPhotoWork that makes
    the files (default: this thread, one photo's pixels at a time per process, as for uploads).
    Returns a Completion (made=0: nothing was missing). Raises the storage's errors (StoreError)
    and ImageRejected for an unreadable original; nothing is recorded then."""
    missing = files_missing(photo)
    if not missing or dry_run:
        return Completion(photo.pk, len(missing), 0)
    if original is None:
        with default_storage.open(photo.name) as stored:
            original = stored.read()
    files = (work or BulkPhotoWork(workers=1, processes=0)).make_files(original, missing)
    default_storage.save_many({photo.file_name(extension, width): rendition.data
                               for (extension, width), rendition in files.items()})
    if not record_files(photo.pk, files):
        delete_photo_files(photo.name)  # removed meanwhile: what was just sent goes too
    return Completion(photo.pk, len(files), sum(len(rendition.data) for rendition in files.values()))


def record_files(photo_pk, made):
    """Add ``made`` ({(extension, width): ...}) to the photo's Photo.files, in a short transaction
    (another run may have added others meanwhile). False if the photo is gone."""
    with transaction.atomic():
        photo = Photo.objects.select_for_update().filter(pk=photo_pk).first()
        if photo is None:
            return False
        files = {extension: set(widths) for extension, widths in photo.files.items()}
        for extension, width in made:
            files.setdefault(extension, set()).add(width)
        photo.files = {extension: sorted(widths) for extension, widths in sorted(files.items())}
        photo.save(update_fields=["files"])
    return True
