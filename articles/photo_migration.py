"""Moving the photos of the old site to HostGator (``migrate_images_to_hostgator``).

Order per article: find the file, normalise it like a new upload, upload it with its renditions,
check it, and only then change the row. Interrupted anywhere, nothing is lost and a re-run
resumes: names carry a content hash, so an upload repeated after a crash writes the same file.
FTP work runs in worker threads; database writes stay in the calling thread.
"""

import logging
import re
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from storage.errors import HostGatorError
from storage.images import ImageRejected, photo_name, process_photo

from articles.models import Article
from articles.photos import upload_photo_files

logger = logging.getLogger(__name__)

# What our own pipeline names a photo: YYYY/MM/<slug>-<10 hex>.<ext>
PIPELINE_NAME = re.compile(r"^\d{4}/\d{2}/[a-z0-9-]+-[0-9a-f]{10}\.(jpg|png|webp|gif)$")
# Hosts whose /static/article_images/ URLs point into the photo folder on HostGator.
CLUB_HOSTS = {"www.cmtch.online", "cmtch.online"}
FOLDER_IN_URL = "/static/article_images/"

MIGRATED, ALREADY_THERE, NORMALISED, MISSING, FAILED = "migrated", "already there", "normalised", "missing", "failed"


@dataclass
class Outcome:
    article_id: int
    status: str
    old: str
    new: str = ""
    width: int | None = None
    height: int | None = None
    detail: str = ""


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


def name_on_host(value):
    """The photo-folder name a club URL points to, or None for anything else."""
    parts = urlsplit(value)
    if parts.scheme in {"http", "https"} and parts.hostname in CLUB_HOSTS and FOLDER_IN_URL in parts.path:
        return unquote(parts.path.split(FOLDER_IN_URL, 1)[1])
    public = settings.HOSTGATOR_FTP["PUBLIC_URL"]
    if value.startswith(public):
        return unquote(value[len(public):])
    return None


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


def examine(article_id, slug, published_at, value, sources, dry_run):
    """Decide and (unless dry_run) do the FTP part for one row. Runs in a worker thread."""
    outcome = Outcome(article_id, FAILED, value)
    try:
        if PIPELINE_NAME.match(value) and default_storage.exists(value):
            outcome.status = ALREADY_THERE
            return outcome
        remote = name_on_host(value)
        if remote and default_storage.exists(remote):
            outcome.status, outcome.new = NORMALISED, remote
            return outcome
        local = find_local_file(value, sources)
        if local is None:
            if "://" not in value and default_storage.exists(value):
                outcome.status = ALREADY_THERE
            else:
                outcome.status, outcome.detail = MISSING, "file found nowhere"
            return outcome
        processed = process_photo(local.read_bytes(), filename=local.name, max_bytes=settings.PHOTO_MAX_BYTES,
                                  max_pixels=settings.PHOTO_MAX_PIXELS, max_side=settings.PHOTO_MAX_SIDE,
                                  rendition_widths=settings.PHOTO_RENDITION_WIDTHS)
        new = photo_name(slug, processed.content_hash, processed.extension, published_at.date())
        outcome.new, outcome.width, outcome.height = new, processed.original.width, processed.original.height
        outcome.detail = str(local)
        if not dry_run:
            upload_photo_files(new, processed.original.data, processed.renditions)
            stored = default_storage.size(new)
            if stored != len(processed.original.data):
                raise HostGatorError("verify", new, f"size on host {stored}, expected {len(processed.original.data)}")
        outcome.status = MIGRATED
    except ImageRejected as rejected:
        outcome.detail = f"refused: {rejected.message}"
    except (HostGatorError, OSError) as error:
        outcome.detail = str(error)
    return outcome


def apply(outcome):
    """The database part, in the calling thread, after the FTP part succeeded. A plain update: the
    old files are left where they are (links shared elsewhere may still point at them), and a row
    an editor changed meanwhile is left alone."""
    new_values = {"image": "", "image_width": None, "image_height": None}
    if outcome.status in {MIGRATED, NORMALISED}:
        new_values.update(image=outcome.new, image_width=outcome.width, image_height=outcome.height)
    Article.objects.filter(pk=outcome.article_id, image=outcome.old).update(**new_values)


def migrate_images(sources=None, dry_run=False, workers=4, limit=None, progress=None):
    """Migrate every article photo; returns a MigrationReport. ``progress`` is called with each Outcome."""
    sources = [Path(source) for source in (sources or default_sources())]
    rows = list(Article.objects.exclude(image="").order_by("pk").values_list("pk", "slug", "published_at", "image"))
    if limit:
        rows = rows[:limit]
    report = MigrationReport()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(examine, pk, slug, published_at, image, sources, dry_run)
                   for pk, slug, published_at, image in rows]
        for future in as_completed(futures):
            outcome = future.result()
            if not dry_run and outcome.status in {MIGRATED, NORMALISED, MISSING}:
                apply(outcome)
            report.outcomes.append(outcome)
            if progress:
                progress(outcome)
    report.outcomes.sort(key=lambda outcome: outcome.article_id)
    return report
