"""migrate_images_to_hostgator (issue 5) with a real FTP server: a data set of 213 articles mixing
every kind of legacy photo. Whatever the run (workers 1 or 4, limited, dry, repeated, interrupted
and resumed), the end state is checked against what the data set says it must be: each row shows
its photo, normalised like a new upload, and each photo is on the host exactly once, byte-checked
through the public URL."""

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from PIL import Image

from articles.models import Article, ArticlePhoto, Photo
from articles.photo_migration import (
    FAILED,
    MIGRATED,
    MISSING,
    NORMALISED,
    PIPELINE_NAME,
    migrate_images,
)
from storage.images import process_photo
from storage.names import is_temporary, rendition_name
from tests.commands import run_command
from tests.gallery_forms import article_with_photo, shown_photo

pytestmark = pytest.mark.django_db(transaction=True)

WRITE_VERBS = {"STOR", "APPE", "STOU", "DELE", "RNFR", "RNTO", "MKD", "RMD", "SITE CHMOD", "MFMT"}
PHP = b"<?php system($_GET[0]); ?>"


# --- the data set ---------------------------------------------------------------------------------

@cache
def photo(index, wide=False):
    """A distinct photo per index; wide ones are large enough for renditions."""
    size = (1100, 800) if wide else (400, 300)
    image = Image.new("RGB", size, (index * 37 % 256, index * 91 % 256, index * 53 % 256))
    image.paste((255 - index % 256, 40, 200), (10, 10, 60, 60))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@cache
def normalised(data):
    return process_photo(data, filename="", max_bytes=settings.PHOTO_MAX_BYTES, max_pixels=settings.PHOTO_MAX_PIXELS,
                         max_side=settings.PHOTO_MAX_SIDE, rendition_widths=settings.PHOTO_WIDTHS_AT_UPLOAD)


@dataclass
class Row:
    slug: str
    value: str
    kind: str  # MIGRATED, NORMALISED, MISSING, FAILED
    data: bytes = b""  # the source photo (MIGRATED) or the file already on the host (NORMALISED)
    host_name: str = ""  # NORMALISED: the plain name the row must end with


class DataSet:
    def __init__(self, base, root):
        self.media, self.legacy, self.root = base / "old-media", base / "static" / "article_images", root
        self.media.mkdir(parents=True)
        self.legacy.mkdir(parents=True)
        self.rows = []
        self.on_host_before = set()

    def source_args(self):
        return ["--source", str(self.media), "--source", str(self.legacy)]

    def put(self, folder, relative, data):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def add(self, value, kind, data=b"", host_name=""):
        self.rows.append(Row(f"article-{len(self.rows):03d}", value, kind, data, host_name))

    def counts(self):
        """Outcomes per kind: one per photo, and rows naming one file share one photo (as the data
        migration 0005 made them)."""
        return {kind: len({row.value for row in self.rows if row.kind == kind})
                for kind in (MIGRATED, NORMALISED, MISSING, FAILED)}

    def distinct_photos(self):
        return {normalised(row.data).original.data for row in self.rows if row.kind == MIGRATED}


