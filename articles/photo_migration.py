"""Moving the photos of the old site to the photo store the pages show (``migrate_images_to_hostgator``):
HostGator, or the bucket when PHOTO_STORAGE=s3.

Order per photo (a Photo row; the data migration 0005 made one per old Article.image): find the
file, normalise it like a new upload, upload it with its renditions (each checked by the transport
before it takes its name), and only then change the row. Interrupted anywhere, nothing is lost and
a re-run resumes: names carry a content hash, so an upload repeated after a crash writes the same
file, and the same photo met twice becomes one Photo (the second merged into the first).
Store work runs in worker threads; database writes stay in the calling thread.
"""

import logging
import posixpath
import re
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.db import transaction
from django.utils import timezone

from articles.models import Article, ArticlePhoto, Photo
from articles.photo_processing import BulkPhotoWork
from articles.photos import files_record, photo_files, placeholder_fields
from storage.errors import HOST_WIDE, StoreError
from storage.images import ImageRejected, photo_name
from storage.listings import FolderListings
from storage.stores import open_store, store_class

logger = logging.getLogger(__name__)

# What our own pipeline names a photo: YYYY/MM/<slug>-<10 hex>.<ext>
PIPELINE_NAME = re.compile(r"^\d{4}/\d{2}/[a-z0-9-]+-(?P<hash>[0-9a-f]{10})\.(jpg|png|webp|gif)$")
# Hosts whose /static/article_images/ URLs point into the photo folder on HostGator.
CLUB_HOSTS = {"www.cmtch.online", "cmtch.online"}
FOLDER_IN_URL = "/static/article_images/"
# Failures that say the host, not one photo, is the problem: the photos left are not even tried.

MIGRATED, ALREADY_THERE, NORMALISED, MISSING, FAILED = "migrated", "already there", "normalised", "missing", "failed"


@dataclass
class Outcome:
    photo_id: int
    status: str
    old: str
    new: str = ""
    width: int | None = None
    height: int | None = None
    detail: str = ""
    fields: dict = field(default_factory=dict)  # Photo.files and the placeholder, once migrated


@dataclass
class MigrationReport:
    outcomes: list = field(default_factory=list)

    def of(self, status):
        return [outcome for outcome in self.outcomes if outcome.status == status]

    def counts(self):
        return {status: len(self.of(status)) for status in (MIGRATED, ALREADY_THERE, NORMALISED, MISSING, FAILED)}

    @property
    def ok(self):
        return not self.of(FAILED)


def default_sources():
    return [Path(settings.BASE_DIR) / "media", Path(settings.BASE_DIR) / "static" / "article_images"]


def name_on_hostgator(value):
    """The photo-folder name a club URL (or HostGator's PUBLIC_URL) points to, or None."""
    parts = urlsplit(value)
    if parts.scheme in {"http", "https"} and parts.hostname in CLUB_HOSTS and FOLDER_IN_URL in parts.path:
        return canonical(unquote(parts.path.split(FOLDER_IN_URL, 1)[1]))
    return name_under(value, settings.HOSTGATOR_FTP["PUBLIC_URL"])


def name_under(value, public_url):
    """The name a URL under a store's public URL points to, or None (for a name that is not written
    the one way the store has it: 'a/../b.jpg' would be stored as it is, and cleaned up as 'b.jpg')."""
    if public_url and value.startswith(public_url):
        return canonical(unquote(urlsplit(value[len(public_url):]).path))
    return None


def canonical(name):
    return name if name and posixpath.normpath(name) == name and not name.startswith("/") else None


def candidate_paths(value, sources):
    """Local files that may hold the photo a row names: the name itself under each source, the
    part after a media/static folder for old URLs, and the bare file name."""
    path = unquote(urlsplit(value).path) if "://" in value else value
    relatives = [path.lstrip("/")]
    for marker in ("/media/", "/static/article_images/", "article_images/"):
        if marker in "/" + path:
            relatives.append(("/" + path).split(marker, 1)[1])
    relatives.append(Path(path).name)
    for source in sources:
        for relative in dict.fromkeys(relatives):
            if relative and ".." not in Path(relative).parts:
                yield Path(source) / relative


def find_local_file(value, sources):
    return next((path for path in candidate_paths(value, sources) if path.is_file()), None)


class PhotoNames:
    """One name per photo content: rows whose files hold the same photo (duplicates, or the same
    photo found again after an interrupted run) share the name the first one got, so every photo is
    stored once. Seeded with the names already in the database, which carry their content hash."""

    def __init__(self, names_in_use):
        self._by_hash = {}
        for name in names_in_use:
            match = PIPELINE_NAME.match(name)
            if match:
                self._by_hash.setdefault(match["hash"], name)
        self._lock = threading.Lock()

    def claim(self, content_hash, name):
        with self._lock:
            return self._by_hash.setdefault(content_hash, name)


