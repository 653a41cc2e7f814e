"""retry_pending_uploads (issue 5) against a real FTP server: it reports what it pushed and what still
waits, and two runs at once on PostgreSQL push each parked photo exactly once (row locks, skip_locked)."""

import io
import threading
from collections import Counter
from datetime import date

import pytest
from django.conf import settings
from django.db import connection, connections
from PIL import Image

from articles.models import Article, ArticlePhoto, PendingUpload, Photo
from articles.photos import retry_pending_uploads
from storage.images import photo_name, process_photo
from storage.names import rendition_name
from tests.commands import run_command as run_named_command
from tests.photo_stores import HostGatorStore

pytestmark = pytest.mark.django_db(transaction=True)


def park_photos(count, wide_every=3):
    """``count`` articles whose photo waits in the database, as attach_photo leaves them."""
    names = []
    for number in range(count):
        buffer = io.BytesIO()
        size = (700, 500) if number % wide_every == 0 else (300, 200)
        Image.new("RGB", size, (number * 40 % 256, 90, 200 - number)).save(buffer, "JPEG", quality=90)
        processed = process_photo(buffer.getvalue(), "photo.jpg", settings.PHOTO_MAX_BYTES, settings.PHOTO_MAX_PIXELS,
                                  settings.PHOTO_MAX_SIDE, settings.PHOTO_RENDITION_WIDTHS)
        article = Article.objects.create(title=f"En attente {number}")
        name = photo_name(article.slug, processed.content_hash, processed.extension, date(2026, 11, 25))
        wait(article, name, processed.original.data, processed.original.width, processed.original.height,
             attempts=1, last_error="FTP connect failed")
        names.append(name)
    return names


def wait(article, name, data, width, height, **fields):
    """A photo of ``article``'s gallery whose bytes wait in the database."""
    photo = Photo.objects.create(name=name, width=width, height=height, on_store=False)
    ArticlePhoto.objects.create(article=article, photo=photo, position=article.placements.count())
    return PendingUpload.objects.create(photo=photo, name=name, data=data, width=width, height=height, **fields)


def run_command():
    return run_named_command("retry_pending_uploads")


def assert_published(names, store):
    for name in names:
        pending_data = store.read(name)
        photo = Photo.objects.get(name=name, on_store=True, placements__isnull=False)
        assert (photo.width, photo.height) == Image.open(io.BytesIO(pending_data)).size
    assert PendingUpload.objects.count() == 0


def test_pushes_reports_and_a_second_run_does_nothing(photo_store):
    names = park_photos(4)
    photo_store.forget()
    code, output = run_command()
    assert code == 0
    for name in names:
        assert f"pushed   {name}" in output
    assert "4 pushed, 0 still waiting" in output
    assert_published(names, photo_store)
    assert rendition_name(names[0], 480) in photo_store.files()  # renditions made again from the bytes
    assert set(photo_store.written()) == {*names, rendition_name(names[0], 480), rendition_name(names[3], 480)}

    photo_store.forget()
    code, output = run_command()
    assert code == 0 and output.strip() == "0 pushed, 0 still waiting" and photo_store.written() == Counter()


def test_a_refusing_host_keeps_the_photos_waiting_and_says_why(hostgator):
    names = park_photos(2)
    hostgator.faults.reply("STOR", "553 Can't open that file: Permission denied", times=None)
    code, output = run_command()
    assert code == 1
    for name in names:
        assert f"waiting  {name}: " in output and "553" in output
    assert "0 pushed, 2 still waiting" in output
    assert list(PendingUpload.objects.values_list("attempts", flat=True)) == [2, 2]
    assert not Photo.objects.filter(on_store=True).exists()

    hostgator.faults.clear()
    code, output = run_command()
    assert code == 0 and "2 pushed, 0 still waiting" in output
    assert_published(names, HostGatorStore(hostgator))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; SQLite serialises writers")
def test_two_runs_at_once_push_each_photo_exactly_once(photo_store):
    names = park_photos(12, wide_every=4)
    photo_store.forget()
    photo_store.slow(0.01)  # each push takes a while: the two runs overlap for sure
    start = threading.Barrier(2)
    reports, errors = [None, None], []

    def run(index):
        try:
            start.wait()
            reports[index] = retry_pending_uploads()
        except Exception as error:  # noqa: BLE001 -- reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and all(report is not None for report in reports)
    first, second = (report.pushed for report in reports)
    assert first and second, "both runs must have pushed something, or the test proved nothing"
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(names)
    assert not any(report.failed for report in reports)
    written = photo_store.written()
    assert all(written[name] == 1 for name in names)  # each photo went up once, not once per run
    assert max(written.values()) == 1
    assert_published(names, photo_store)


def test_a_host_that_is_down_is_tried_once_not_once_per_photo(photo_store):
    from tests.test_photos import jpeg_bytes

    article = Article.objects.create(title="Attente")
    for index in range(3):
        wait(article, f"2026/11/attente-{index}.jpg", jpeg_bytes(), 1600, 1200)
    photo_store.down()
    report = retry_pending_uploads()
    assert report.pushed == [] and len(report.failed) == 1 and report.not_tried == 2
    assert PendingUpload.objects.count() == 3
    photo_store.up()
    assert len(retry_pending_uploads().pushed) == 3