def build_dataset(tmp_path, hostgator):
    data = DataSet(tmp_path, hostgator.root)
    index = 0

    def next_photo(wide=False):
        nonlocal index
        index += 1
        return photo(index, wide)

    for number in range(70):  # names relative to the old media folder, some wide, some non-ASCII
        name = ("équipe été" if number % 10 == 3 else "صورة" if number % 10 == 7 else "photo") + f"-{number}.jpg"
        content = next_photo(wide=number % 7 == 0)
        data.put(data.media, f"articles/{name}", content)
        data.add(f"articles/{name}", MIGRATED, content)
    for number in range(40):  # names of the legacy static/article_images folder
        content = next_photo()
        data.put(data.legacy, f"old-{number}.jpg", content)
        data.add(f"article_images/old-{number}.jpg", MIGRATED, content)
    for number in range(30):  # club URLs of files already on the host: normalised, never uploaded
        name = f"fête club-{number}.jpg" if number % 5 == 0 else f"club-{number}.jpg"
        content = next_photo()
        (hostgator.root / name).write_bytes(content)
        data.on_host_before.add(name)
        host = "cmtch.online" if number % 2 else "www.cmtch.online"
        data.add(f"https://{host}/static/article_images/{urllib.parse.quote(name)}", NORMALISED, content, name)
    for number in range(30):  # URLs of the old Render service, files in a source folder
        content = next_photo(wide=number % 10 == 0)
        if number % 3:
            data.put(data.media, f"articles/render-{number}.jpg", content)
            data.add(f"https://cmtch.onrender.com/media/articles/render-{number}.jpg", MIGRATED, content)
        else:
            data.put(data.legacy, f"r-{number}.jpg", content)
            data.add(f"https://cmtch-old.onrender.com/static/article_images/r-{number}.jpg", MIGRATED, content)
    for value in ["articles/gone-1.jpg", "articles/gone-2.jpg", "https://cmtch.onrender.com/media/articles/gone.jpg",
                  "https://www.cmtch.online/static/article_images/not-on-host.jpg", "../../etc/passwd",
                  "/var/www/old/photo.jpg", "article_images/disparue é.jpg"]:  # files that exist nowhere
        data.add(value, MISSING)
    # Hostile files in a source folder: refused with a reason, never uploaded.
    data.put(data.media, "articles/evil.jpg", PHP + b" " * 600)
    data.add("articles/evil.jpg", FAILED)
    data.put(data.media, "articles/shell.php.jpg", photo(1000))
    data.add("articles/shell.php.jpg", FAILED)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(buffer, "JPEG", comment=PHP)
    data.put(data.media, "articles/commented.jpg", buffer.getvalue())
    data.add("articles/commented.jpg", FAILED)
    for number in range(10):  # duplicates: two rows, one file
        content = next_photo()
        data.put(data.media, f"articles/dup-{number}.jpg", content)
        data.add(f"articles/dup-{number}.jpg", MIGRATED, content)
        other = (f"https://cmtch.onrender.com/media/articles/dup-{number}.jpg" if number % 2
                 else f"articles/dup-{number}.jpg")
        data.add(other, MIGRATED, content)
    for number in range(3):  # the same photo under two file names
        content = next_photo()
        data.put(data.media, f"articles/copy-a-{number}.jpg", content)
        data.put(data.legacy, f"copy-b-{number}.jpg", content)
        data.add(f"articles/copy-a-{number}.jpg", MIGRATED, content)
        data.add(f"article_images/copy-b-{number}.jpg", MIGRATED, content)

    articles = Article.objects.bulk_create([
        Article(title=f"Article {number}", slug=row.slug, published=True,
                published_at=datetime(2023 + number % 3, 1 + number % 12, 15 if number % 4 else 1, 0, 30, tzinfo=UTC))
        for number, row in enumerate(data.rows)
    ])
    for article, row in zip(articles, data.rows, strict=True):  # what 0005 makes of Article.image
        legacy, _ = Photo.objects.get_or_create(name=row.value)
        ArticlePhoto.objects.create(article=article, photo=legacy)
    assert len(data.rows) >= 200
    return data


@pytest.fixture
def dataset(tmp_path, hostgator):
    return build_dataset(tmp_path, hostgator)


# --- helpers --------------------------------------------------------------------------------------

def migrate(*arguments):
    return run_command("migrate_images_to_hostgator", *arguments)


def host_files(root):
    return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*")
            if path.is_file() and not is_temporary(path.name)}


def file_stamps(root):
    return {str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in root.rglob("*") if path.is_file()}


def shown(article):
    """(name, width, height) of the photo the article's pages show, or ("", None, None)."""
    photo = article.cover_photo
    return (photo.name, photo.width, photo.height) if photo else ("", None, None)


def rows_state():
    return [(article.slug, *shown(article), article.updated_at)
            for article in Article.objects.with_gallery().order_by("pk")]


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def assert_end_state(data, hostgator):
    """Every row as the data set says; every photo once on the host, served by the public URL."""
    articles = {article.slug: article for article in Article.objects.with_gallery()}
    expected_files = {name: content for name, content in host_files(hostgator.root).items()
                      if name in data.on_host_before or name.startswith("default_article")}
    for row in data.rows:
        article = articles[row.slug]
        if row.kind == MIGRATED:
            processed = normalised(row.data)
            name, width, height = shown(article)
            assert PIPELINE_NAME.match(name), (row, name)
            assert (width, height) == (processed.original.width, processed.original.height)
            expected_files[name] = processed.original.data
            for width, rendition in processed.renditions.items():
                expected_files[rendition_name(name, width)] = rendition.data
        elif row.kind == NORMALISED:
            assert shown(article)[:2] == (row.host_name, None), row
        elif row.kind == MISSING:
            assert shown(article) == ("", None, None), row
        else:
            assert shown(article)[0] == row.value, row
    on_host = host_files(hostgator.root)
    # Nothing more, nothing less (hostile files never went up); compared by digest to keep failures readable.
    assert {name: digest(content) for name, content in on_host.items()} == \
        {name: digest(content) for name, content in expected_files.items()}
    originals = [digest(content) for name, content in on_host.items() if PIPELINE_NAME.match(name)]
    assert len(originals) == len(set(originals)) == len(data.distinct_photos())  # each photo exactly once
    for name, content in on_host.items():
        if PIPELINE_NAME.match(name) or name.endswith("w.jpg"):
            assert fetch(hostgator.public_url + urllib.parse.quote(name)) == content
    for row in data.rows:
        if row.kind in {MIGRATED, NORMALISED}:
            assert fetch(articles[row.slug].image_url) == on_host[shown(articles[row.slug])[0]]