class Migration:
    def __init__(self, storage, sources, dry_run, names, work, uploads_at_once, store="hostgator"):
        self.storage, self.sources, self.dry_run, self.names, self.work = storage, sources, dry_run, names, work
        self.store = store  # its PHOTO_BACKENDS name; club URLs point into "hostgator"
        # Photos in save_many at once: each sends its files in parallel, so this many keep every
        # connection busy, and a photo's files do not wait behind too many others (one deadline each).
        self.uploading = threading.BoundedSemaphore(uploads_at_once)
        self.host_failure = None  # set by the first failure of the host itself
        self._listings = FolderListings(storage)

    def examine(self, photo_id, slug, published_at, value):
        """Decide and (unless dry_run) do the store's part for one photo. Runs in a worker thread."""
        outcome = Outcome(photo_id, FAILED, value)
        if self.host_failure is not None:
            outcome.detail = f"not tried: {self.store} failed ({self.host_failure})"
            return outcome
        try:
            self._examine(outcome, slug, published_at, value)
        except ImageRejected as rejected:
            outcome.detail = f"refused: {rejected.message}"
        except HOST_WIDE as error:
            self.host_failure = self.host_failure or error
            outcome.detail = str(error)
        except (StoreError, OSError) as error:
            outcome.detail = str(error)
        except Exception as error:  # one odd row must not stop the others
            logger.exception("Photo %s (%s) could not be migrated", photo_id, value)
            outcome.detail = f"{type(error).__name__}: {error}"
        return outcome

    def _examine(self, outcome, slug, published_at, value):
        if "://" not in value and self._on_host(value):
            # Already a name in the photo folder: our pipeline's, or one normalised by an earlier run.
            outcome.status = ALREADY_THERE
            return
        remote = name_under(value, self.storage.base_url) or name_on_hostgator(value)
        if remote and self._on_host(remote):
            outcome.status, outcome.new = NORMALISED, remote
            return
        local = find_local_file(value, self.sources)
        if local is None and self.store != "hostgator" and ("://" not in value or name_on_hostgator(value)):
            # A name or a HostGator URL that may well be on HostGator still: never "missing", which
            # would take it out of its galleries. Only HostGator's own run may say a file is nowhere.
            outcome.detail = (f"not on {self.store} nor in the source folders: if it is on HostGator, copy the "
                              f"photos over first (transfer_photos --from hostgator --to {self.store}), then run "
                              "this again")
            return
        if local is None:
            outcome.status, outcome.detail = MISSING, "file found nowhere"
            return
        # In a worker process, or in this thread sharing the process's decode slots: memory stays
        # that of one photo at a time per process.
        processed = self.work.process(local.read_bytes(), local.name)
        own_name = photo_name(slug, processed.content_hash, processed.extension,
                              timezone.localtime(published_at).date())
        new = self.names.claim(processed.content_hash, own_name)
        outcome.new, outcome.width, outcome.height = new, processed.original.width, processed.original.height
        outcome.fields = {"files": files_record(new, processed.original.width, processed.renditions),
                          **placeholder_fields(processed)}
        outcome.detail = str(local) if new == own_name else f"{local}, the same photo as {new}"
        if not self.dry_run:
            # Verified on the way: on FTP each file is renamed into place only once the server reports
            # the size that was sent (storage/ftp/upload.py); on S3 the store checks each PUT's
            # Content-MD5 before it keeps the object. No second look is needed.
            with self.uploading:
                self.storage.save_many(photo_files(new, processed.original.data, processed.renditions))
        outcome.status = MIGRATED

    def _on_host(self, name):
        """Is ``name`` in the photo folder? Each folder is listed once per run (one MLSD), not
        probed once per row: 500 rows in one old folder cost one listing instead of 500 MLSTs."""
        try:
            return self._listings.holds(name)
        except SuspiciousFileOperation:  # '../x', an absolute path...: not a name in the folder
            return False

