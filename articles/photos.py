"""An article's photo on its way to HostGator: upload it with its renditions, or park it in the
database when the host does not answer, and push what was parked later. No photo is ever lost.

Views and admin call these functions; the storage API (``default_storage``) does the FTP work.
"""

import logging
import threading
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from articles.models import PendingUpload
from storage.errors import HostGatorError, HostGatorLoginError, HostGatorTLSError, HostGatorUnavailable
from storage.images import make_renditions, photo_name, process_photo
from storage.names import rendition_name
from storage.photo_budget import DecodeSlots, PhotoBudget

logger = logging.getLogger(__name__)

HOST_DOWN = (HostGatorUnavailable, HostGatorLoginError, HostGatorTLSError)

UPLOADED = "uploaded"
PENDING = "pending"


_decode_slots = {}
_decode_slots_lock = threading.Lock()


def decode_slots(count):
    """One per process (and count): every request thread and migration worker waits on the same.
    Under a lock: two requests arriving together at a fresh worker must not get one each."""
    with _decode_slots_lock:
        if count not in _decode_slots:
            _decode_slots[count] = DecodeSlots(count)
        return _decode_slots[count]


def photo_budget():
    return PhotoBudget(caps=dict(settings.PHOTO_MAX_PIXELS_BY_FORMAT),
                       slots=decode_slots(settings.PHOTO_DECODES_AT_ONCE),
                       wait_seconds=settings.PHOTO_DECODE_WAIT_SECONDS)


def process_upload(data, filename, wait_as_long_as_it_takes=False):
    """storage.images.process_photo with the site's limits. An editor's request waits a bounded time
    for its turn to be decoded; a batch (the migration) passes ``wait_as_long_as_it_takes``."""
    budget = photo_budget()
    if wait_as_long_as_it_takes:
        budget = replace(budget, wait_seconds=None)
    return process_photo(data, filename=filename, max_bytes=settings.PHOTO_MAX_BYTES,
                         max_pixels=settings.PHOTO_MAX_PIXELS, max_side=settings.PHOTO_MAX_SIDE,
                         rendition_widths=settings.PHOTO_RENDITION_WIDTHS, budget=budget)


def photo_files(name, original, renditions):
    """{remote name: bytes} for a photo and its renditions (``renditions``: {width: Rendition})."""
    files = {name: original}
    files.update({rendition_name(name, width): rendition.data for width, rendition in renditions.items()})
    return files


def upload_photo_files(name, original, renditions):
    # Names carry the content hash, so writing the same name again writes the same bytes: the same
    # photo uploaded twice is stored once, and a half-finished earlier attempt is simply completed.
    default_storage.save_many(photo_files(name, original, renditions))


def attach_photo(article, processed):
    """Upload ``processed`` (a storage.images.ProcessedPhoto) for a saved ``article``.

    Returns UPLOADED, or PENDING when HostGator failed: the photo then waits in a PendingUpload
    row and the article keeps its previous photo (or the default image) meanwhile.
    """
    name = photo_name(article.slug, processed.content_hash, processed.extension, timezone.localdate())
    original = processed.original
    try:
        upload_photo_files(name, original.data, processed.renditions)
    except HostGatorError as error:
        logger.warning("Photo of article %s parked, HostGator failed: %s", article.pk, error)
        # A newer photo replaces one that was still waiting for the same article.
        PendingUpload.objects.filter(article=article).delete()
        PendingUpload.objects.create(article=article, name=name, data=original.data, width=original.width,
                                     height=original.height, attempts=1, last_error=str(error))
        return PENDING
    set_article_photo(article, name, original.width, original.height)
    PendingUpload.objects.filter(article=article).delete()
    # The host answers again: a good moment to push what waited (after this save is committed).
    transaction.on_commit(lambda: retry_pending_uploads(limit=5))
    return UPLOADED


def set_article_photo(article, name, width, height):
    article.image = name
    article.image_width, article.image_height = width, height
    article.save(update_fields=["image", "image_width", "image_height", "updated_at"])


@dataclass
class RetryReport:
    pushed: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    not_tried: int = 0  # left waiting because the host itself was down

    @property
    def ok(self):
        return not self.failed


def retry_pending_uploads(limit=None):
    """Push parked photos and attach them to their articles. Safe to run concurrently: each row
    is locked while it is pushed (PostgreSQL; SQLite serialises writers anyway) and rows another
    run holds are skipped. Running it again after a complete run changes nothing."""
    report = RetryReport()
    waiting = PendingUpload.objects.order_by("created_at", "id").values_list("pk", flat=True)
    for pk in list(waiting[:limit] if limit else waiting):
        with transaction.atomic():
            row = (PendingUpload.objects.select_for_update(skip_locked=True, of=("self",))
                   .select_related("article").filter(pk=pk).first())
            if row is None:  # pushed meanwhile by another run, or its article was deleted
                continue
            error = push_pending(row)
            if error is None:
                report.pushed.append(row.name)
                continue
            report.failed.append((row.name, row.last_error))
        if isinstance(error, HOST_DOWN):
            # Every other photo would wait out the same retries: leave them for the next run.
            report.not_tried = PendingUpload.objects.count() - len(report.failed)
            break
    return report


def push_pending(row):
    """Upload a parked photo and attach it; returns None, or the HostGatorError that stopped it."""
    try:
        renditions = make_renditions(bytes(row.data), settings.PHOTO_RENDITION_WIDTHS)
        upload_photo_files(row.name, bytes(row.data), renditions)
    except HostGatorError as error:
        row.attempts += 1
        row.last_error = str(error)
        row.save(update_fields=["attempts", "last_error"])
        logger.warning("Pending photo %s still waiting: %s", row.name, error)
        return error
    set_article_photo(row.article, row.name, row.width, row.height)
    row.delete()
    logger.info("Pending photo %s pushed to HostGator for article %s", row.name, row.article_id)
    return None
