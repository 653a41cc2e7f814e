"""500 old photos of ~200 KB to HostGator at 30 ms a round trip: ours (migrate_images, --workers 4 and 1),
ours upload-only (save_many of the same files), a loop over stock FTPStorage.save, and Debian's
`lftp mirror -R --parallel=4`, in one run, each into a fresh empty folder (a new server each).

    .venv/bin/python -m bench.migration
      BENCH_PHOTOS=500            photos (articles) in the data set
      BENCH_SERIAL_PHOTOS=100     photos for the slow serial runs (ours --workers 1, the stock loop);
                                  their time is scaled to BENCH_PHOTOS (per-photo cost is flat), say 0 for all
      BENCH_PER_REPLY=1           the runs again with 30 ms per reply (0: skip them)

Two WAN models (bench/servers.py): once per round trip (commands sent together share one: what a real
link does; the targets are judged here), and once per reply (every command pays, pipelined or not: the
model of the first plan's figures). ours = articles.photo_migration.migrate_images (what `manage.py
migrate_images_to_hostgator --workers N` runs): the old folder listed once, then per photo process_photo
(normalise + 480w/1024w renditions) and save_many of the 3 files. Everything on a TLS server (ours
verified, lftp with the CA file, stock ftps:// unverified). The report: bench/migration_report.py.
"""

import collections
import functools
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from datetime import timedelta

from bench.common import (
    DELAY,
    certificate,
    our_storage,
    say,
    secs,
    stock_storage,
    stopwatch,
    temporary_dir,
)
from bench.photos import small_photos
from bench.servers import ServerProcess

PHOTOS = int(os.environ.get("BENCH_PHOTOS", "500"))
SERIAL_PHOTOS = int(os.environ.get("BENCH_SERIAL_PHOTOS", "100")) or PHOTOS
# The WAN models (bench/servers.py): once per round trip first, the one the targets are judged by.
MODELS = ("per_round_trip", "per_reply") if os.environ.get("BENCH_PER_REPLY", "1") == "1" else ("per_round_trip",)
LFTP = shutil.which("lftp") or "/usr/bin/lftp"
REMOTE = "/public_html/static/article_images/"