def digest(content):
    return hashlib.sha256(content).hexdigest()[:12]


def written(hostgator):
    return [verb for verb in hostgator.verbs() if verb in WRITE_VERBS]


# --- tests ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("workers", ["0", "9"])
def test_workers_beyond_the_hosts_cap_are_refused_before_anything_is_done(dataset, hostgator, workers):
    hostgator.forget_commands()
    before = rows_state()
    code, output = migrate(*dataset.source_args(), "--workers", workers)
    assert code == 1 and "--workers must be between 1 and 8" in output
    assert hostgator.commands == [] and rows_state() == before


@pytest.mark.parametrize("workers", [1, 4])
def test_migration_end_state_report_and_a_second_run_that_changes_nothing(dataset, hostgator, workers):
    counts = dataset.counts()
    missing_photos = {value: Photo.objects.get(name=value).pk for value in (row.value for row in dataset.rows
                                                                            if row.kind == MISSING)}
    started = time.monotonic()
    code, output = migrate(*dataset.source_args(), "--workers", str(workers))
    elapsed = time.monotonic() - started
    assert code == 1  # the hostile files failed
    failures = [line for line in output.splitlines() if line.startswith(FAILED)]
    assert len(failures) == counts[FAILED], failures
    assert (f"{counts[MIGRATED]} migrated, 0 already there, {counts[NORMALISED]} normalised, "
            f"{counts[MISSING]} missing (taken out of their galleries), {counts[FAILED]} failed") in output
    for value, pk in missing_photos.items():
        assert f"  missing: photo {pk}: {value}" in output
    assert "evil.jpg" in output and "refused" in output
    assert_end_state(dataset, hostgator)
    first_commands = len(hostgator.commands)
    print(f"\nworkers={workers}: {len(dataset.rows)} rows, {len(dataset.distinct_photos())} photos in "
          f"{elapsed:.1f}s, {first_commands} FTP commands, {hostgator.sessions} sessions")
    assert hostgator.sessions <= workers + 2  # --workers bounds the connections (+ check reads)

    # Idempotent: no upload, no row changed (updated_at included), no file touched.
    before_rows, before_files = rows_state(), file_stamps(hostgator.root)
    hostgator.forget_commands()
    code, output = migrate(*dataset.source_args(), "--workers", str(workers))
    # One photo each now: rows whose files held the same bytes were merged into one photo.
    photos_now = len(dataset.distinct_photos()) + counts[NORMALISED]
    assert Photo.objects.filter(placements__isnull=False).distinct().count() == photos_now + counts[FAILED]
    assert code == 1 and f"0 migrated, {photos_now} already there" in output
    assert f"0 normalised, 0 missing, {counts[FAILED]} failed" in output
    assert written(hostgator) == []
    assert rows_state() == before_rows and file_stamps(hostgator.root) == before_files
    print(f"second run: {len(hostgator.commands)} FTP commands, none of them a write")

    # Once the hostile rows are dealt with, the exit code is 0.
    ArticlePhoto.objects.filter(article__slug__in=[row.slug for row in dataset.rows if row.kind == FAILED]).delete()
    assert migrate(*dataset.source_args())[0] == 0


def test_dry_run_touches_nothing_and_announces_the_real_run(dataset, hostgator):
    before_rows, before_files = rows_state(), file_stamps(hostgator.root)
    code, output = migrate(*dataset.source_args(), "--dry-run")
    assert code == 1 and "DRY RUN — nothing changed." in output
    counts = dataset.counts()
    announced = (f"{counts[MIGRATED]} would be migrated, 0 already there, {counts[NORMALISED]} would be normalised, "
                 f"{counts[MISSING]} missing, {counts[FAILED]} failed")
    assert announced in output
    assert written(hostgator) == [] and rows_state() == before_rows and file_stamps(hostgator.root) == before_files

    code, output = migrate(*dataset.source_args())
    assert announced.replace("would be ", "").replace("missing,", "missing (taken out of their galleries),") in output


def test_limit_takes_the_next_rows_still_to_migrate(dataset, hostgator):
    code, output = migrate(*dataset.source_args(), "--limit", "25")
    assert code == 0 and "25 migrated, 0 already there" in output  # the first 25 rows are media photos
    migrated = Photo.objects.filter(name__regex=r"^\d{4}/").count()
    assert migrated == 25
    code, output = migrate(*dataset.source_args(), "--limit", "25")
    assert "25 migrated, 0 already there" in output  # the next 25, not the same ones again
    assert Photo.objects.filter(name__regex=r"^\d{4}/").count() == 50
    assert migrate(*dataset.source_args())[0] == 1
    assert_end_state(dataset, hostgator)


