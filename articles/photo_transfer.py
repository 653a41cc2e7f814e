"""``manage.py transfer_photos --from hostgator --to s3`` (or back): every photo's files and the
default images copied from one store to the other, each verified, the rows untouched (they keep
their names, so switching PHOTO_STORAGE afterwards changes only the base URL).

What a photo's files are: every name it may have (articles/cleanup.every_file_name) that the source
holds, so files made but not recorded yet go too. Each folder is listed once on each side, with
sizes; a file is copied when the destination lacks it or holds another size. Verified on the way:
the bytes read must be as many as the source lists, an original whose name carries its content hash
must hash to it, and the destination's own check (FTP: the size before the rename; S3: Content-MD5)
refuses a damaged body. Idempotent (a second run copies nothing) and resumable (a stopped run
leaves whole files only, and the next one copies what is still missing or different).
"""

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings

from articles.batch_report import FAILED, NOT_TRIED, BatchReport, run_in_hand
from articles.cleanup import every_file_name
from articles.models import Photo
from articles.photo_migration import PIPELINE_NAME
from storage.errors import HOST_WIDE, StoreError
from storage.listings import FolderListings

logger = logging.getLogger(__name__)

COPIED, ALREADY_THERE, MISSING = "copied", "already there", "missing"


@dataclass
class Outcome:
    label: str  # "photo 12" or "default image"
    name: str
    status: str = FAILED
    files: int = 0  # copied (or to copy, in a dry run)
    bytes: int = 0
    detail: str = ""


@dataclass
class TransferReport(BatchReport):
    """Missing files are reported, not failures: no run can copy what the source lacks."""

    @property
    def files(self):
        return sum(outcome.files for outcome in self.outcomes)


class PhotoTransfer:
    def __init__(self, source, destination, dry_run):
        self.source, self.destination, self.dry_run = source, destination, dry_run
        self.there, self.here = FolderListings(source), FolderListings(destination)
        self.host_failure = None

    def copy(self, outcome, names, own_files=False):
        """Copy those of ``names`` that the source holds and the destination lacks (or holds at
        another size). ``outcome.name`` is the one that must be at the source."""
        if self.host_failure is not None:
            outcome.status, outcome.detail = NOT_TRIED, f"not tried: a store failed ({self.host_failure})"
            return outcome
        try:
            self._copy(outcome, names, own_files)
        except HOST_WIDE as error:
            self.host_failure = self.host_failure or error
            outcome.detail = str(error)
        except (StoreError, OSError, ValueError) as error:
            outcome.detail = str(error)
        except Exception as error:  # one odd photo must not stop the others
            logger.exception("%s (%s) could not be copied", outcome.label, outcome.name)
            outcome.detail = f"{type(error).__name__}: {error}"
        return outcome

    def _copy(self, outcome, names, own_files):
        sizes = {name: size for name in names if (size := self.there.size(name)) is not None}
        if outcome.name not in sizes:
            outcome.status, outcome.detail = MISSING, "not on the source store"
            return
        todo = {name: size for name, size in sizes.items() if self.here.size(name) != size}
        outcome.files, outcome.bytes = len(todo), sum(todo.values())
        if todo and not self.dry_run:
            files = {name: self._read(name, size, original=name == outcome.name) for name, size in todo.items()}
            if own_files:
                for name, data in files.items():
                    self.destination.save_own_file(name, data)
            else:
                self.destination.save_many(files)
            for name, size in todo.items():
                self.here.landed(name, size)
        outcome.status = COPIED if todo else ALREADY_THERE

    def _read(self, name, size, original):
        with self.source.open(name) as stored:
            data = stored.read()
        if len(data) != size:
            raise ValueError(f"'{name}': {len(data)} bytes read, the source lists {size}")
        match = PIPELINE_NAME.match(name) if original else None
        if match and hashlib.sha256(data).hexdigest()[:10] != match["hash"]:
            raise ValueError(f"'{name}': its bytes do not hash to its name: damaged on the source store")
        return data


def photos_to_copy():
    """(label, name, every name its files may have) of every photo on the store, oldest first."""
    photos = Photo.objects.filter(on_store=True).exclude(name__contains="://").order_by("uploaded_at", "pk")
    return [(f"photo {pk}", name, every_file_name(name)) for pk, name in photos.values_list("pk", "name")]


def transfer_photos(source, destination, dry_run=False, workers=4, limit=None, progress=None):
    """Copy every photo's files and the default images from ``source`` to ``destination`` (two
    storages); returns a TransferReport. ``workers`` photos at once; ``progress(outcome)``."""
    transfer = PhotoTransfer(source, destination, dry_run)
    report = TransferReport()
    for name in settings.DEFAULT_IMAGE_NAMES:
        outcome = transfer.copy(Outcome("default image", name), [name], own_files=True)
        report.outcomes.append(outcome)
        if progress:
            progress(outcome)
    photos = photos_to_copy()[:limit] if limit else photos_to_copy()
    # At most ``workers`` photos in hand (each holds its files' bytes): a Ctrl-C stops after them.
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="transfer") as executor:
        run_in_hand(executor, ((Outcome(label, name), names) for label, name, names in photos), transfer.copy,
                    max(1, workers), report, progress)
    return report
