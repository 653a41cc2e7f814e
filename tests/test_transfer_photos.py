"""transfer_photos between the real FTP server on loopback and moto's S3 server: every file once,
byte-equal, a second run that copies nothing, a run stopped by a failing bucket that resumes, a
damaged source refused, then the pages on PHOTO_STORAGE=s3 showing every photo."""

import hashlib
import re
import urllib.request

import pytest
from django.utils import timezone

from articles.models import Article, ArticlePhoto, Photo
from storage.backends import HostGatorStorage
from storage.names import rendition_name
from tests.commands import run_command

pytestmark = pytest.mark.django_db(transaction=True)


def photo_bytes(index):
    return b"\xff\xd8\xff\xe0" + f"photo {index} ".encode() * (200 + index)


def run(*arguments):
    return run_command("transfer_photos", *arguments)


def make_photos(hostgator, count=6):
    """Photos as the pipeline leaves them on HostGator: a hash-named original, its JPEG, AVIF and WebP
    renditions (recorded in Photo.files); a legacy photo; a row whose file is nowhere."""
    storage, expected = HostGatorStorage(), {}
    for index in range(count):
        data = photo_bytes(index)
        name = f"2026/{10 + index % 2:02d}/match-{index}-{hashlib.sha256(data).hexdigest()[:10]}.jpg"
        files = {name: data, rendition_name(name, 480): data[:300], rendition_name(name, 480, "avif"): data[:200],
                 rendition_name(name, extension="webp"): data[:250]}
        storage.save_many(files)
        expected.update(files)
        photo = Photo.objects.create(name=name, width=1600, height=1200, content_hash=name[-14:-4],
                                     files={"jpg": [480, 1600], "avif": [480], "webp": [1600]})
        article = Article.objects.create(title=f"Match {index}", published=True, published_at=timezone.now())
        ArticlePhoto.objects.create(article=article, photo=photo)
    storage.save_many({"legacy/IMG_0001.jpg": b"legacy"})
    expected["legacy/IMG_0001.jpg"] = b"legacy"
    Photo.objects.create(name="legacy/IMG_0001.jpg")
    Photo.objects.create(name="legacy/gone.jpg")
    storage.disconnect()
    for name in ("default_article.jpg", "default_article.svg"):
        expected[name] = (hostgator.root / name).read_bytes()
    return expected


def test_every_file_once_byte_equal_then_a_second_run_copies_nothing(hostgator, s3):
    expected = make_photos(hostgator)
    code, output = run("--from", "hostgator", "--to", "s3")
    assert code == 0, output
    assert "9 copied (27 files" in output and "1 missing on hostgator" in output and "0 failed" in output
    assert "missing       photo" in output and "legacy/gone.jpg" in output
    assert s3.keys() == sorted(expected)
    assert all(s3.read(name) == data for name, data in expected.items())
    puts = [request.key for request in s3.requests() if request.method == "PUT"]
    assert sorted(puts) == sorted(expected)  # each file once
    assert s3.head("2026/10/" + next(name for name in expected if name.startswith("2026/10/")).split("/")[-1])[
        "CacheControl"] == "public, max-age=31536000, immutable"
    assert s3.head("default_article.svg")["ContentType"] == "image/svg+xml"

    s3.server.forget()
    code, output = run("--from", "hostgator", "--to", "s3")
    assert code == 0 and "0 copied (0 files" in output and "9 already there" in output
    assert [request for request in s3.requests() if request.method in {"PUT", "POST", "DELETE"}] == []


def test_a_run_stopped_by_a_failing_bucket_resumes_with_what_is_left(hostgator, s3):
    expected = make_photos(hostgator)
    s3.faults.reply("PUT", 500, "InternalError", times=None, key_contains="match-3-")
    code, output = run("--from", "hostgator", "--to", "s3", "--workers", "1")
    assert code == 1 and "failed" in output
    assert not [key for key in s3.keys() if "match-3-" in key]
    s3.faults.clear()
    s3.server.forget()
    code, output = run("--from", "hostgator", "--to", "s3")
    assert code == 0, output
    assert s3.keys() == sorted(expected)
    copied = {request.key for request in s3.requests() if request.method == "PUT"}
    assert copied and all("match-3-" in key or "match-4-" in key or "match-5-" in key or "legacy" in key
                          for key in copied)  # the host failure stopped the run at photo 3


def test_a_damaged_original_is_refused_and_nothing_of_it_is_copied(hostgator, s3):
    make_photos(hostgator, count=2)
    damaged = Photo.objects.filter(name__contains="match-1-").get().name
    (hostgator.root / damaged).write_bytes(b"not what its name says")
    code, output = run("--from", "hostgator", "--to", "s3")
    assert code == 1 and "do not hash to its name" in output
    assert damaged not in s3.keys()


def test_dry_run_copies_nothing_and_says_what_it_would(hostgator, s3):
    make_photos(hostgator, count=2)
    code, output = run("--from", "hostgator", "--to", "s3", "--dry-run")
    assert code == 0 and "DRY RUN" in output and "5 would be copied (11 files" in output
    assert s3.keys() == []


def test_the_same_store_twice_or_too_many_workers_are_refused(hostgator, s3):
    assert "the same store" in run("--from", "s3", "--to", "s3")[1]
    assert "between 1 and 8" in run("--from", "hostgator", "--to", "s3", "--workers", "9")[1]


def test_back_from_s3_to_hostgator(hostgator, s3):
    expected = make_photos(hostgator, count=2)
    assert run("--from", "hostgator", "--to", "s3")[0] == 0
    for name in expected:
        (hostgator.root / name).unlink()
    code, output = run("--from", "s3", "--to", "hostgator")
    assert code == 0, output
    assert all((hostgator.root / name).read_bytes() == data for name, data in expected.items())


def test_after_the_switch_the_pages_show_every_photo_from_the_bucket(hostgator, s3, client, settings):
    expected = make_photos(hostgator, count=3)
    assert run("--from", "hostgator", "--to", "s3")[0] == 0
    page = client.get("/").content.decode() + "".join(
        client.get(article.get_absolute_url()).content.decode() for article in Article.objects.all())
    urls = set(re.findall(r'(?:src|srcset)="([^" ]+)', page)) | set(re.findall(r", ([^ ]+) \d+w", page))
    photo_urls = {url for url in urls if url.startswith(s3.public_url)}
    assert len(photo_urls) >= 9  # each photo: its original, renditions and modern formats
    for url in photo_urls:
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.read() == expected[url[len(s3.public_url):]]