def test_host_stopping_halfway_then_resumed_loses_nothing(dataset, hostgator):
    seen = []

    def stop_the_host_after_sixty(outcome):
        seen.append(outcome)
        if len(seen) == 60:
            hostgator.stop()

    started = time.monotonic()
    report = migrate_images(sources=[dataset.media, dataset.legacy], workers=4, progress=stop_the_host_after_sixty)
    assert time.monotonic() - started < 30  # the photos left are not each retried against a dead host
    assert not report.ok and len(report.outcomes) == sum(dataset.counts().values())
    failed = report.of(FAILED)
    assert len(failed) > 50 and any("not tried" in outcome.detail for outcome in failed)
    # Nothing lost: a row is either untouched or already in its final state.
    by_slug = {row.slug: row for row in dataset.rows}
    for article in Article.objects.with_gallery():
        row, name = by_slug[article.slug], shown(article)[0]
        assert name == row.value or row.kind != FAILED and name != row.value
    for outcome in failed:
        assert Photo.objects.get(pk=outcome.photo_id).name == outcome.old

    hostgator.start()
    code, output = migrate(*dataset.source_args())
    assert code == 1 and f"{dataset.counts()[FAILED]} failed" in output
    assert_end_state(dataset, hostgator)


def test_interrupted_by_ctrl_c_then_resumed(dataset, hostgator):
    seen = []

    def interrupt(outcome):
        seen.append(outcome)
        if len(seen) == 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate_images(sources=[dataset.media, dataset.legacy], workers=4, progress=interrupt)
    # Photos found "already there" keep their name: at most the 40 outcomes seen changed a photo.
    values = {row.value for row in dataset.rows}
    assert 0 < len(values) - Photo.objects.filter(name__in=values).count() <= 40
    assert migrate(*dataset.source_args())[0] == 1
    assert_end_state(dataset, hostgator)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second process needs a shared database")
def test_killed_process_then_resumed(dataset, hostgator):
    """SIGKILL in the middle of the uploads: no clean-up code runs at all."""
    ftp = hostgator.settings
    env = {**os.environ, "DATABASE_URL": database_url(), "HOSTGATOR_FTP_HOST": ftp["HOST"],
           "HOSTGATOR_FTP_PORT": str(ftp["PORT"]), "HOSTGATOR_FTP_USER": ftp["USER"],
           "HOSTGATOR_FTP_PASSWORD": ftp["PASSWORD"], "HOSTGATOR_FTP_DIR": ftp["DIR"],
           "HOSTGATOR_PUBLIC_URL": ftp["PUBLIC_URL"], "HOSTGATOR_FTP_TLS": "explicit",
           "HOSTGATOR_FTP_CA_FILE": ftp["CA_FILE"], "HOSTGATOR_FTP_TIMEOUT": "5"}
    process = subprocess.Popen([sys.executable, "manage.py", "migrate_images_to_hostgator", *dataset.source_args()],
                               cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while sum(1 for name in host_files(hostgator.root) if PIPELINE_NAME.match(name)) < 40:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    workers = children_of(process.pid)  # its photo processes (storage/photo_processes.py)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert Photo.objects.filter(name__regex=r"^\d{4}/").count() < len(dataset.rows)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers and not [pid for pid in workers if Path(f"/proc/{pid}").exists()]  # none outlives it

    assert migrate(*dataset.source_args())[0] == 1
    assert_end_state(dataset, hostgator)


def children_of(pid):
    """The processes whose parent is ``pid`` (from /proc)."""
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            children.append(int(status.parent.name))
    return children


def database_url():
    values = connection.settings_dict
    return (f"postgres://{values['USER']}:{values['PASSWORD']}@{values['HOST'] or '127.0.0.1'}:"
            f"{values['PORT'] or 5432}/{values['NAME']}")


def test_a_mistyped_source_is_refused(dataset, tmp_path):
    before = rows_state()
    code, output = migrate("--source", str(tmp_path / "no-such-folder"))
    assert code == 1 and "no such folder" in output
    assert rows_state() == before


def test_names_already_on_the_host_are_left_alone(hostgator, tmp_path):
    """A plain name of a file already in the photo folder is 'already there', even if an old copy
    lies in a source folder: re-running after a normalisation must not upload it again."""
    (hostgator.root / "club.jpg").write_bytes(photo(1))
    (tmp_path / "club.jpg").write_bytes(photo(2))
    article = article_with_photo("Club", "club.jpg")
    code, output = migrate("--source", str(tmp_path))
    assert code == 0 and "0 migrated, 1 already there" in output
    assert shown_photo(article).name == "club.jpg" and (hostgator.root / "club.jpg").read_bytes() == photo(1)
