"""``manage.py regenerate_renditions``: every photo on the store gets the files it lacks (new
widths of the ladder, AVIF, WebP), made from its original downloaded once, uploaded, then written
in its row (articles/photo_renditions.py). Pages use each new file from the moment its row says so.

Idempotent and resumable: Photo.files says what each photo has, each photo is recorded as soon as
its files are up, so a second run (or the run after a Ctrl-C, a SIGKILL or a failure) does only
what is left. A failure of the host itself stops the run: the photos not tried wait for the next.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connections

from articles.batch_report import FAILED, NOT_TRIED, BatchReport, run_in_hand
from articles.models import Photo
from articles.photo_processing import BulkPhotoWork
from articles.photo_renditions import complete_photo, files_missing
from storage.errors import HOST_WIDE, StoreError
from storage.images import ImageRejected

logger = logging.getLogger(__name__)

DONE = "done"


@dataclass
class Outcome:
    photo_id: int
    name: str
    status: str = FAILED
    missing: int = 0  # files it lacked
    made: int = 0
    bytes: int = 0
    detail: str = ""


@dataclass
class RegenerationReport(BatchReport):
    complete_already: int = 0  # photos that lacked nothing

    @property
    def files(self):
        return sum(outcome.made for outcome in self.outcomes)


def photos_lacking_files():
    """(photo, files it lacks) of every photo that lacks some, oldest first."""
    photos = (Photo.objects.filter(on_store=True, width__isnull=False).exclude(name__contains="://")
              .order_by("uploaded_at", "pk"))
    for photo in photos.iterator():
        missing = files_missing(photo)
        yield photo, missing


def regenerate_renditions(dry_run=False, workers=2, limit=None, progress=None, processes=None):
    """Complete every photo (``limit``: at most that many of those that lack something). Returns a
    RegenerationReport; ``progress(outcome)`` is called as each photo ends. ``workers`` photos at
    once (threads: download, upload), their pixels in ``processes`` processes (BulkPhotoWork)."""
    report = RegenerationReport()
    todo = []
    for photo, missing in photos_lacking_files():
        if not missing:
            report.complete_already += 1
        elif limit is None or len(todo) < limit:
            todo.append((photo, len(missing)))
    stop = []  # the host's own failure, once met: the photos after it are not tried

    def one(photo, missing):
        outcome = Outcome(photo.pk, photo.name, missing=missing)
        if stop:
            outcome.status, outcome.detail = NOT_TRIED, f"not tried: the host failed ({stop[0]})"
            return outcome
        try:
            done = complete_photo(photo, dry_run=dry_run, work=work)
            outcome.status, outcome.made, outcome.bytes = DONE, 0 if dry_run else done.made, done.bytes
        except HOST_WIDE as error:
            stop.append(error)
            outcome.detail = str(error)
        except (StoreError, ImageRejected, OSError) as error:
            outcome.detail = getattr(error, "message", None) or str(error)
        except Exception as error:  # one odd photo must not stop the others
            logger.exception("Photo %s: its renditions could not be made", photo.name)
            outcome.detail = f"{type(error).__name__}: {error}"
        finally:
            connections.close_all()  # this worker thread's own connection
        return outcome

    # At most ``workers`` photos in hand at once (each may hold its original and its pixels): the
    # next is taken only as one ends, so a Ctrl-C stops after the photos in hand, each recorded.
    with BulkPhotoWork(workers, processes) as work, \
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="regenerate") as executor:
        try:
            run_in_hand(executor, todo, one, workers, report, progress)
        except KeyboardInterrupt:
            stop.append("interrupted")
            raise
    report.outcomes.sort(key=lambda outcome: outcome.photo_id)
    return report
