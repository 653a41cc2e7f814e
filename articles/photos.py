"""An article's photo on its way to HostGator: kept in the database first, uploaded with its
renditions, then attached; or left waiting when the host does not take it, and pushed later.
No photo is ever lost.

No file travels while a database transaction is open: the admin parks the photo (a PendingUpload
row) in the article's own transaction, the upload runs once it has committed, outside any
transaction and within HOSTGATOR_FTP_TRANSFER_TIMEOUT, and only then a short transaction records
the name -- if the row still exists: removing or replacing the photo meanwhile deletes it. A row
being pushed is *claimed* for a while (``claimed_until``) instead of locked, so no row lock either
is held while the bytes travel; a process killed mid-push leaves it to the next retry.

Views and admin call these functions; the storage API (``default_storage``) does the FTP work.
"""

import logging
import time
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


def park_photo(article, processed, claimed=True):
    """The photo's bytes wait in the database from now on (a PendingUpload row), in the same
    transaction as the article: a rolled-back save keeps nothing, a process killed during the
    upload loses nothing, and removing or replacing the photo meanwhile deletes this row, which
    the upload then needs to be recorded. ``claimed``: this process pushes it right after commit."""
    name = photo_name(article.slug, processed.content_hash, processed.extension, timezone.localdate())
    original = processed.original
    cancel_waiting_photos(article)  # a newer photo replaces one still waiting for the same article
    return PendingUpload.objects.create(article=article, name=name, data=original.data, width=original.width,
                                        height=original.height,
                                        claimed_until=timezone.now() + claim_duration() if claimed else None)


def send_parked_photo(row, renditions=None):
    """Push a photo park_photo() kept, once its transaction has committed (never inside one).
    Returns an Outcome: UPLOADED, or PENDING when the host failed -- it then waits for a retry and
    the article keeps what it showed before. ``renditions``: those already made, if at hand."""
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("send_parked_photo() uploads: call it after the transaction has committed")
    started = time.monotonic()
    error = push_pending(row, renditions)
    if error is not None:
        return Outcome(PENDING, error)
    if time.monotonic() - started < settings.HOSTGATOR_FTP.get("TRANSFER_TIMEOUT", 60) / 4:
        # The host answers well again: a good moment to push the oldest photo that waited (one only,
        # and only when this upload was quick, so that the editor's save stays short).
        retry_pending_uploads(limit=1)
    return Outcome(UPLOADED)


def attach_photo(article, processed):
    """park_photo() then send_parked_photo(), for a committed ``article`` (scripts, tests)."""
    return send_parked_photo(park_photo(article, processed), processed.renditions)


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


def push_pending(row, renditions=None):
    """Upload a parked photo and attach it; returns None, or the error that stopped it (then the
    photo waits for the next run, its claim released). Any error: a photo that cannot be pushed
    for a reason of its own must not block the photos behind it."""
    try:
        if renditions is None:
            renditions = make_renditions(bytes(row.data), settings.PHOTO_RENDITION_WIDTHS)
        upload_photo_files(row.name, bytes(row.data), renditions)
    except Exception as error:
        row.last_error = str(error) if isinstance(error, HostGatorError) else f"{type(error).__name__}: {error}"
        PendingUpload.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1, last_error=row.last_error,
                                                       claimed_until=None)
        if isinstance(error, HostGatorError):
            logger.warning("Photo %s waits (article %s): %s", row.name, row.article_id, error)
        else:
            logger.exception("Photo %s waits (article %s) after an unexpected error", row.name, row.article_id)
        return error
    if record_uploaded_photo(row.article_id, row.name, row.width, row.height, pending_pk=row.pk):
        logger.info("Photo %s on HostGator for article %s", row.name, row.article_id)
    else:
        logger.info("Photo %s was removed or replaced during its upload: not published", row.name)
        delete_photo_when_unused(row.name)
    return None
