"""An article's photo on its way to HostGator: upload it with its renditions, or park it in the
database when the host does not take it, and push what was parked later. No photo is ever lost.

No file travels while a database transaction is open: the admin hands the photo over once the
article is committed (``transaction.on_commit``), the upload runs with no transaction (bounded by
HOSTGATOR_FTP_TRANSFER_TIMEOUT), and only then a short transaction records the name, or parks
the photo. A parked photo being pushed is *claimed* for a while (``claimed_until``) instead of
locked, so no row lock either is held while it travels.

Views and admin call these functions; the storage API (``default_storage``) does the FTP work.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from articles.cleanup import delete_photo_files, delete_photo_when_unused
from articles.models import Article, PendingUpload
from storage.errors import (
    HostGatorError,
    HostGatorFull,
    HostGatorLoginError,
    HostGatorTLSError,
    HostGatorUnavailable,
)
from storage.images import make_renditions, photo_name
from storage.names import rendition_name

logger = logging.getLogger(__name__)

# Failures every other waiting photo would meet too: a run stops at the first one.
HOST_WIDE = (HostGatorUnavailable, HostGatorLoginError, HostGatorTLSError, HostGatorFull)

UPLOADED = "uploaded"
PENDING = "pending"


@dataclass(frozen=True)
class Outcome:
    state: str  # UPLOADED or PENDING
    error: HostGatorError | None = None

    @property
    def host_full(self):
        return isinstance(self.error, HostGatorFull)


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
    """Upload ``processed`` (a storage.images.ProcessedPhoto) for a committed ``article``, outside
    any transaction. Returns an Outcome: UPLOADED, or PENDING when HostGator failed -- the photo
    then waits in a PendingUpload row and the article keeps what it showed before."""
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("attach_photo() uploads: call it after the transaction has committed")
    name = photo_name(article.slug, processed.content_hash, processed.extension, timezone.localdate())
    original = processed.original
    try:
        upload_photo_files(name, original.data, processed.renditions)
    except HostGatorError as error:
        logger.warning("Photo of article %s parked, HostGator failed: %s", article.pk, error)
        with transaction.atomic():
            # A newer photo replaces one that was still waiting for the same article.
            PendingUpload.objects.filter(article=article).delete()
            PendingUpload.objects.create(article=article, name=name, data=original.data, width=original.width,
                                         height=original.height, attempts=1, last_error=str(error))
        return Outcome(PENDING, error)
    if record_uploaded_photo(article.pk, name, original.width, original.height):
        # The host answers again: a good moment to push the oldest photo that waited (one only,
        # so that this editor's save stays short). Whatever happens there is not this save's failure.
        try:
            retry_pending_uploads(limit=1)
        except Exception:
            logger.exception("Pushing a waiting photo after article %s's upload failed", article.pk)
    else:
        delete_photo_files(name)  # the article went away during the upload: nobody will show it
    return Outcome(UPLOADED)


def record_uploaded_photo(article_pk, name, width, height, pending_pk=None):
    """The short transaction after an upload: the article shows ``name``, and nothing that waited
    for it comes back later. With ``pending_pk``, only while that parked photo still waits (the
    editor may have removed or replaced it during the upload). False if nothing was recorded."""
    try:
        with transaction.atomic():
            if pending_pk is not None and not PendingUpload.objects.select_for_update().filter(pk=pending_pk).exists():
                return False
            article = Article.objects.select_for_update().filter(pk=article_pk).first()
            if article is None:
                return False
            article.image = name
            article.image_width, article.image_height = width, height
            article.save(update_fields=["image", "image_width", "image_height", "updated_at"])
            superseded = PendingUpload.objects.filter(article_id=article_pk)
            if pending_pk is not None:  # a photo parked after this one is newer: it still waits
                superseded = superseded.filter(pk__lte=pending_pk)
            superseded.delete()
    except DatabaseError:
        # The files are on the host but no row names them: take them away again, then say it.
        delete_photo_files(name)
        raise
    return True


def cancel_waiting_photos(article):
    """The editor removed the photo or chose another: what still waits must never be published."""
    PendingUpload.objects.filter(article=article).delete()


@dataclass
class RetryReport:
    pushed: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    not_tried: int = 0  # left waiting because the host itself was down

    @property
    def ok(self):
        return not self.failed


def claim_duration():
    # Long enough for one push (renditions + upload within the transfer deadline), short enough
    # that a run killed mid-push (SIGKILL, a restarted Render instance) leaves the photo to the next.
    return timedelta(seconds=settings.HOSTGATOR_FTP.get("TRANSFER_TIMEOUT", 60) * 2 + 60)


def claim(pk):
    """The parked photo ``pk`` for this run alone for a while, or None if another run has it (or
    it was pushed, removed or replaced meanwhile). One atomic UPDATE: no lock is kept."""
    now = timezone.now()
    claimed = (PendingUpload.objects.filter(pk=pk).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
               .update(claimed_until=now + claim_duration()))
    return PendingUpload.objects.filter(pk=pk).first() if claimed else None


def retry_pending_uploads(limit=None):
    """Push parked photos, oldest first, and attach them to their articles. Safe to run
    concurrently (each photo is claimed by one run) and again (a complete run leaves nothing)."""
    report = RetryReport()
    waiting = PendingUpload.objects.order_by("created_at", "id").values_list("pk", flat=True)
    for pk in list(waiting[:limit] if limit else waiting):
        row = claim(pk)
        if row is None:
            continue
        error = push_pending(row)
        if error is None:
            report.pushed.append(row.name)
            continue
        report.failed.append((row.name, row.last_error))
        if isinstance(error, HOST_WIDE):
            # Every other photo would wait out the same failure: leave them for the next run.
            report.not_tried = PendingUpload.objects.count() - len(report.failed)
            break
    return report


def push_pending(row):
    """Upload a parked photo and attach it; returns None, or the HostGatorError that stopped it."""
    try:
        renditions = make_renditions(bytes(row.data), settings.PHOTO_RENDITION_WIDTHS)
        upload_photo_files(row.name, bytes(row.data), renditions)
    except HostGatorError as error:
        row.last_error = str(error)
        PendingUpload.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1, last_error=row.last_error,
                                                       claimed_until=None)
        logger.warning("Pending photo %s still waiting: %s", row.name, error)
        return error
    if record_uploaded_photo(row.article_id, row.name, row.width, row.height, pending_pk=row.pk):
        logger.info("Pending photo %s pushed to HostGator for article %s", row.name, row.article_id)
    else:
        logger.info("Pending photo %s was removed or replaced during its upload: not published", row.name)
        delete_photo_when_unused(row.name)
    return None
