"""A photo on its way to the photo store (PHOTO_STORAGE: HostGator or S3): kept in the database
first (a Photo not yet on the store and its PendingUpload), uploaded with its renditions, then
marked on the store, which shows it on its articles' pages; or left waiting when the store does
not take it, and pushed later. No photo is ever lost, and the same bytes sent twice are one photo.

No file travels while a database transaction is open: a photo is parked in a transaction (the
article's own, from the article form; a short one of its own, from the upload view), the upload
runs once it has committed, outside any transaction and within HOSTGATOR_FTP_TRANSFER_TIMEOUT, and
only then a short transaction records it -- if its PendingUpload still exists: removing the photo
meanwhile deletes it. A row being pushed is *claimed* for a while (``claimed_until``) instead of
locked, so no row lock either is held while the bytes travel; a process killed mid-push leaves it
to the next retry.

Views and admin call these functions; the storage API (``default_storage``) does the store's work.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from articles.cleanup import delete_photo_files
from articles.models import ArticlePhoto, PendingUpload, Photo, extension_of
from articles.rendition_queue import make_the_other_files
from storage.errors import HOST_WIDE, StoreError, StoreFull
from storage.images import make_renditions, photo_name
from storage.names import rendition_name

logger = logging.getLogger(__name__)


UPLOADED = "uploaded"
PENDING = "pending"


@dataclass(frozen=True)
class Outcome:
    state: str  # UPLOADED or PENDING
    error: StoreError | None = None

    @property
    def host_full(self):
        return isinstance(self.error, StoreFull)


def photo_files(name, original, renditions):
    """{remote name: bytes} for a photo and its renditions (``renditions``: {width: Rendition})."""
    files = {name: original}
    files.update({rendition_name(name, width): rendition.data for width, rendition in renditions.items()})
    return files


def files_record(name, width, renditions):
    """What Photo.files says once photo_files() are on the store: {own extension: [widths]}."""
    return {extension_of(name): sorted({*renditions, width})}


def placeholder_fields(processed):
    placeholder = processed.placeholder
    return {"colour": placeholder.colour, "placeholder": placeholder.image} if placeholder else {}


def upload_photo_files(name, original, renditions):
    # Names carry the content hash, so writing the same name again writes the same bytes: the same
    # photo uploaded twice is stored once, and a half-finished earlier attempt is simply completed.
    default_storage.save_many(photo_files(name, original, renditions))


def park_photo(processed, slug, uploaded_by=None, claimed=True, **details):
    """The Photo for these bytes: the existing one if they were sent before (its PendingUpload, if
    it still waits, or None), else a new Photo not yet on the store whose bytes wait in the
    database from now on (a PendingUpload), in the caller's transaction: a rolled-back save keeps
    nothing, and a process killed during the upload loses nothing. Returns (photo, row to push or
    None). ``claimed``: this process pushes it right after commit. ``details``: caption, credit..."""
    original = processed.original
    existing = Photo.objects.filter(content_hash=processed.content_hash).first()
    if existing is not None:
        if existing.on_store or PendingUpload.objects.filter(photo=existing).exists():
            return existing, None
        # Its waiting bytes were deleted (« Photos en attente »): these bytes take their place.
        return existing, wait_for_store(existing, original, claimed)
    name = photo_name(slug, processed.content_hash, processed.extension, timezone.localdate())
    try:
        with transaction.atomic():  # a savepoint: the same bytes may arrive twice at once
            photo = Photo.objects.create(name=name, width=original.width, height=original.height,
                                         content_hash=processed.content_hash, on_store=False,
                                         uploaded_by=uploaded_by, **placeholder_fields(processed), **details)
            row = wait_for_store(photo, original, claimed)
    except IntegrityError:
        return Photo.objects.get(content_hash=processed.content_hash), None
    return photo, row


def wait_for_store(photo, original, claimed):
    """The PendingUpload that keeps ``original`` (a Rendition) in the database for ``photo``."""
    return PendingUpload.objects.create(photo=photo, name=photo.name, data=original.data, width=original.width,
                                        height=original.height,
                                        claimed_until=timezone.now() + claim_duration() if claimed else None)


def place_photo(article, photo):
    """Put ``photo`` last in ``article``'s gallery (where it is already, if it is there)."""
    last = article.placements.aggregate(last=Max("position"))["last"]
    placement, _ = ArticlePhoto.objects.get_or_create(article=article, photo=photo,
                                                      defaults={"position": 0 if last is None else last + 1})
    return placement


def send_parked_photo(row, renditions=None):
    """Push a photo park_photo() kept, once its transaction has committed (never inside one).
    Returns an Outcome: UPLOADED, or PENDING when the host failed -- it then waits for a retry and
    the pages show the article's other photos meanwhile. ``renditions``: those already made."""
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


def store_photo(processed, slug, uploaded_by=None, **details):
    """park_photo() in a transaction of its own, then send_parked_photo(): the upload view's path,
    and scripts'. Returns (photo, Outcome); a photo sent before is not sent again."""
    with transaction.atomic():
        photo, row = park_photo(processed, slug, uploaded_by, **details)
    if row is None:
        return photo, Outcome(UPLOADED if photo.on_store else PENDING)
    outcome = send_parked_photo(row, processed.renditions)
    photo.refresh_from_db()
    return photo, outcome


def attach_photo(article, processed):
    """store_photo() then place_photo() at the end of a committed ``article``'s gallery (scripts, tests)."""
    photo, outcome = store_photo(processed, article.slug)
    place_photo(article, photo)
    return outcome


def record_uploaded_photo(pending_pk, files):
    """The short transaction after an upload: the photo is on the store with ``files`` (what
    Photo.files says), shown on its articles' pages, and its bytes leave the database. Only while
    its PendingUpload still exists (the photo may have been removed during the upload): False if
    nothing was recorded."""
    row = None
    try:
        with transaction.atomic():
            row = PendingUpload.objects.select_for_update().filter(pk=pending_pk).first()
            if row is None:
                return False
            Photo.objects.filter(pk=row.photo_id).update(on_store=True, files=files)
            row.delete()
    except DatabaseError:
        if row is not None:
            # The files are on the host but no row says so: take them away again, then say it.
            delete_photo_files(row.name)
        raise
    return True


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
    """Push parked photos, oldest first, and show them on their articles' pages. Safe to run
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
    original = bytes(row.data)
    try:
        if renditions is None:
            renditions = make_renditions(original, settings.PHOTO_WIDTHS_AT_UPLOAD)
        upload_photo_files(row.name, original, renditions)
    except Exception as error:
        row.last_error = str(error) if isinstance(error, StoreError) else f"{type(error).__name__}: {error}"
        PendingUpload.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1, last_error=row.last_error,
                                                       claimed_until=None)
        if isinstance(error, StoreError):
            logger.warning("Photo %s waits: %s", row.name, error)
        else:
            logger.exception("Photo %s waits after an unexpected error", row.name)
        return error
    if record_uploaded_photo(row.pk, files_record(row.name, row.width, renditions)):
        logger.info("Photo %s on %s", row.name, default_storage.short)
        make_the_other_files(row.photo_id, original)
    else:
        logger.info("Photo %s was removed during its upload: not published", row.name)
        delete_photo_files(row.name)
    return None