def apply(outcome):
    """The database part, in the calling thread, after the FTP part succeeded. The old files are
    left where they are (links shared elsewhere may still point at them), and a photo changed
    meanwhile is left alone. A missing photo leaves its galleries (the pages fall back to the
    article's other photos or the default image); a photo that turns out to hold the same bytes as
    another is merged into it."""
    with transaction.atomic():
        photo = Photo.objects.select_for_update().filter(pk=outcome.photo_id, name=outcome.old).first()
        if photo is None:
            return
        if outcome.status == MISSING:
            photo.placements.all().delete()
            photo.delete()
            return
        match = PIPELINE_NAME.match(outcome.new)
        content_hash = match["hash"] if match else ""
        same = Photo.objects.exclude(pk=photo.pk).filter(name=outcome.new).first()
        if same is None and content_hash:
            same = Photo.objects.exclude(pk=photo.pk).filter(content_hash=content_hash).first()
        if same is not None:
            merge_photo(photo, into=same)
            return
        photo.name, photo.width, photo.height, photo.content_hash = (outcome.new, outcome.width, outcome.height,
                                                                    content_hash)
        for name, value in outcome.fields.items():
            setattr(photo, name, value)
        photo.save(update_fields=["name", "width", "height", "content_hash", *outcome.fields])


def merge_photo(photo, into):
    """``photo``'s galleries and covers show ``into`` instead (the same bytes); ``photo`` goes."""
    for placement in photo.placements.all():
        if ArticlePhoto.objects.filter(article_id=placement.article_id, photo=into).exists():
            placement.delete()
        else:
            ArticlePhoto.objects.filter(pk=placement.pk).update(photo=into)
    Article.objects.filter(cover=photo).update(cover=into)
    into = Photo.objects.select_for_update().get(pk=into.pk)
    missing = [detail for detail in ("caption", "credit", "alt_text") if not getattr(into, detail)
               and getattr(photo, detail)]
    for detail in missing:
        setattr(into, detail, getattr(photo, detail))
    into.save(update_fields=missing)  # only these: a retry may be marking it on the store meanwhile
    photo.delete()


def rows_to_examine(limit=None):
    """(photo pk, slug, date, name) of every photo on the store, the slug and date of the first
    article showing it (or the photo's own). Photos still waiting for the store are the pipeline's."""
    first_article = {}
    for photo_id, slug, published_at in (ArticlePhoto.objects.order_by("photo_id", "article_id")
                                         .values_list("photo_id", "article__slug", "article__published_at")):
        first_article.setdefault(photo_id, (slug, published_at))
    rows = []
    for pk, name, uploaded_at in Photo.objects.filter(on_store=True).order_by("pk").values_list(
            "pk", "name", "uploaded_at"):
        slug, published_at = first_article.get(pk, (Path(urlsplit(name).path).stem, uploaded_at))
        rows.append((pk, slug, published_at, name))
    if limit:
        # A limited run is a trial on the next rows still to migrate, not on those already done.
        rows = [row for row in rows if not PIPELINE_NAME.match(row[3])][:limit]
    return rows


def migrate_images(sources=None, dry_run=False, workers=4, limit=None, progress=None, processes=None, store=None):
    """Migrate every photo to ``store`` (a PHOTO_BACKENDS name; by default PHOTO_STORAGE, the one
    the pages show); returns a MigrationReport. ``progress`` is called with each Outcome.

    ``workers`` photos are uploaded at once, over ``workers`` connections of its own (at most the
    store's ``most_connections``: HostGator's per-IP cap; the site's own pool, HOSTGATOR_FTP's
    MAX_CONNECTIONS, is another one; a host that refuses more with 421 gets fewer,
    storage/ftp/pool.py), their pixels in ``processes``
    processes (BulkPhotoWork: by default one per CPU the machine really has). As many photos more
    (at least one) are being prepared meanwhile, so that no connection waits for pixels."""
    workers = max(1, workers)
    sources = [Path(source) for source in (sources or default_sources())]
    names = PhotoNames(Photo.objects.values_list("name", flat=True))
    store = store or settings.PHOTO_STORAGE
    storage = open_store(store, max_connections=min(workers, store_class(store).most_connections))
    work = BulkPhotoWork(workers, processes)
    migration = Migration(storage, sources, dry_run, names, work, uploads_at_once=workers, store=store)
    report = MigrationReport()
    pool = ThreadPoolExecutor(max_workers=workers + max(1, work.processes))
    try:
        futures = [pool.submit(migration.examine, *row) for row in rows_to_examine(limit)]
        for future in as_completed(futures):
            outcome = future.result()
            if not dry_run and outcome.status in {MIGRATED, NORMALISED, MISSING}:
                apply(outcome)
            report.outcomes.append(outcome)
            if progress:
                progress(outcome)
    finally:
        # Interrupted (Ctrl-C, a crash): photos not started are not started; rows stay as they are.
        pool.shutdown(wait=True, cancel_futures=True)
        work.close()
        storage.disconnect()
    report.outcomes.sort(key=lambda outcome: outcome.photo_id)
    return report