class Breakdown:
    """Wall time spent inside chosen functions, summed over all threads (perf_counter around the
    call: nothing else changes in the code under test)."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)
        self.calls = collections.Counter()
        self._lock = threading.Lock()
        self._undo = []

    def wrap(self, owner, attribute, label):
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[label] += time.perf_counter() - start
                    self.calls[label] += 1

        setattr(owner, attribute, timed)
        self._undo.append((owner, attribute, original))

    def restore(self):
        for owner, attribute, original in reversed(self._undo):
            setattr(owner, attribute, original)
        self._undo.clear()


def stage(paths):
    """The chosen photos alone in a folder named legacy/ (lftp mirrors a whole folder; the cache may hold more)."""
    folder = temporary_dir("source") / "legacy"
    folder.mkdir()
    staged = []
    for path in paths:
        target = folder / path.name
        try:
            os.link(path, target)
        except OSError:  # another file system
            shutil.copyfile(path, target)
        staged.append(target)
    return staged


def make_articles(paths):
    """The old site's rows: one article per photo, whose Photo is named "legacy/IMG_NNNN.jpg" (as the
    data migration 0005 leaves an old Article.image). Created once, then reset with bulk_update (no
    signals, so articles/cleanup.py deletes nothing)."""
    from django.utils import timezone

    from articles.models import Article, ArticlePhoto, Photo

    names = {f"match-{index + 1:04d}": f"legacy/{path.name}" for index, path in enumerate(paths)}
    existing = {article.slug for article in Article.objects.filter(slug__in=names)}
    start = timezone.now() - timedelta(days=3 * 365)
    Article.objects.bulk_create([
        Article(title=f"Match {index + 1}", slug=slug, published=True, published_at=start + timedelta(days=2 * index))
        for index, slug in enumerate(names) if slug not in existing])
    photos = []
    for article in Article.objects.filter(slug__in=names).prefetch_related("placements__photo"):
        placement = next(iter(article.placements.all()), None)
        if placement is None:
            photo, _ = Photo.objects.get_or_create(name=names[article.slug])
            ArticlePhoto.objects.create(article=article, photo=photo)
            continue
        photo = placement.photo
        photo.name, photo.width, photo.height, photo.content_hash = names[article.slug], None, None, ""
        photos.append(photo)
    Photo.objects.bulk_update(photos, ["name", "width", "height", "content_hash"], batch_size=200)


def server_for(label, cert, model="per_reply"):
    server = ServerProcess(temporary_dir(label), cert, DELAY, model)
    server.settings = {**server.settings, "TIMEOUT": 15.0}  # production's default, not the test suite's 5 s
    return server


def cpu_of_children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def files_in(root):
    return [path for path in root.rglob("*") if path.is_file()]


def run_ours(cert, paths, workers, limit, model):
    from django.test import override_settings

    from articles import photo_migration, photo_processing
    from storage.backends import HostGatorStorage

    make_articles(paths)
    breakdown = Breakdown()
    breakdown.wrap(photo_processing.BulkPhotoWork, "process", "process_photo (normalise + renditions)")
    breakdown.wrap(HostGatorStorage, "save_many", "save_many (3 files, atomic)")
    server = server_for(f"ours-{workers}-{model}", cert, model)
    failures = []
    try:
        with override_settings(HOSTGATOR_FTP=server.settings):
            cpu = time.process_time() + cpu_of_children()  # the photo processes, reaped by migrate_images
            with stopwatch() as elapsed:
                report = photo_migration.migrate_images(sources=[str(paths[0].parent.parent)], workers=workers,
                                                        limit=limit)
                failed = report.of("failed")
                if failed:
                    # What the operator does (the command is resumable): run it again for what is left.
                    # Counted in the time; the failures are reported, not hidden.
                    failures = [outcome.detail for outcome in failed]
                    say(f"  first pass: {len(failed)} failed ({failures[0]}); resuming")
                    again = photo_migration.migrate_images(sources=[str(paths[0].parent.parent)], workers=workers,
                                                           limit=len(failed))
                    report.outcomes = [outcome for outcome in report.outcomes if outcome.status != "failed"]
                    report.outcomes += again.outcomes
            cpu = time.process_time() + cpu_of_children() - cpu
        verbs = server.verbs()
        waits = server.waits()
        stored = files_in(server.root)
    finally:
        breakdown.restore()
        server.stop()
    counts = report.counts()
    photos = limit or len(paths)
    say(f"ours --workers {workers} ({model}): {photos} photos in {secs(elapsed())} ({counts}), {len(stored)} files, "
        f"{len(verbs)} commands, client CPU {secs(cpu)}")
    if counts["migrated"] != photos:
        failed = [outcome.detail for outcome in report.of("failed")][:3]
        raise RuntimeError(f"ours --workers {workers}: {counts} — {failed}")
    return {"time": elapsed(), "photos": photos, "files": len(stored), "commands": verbs, "cpu": cpu, "waits": waits,
            "breakdown": breakdown, "bytes": sum(path.stat().st_size for path in stored), "failures": failures,
            "folders": len({path.parent for path in stored})}


def run_upload_only(cert, paths, model="per_reply"):
    """Ours, the same 500 source files (no processing, no renditions) through save_many: the upload part."""
    server = server_for(f"upload-only-{model}", cert, model)
    storage = our_storage(server.settings, timeout=15.0, max_connections=4)  # lftp's --parallel=4
    files = {f"legacy/{path.name}": path.read_bytes() for path in paths}
    try:
        cpu = time.process_time()
        with stopwatch() as elapsed:
            storage.save_many(files)
        cpu = time.process_time() - cpu
        verbs = server.verbs()
        waits = server.waits()
        stored = files_in(server.root)
    finally:
        storage.disconnect()
        server.stop()
    say(f"ours upload-only ({model}): {len(files)} files in {secs(elapsed())}, {len(verbs)} commands, "
        f"client CPU {secs(cpu)}")
    return {"time": elapsed(), "files": len(stored), "commands": verbs, "cpu": cpu, "waits": waits}


def run_lftp(cert, paths, model="per_reply"):
    server = server_for(f"lftp-{model}", cert, model)
    source = paths[0].parent
    script = (f"set ssl:ca-file {cert[0]}; set ftp:ssl-force true; set ftp:ssl-protect-data true; "
              f"set net:max-retries 2; set net:timeout 15; "
              f"open -u {server.user},{server.password} -p {server.port} 127.0.0.1; "
              f"mirror -R --parallel=4 {source} {REMOTE}{source.name}; bye")
    try:
        cpu = cpu_of_children()
        with stopwatch() as elapsed:
            completed = subprocess.run([LFTP, "-c", script], capture_output=True, text=True, timeout=600)
        cpu = cpu_of_children() - cpu
        verbs = server.verbs()
        waits = server.waits()
        stored = files_in(server.root)
    finally:
        server.stop()
    if completed.returncode != 0 or len(stored) != len(paths):
        raise RuntimeError(f"lftp exited {completed.returncode}, {len(stored)} files: {completed.stderr[-500:]}")
    say(f"lftp mirror -R --parallel=4 ({model}): {len(stored)} files in {secs(elapsed())}, {len(verbs)} commands, "
        f"CPU {secs(cpu)}")
    return {"time": elapsed(), "files": len(stored), "commands": verbs, "cpu": cpu, "waits": waits}


def run_stock(cert, paths, model):
    """The loop an operator would write with stock FTPStorage. Over ftps:// stock sometimes fails a save and
    its connection then stays out of step (see storage_uploads); like that operator, the loop then makes a
    new storage and tries the file again. Failures are counted; their time is part of the total."""
    from django.core.files import File

    server = server_for(f"stock-{model}", cert, model)
    storage = stock_storage(server, "ftps")
    failures = []
    try:
        cpu = time.process_time()
        with stopwatch() as elapsed:
            for path in paths:
                for _attempt in range(3):
                    try:
                        with open(path, "rb") as handle:
                            storage.save(f"legacy/{path.name}", File(handle, name=path.name))
                        break
                    except Exception as error:  # noqa: BLE001
                        failures.append(f"{type(error).__name__}: {error} (cause: {error.__context__!r})")
                        close_stock(storage)
                        storage = stock_storage(server, "ftps")
        cpu = time.process_time() - cpu
        verbs = server.verbs()
        waits = server.waits()
        stored = files_in(server.root)
    finally:
        close_stock(storage)
        server.stop()
    say(f"stock FTPStorage.save loop (ftps://, {model}): {len(stored)} files in {secs(elapsed())}, "
        f"{len(verbs)} commands, {len(failures)} failed saves")
    return {"time": elapsed(), "files": len(stored), "commands": verbs, "cpu": cpu, "failures": failures,
            "waits": waits}


def close_stock(storage):
    try:
        storage.disconnect()
    except Exception:  # noqa: BLE001 (never connected, or already broken)
        pass


def main():
    from bench.migration_report import write_report

    started = time.perf_counter()
    with stopwatch() as making:
        paths = stage(small_photos(PHOTOS))
    average = sum(path.stat().st_size for path in paths) / len(paths)
    say(f"{len(paths)} photos of {average / 1e3:.0f} KB on average ready in {secs(making())} (bench/.work/migration/)")
    cert = certificate()
    serial = paths[:SERIAL_PHOTOS]
    runs = {}
    for model in MODELS:
        runs[model] = {"lftp": run_lftp(cert, paths, model), "upload_only": run_upload_only(cert, paths, model),
                       "ours4": run_ours(cert, paths, workers=4, limit=None, model=model),
                       "stock": run_stock(cert, serial, model)}
    runs[MODELS[0]]["ours1"] = run_ours(cert, paths, workers=1, limit=SERIAL_PHOTOS, model=MODELS[0])
    write_report(started, paths, runs)


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    sys.exit(main())
