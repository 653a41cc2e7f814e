"""PhotoS3Storage against a real S3 API server on loopback (moto's server mode, tests/s3_server.py):
the contract the photo pipeline uses on HostGator, and faults injected in the server."""

import logging
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from storage.errors import HOST_WIDE, StoreError, StoreFull, StoreLoginError, TransferDeadlineExceeded
from storage.s3 import CACHE_CONTROL, PhotoS3Storage
from tests.s3_server import SECRET_ACCESS_KEY

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read(), response.headers


@pytest.fixture
def storage(s3):
    storage = PhotoS3Storage()
    yield storage
    storage.disconnect()


def test_the_default_storage_is_the_bucket_when_photo_storage_is_s3(s3):
    assert isinstance(storages["default"], PhotoS3Storage)
    assert default_storage.url("a.jpg") == f"{s3.public_url}a.jpg"


def test_a_saved_photo_is_served_at_its_public_url_with_its_type_and_a_year_of_cache(storage, s3):
    name = storage.save("2026/12/match-0123456789.jpg", ContentFile(JPEG))
    assert name == "2026/12/match-0123456789.jpg"
    assert storage.url(name) == f"{s3.public_url}2026/12/match-0123456789.jpg"
    body, headers = fetch(storage.url(name))
    assert body == JPEG
    assert headers["Content-Type"] == "image/jpeg" and headers["Cache-Control"] == CACHE_CONTROL
    put = [request for request in s3.requests() if request.method == "PUT"][-1]
    assert put.headers.get("content-md5")  # the store checks the body itself
    refused_by_r2_or_b2 = ("x-amz-acl", "x-amz-checksum", "x-amz-sdk-checksum")
    assert not [header for header in put.headers if header.startswith(refused_by_r2_or_b2)]


def test_url_is_string_building_without_a_request(storage, s3):
    before = len(s3.requests())
    assert storage.url("2026/12/été à Sousse.avif") == f"{s3.public_url}2026/12/%C3%A9t%C3%A9%20%C3%A0%20Sousse.avif"
    assert storage.url("https://www.cmtch.online/old.jpg") == "https://www.cmtch.online/old.jpg"
    assert len(s3.requests()) == before


def test_save_never_replaces_a_file_and_save_many_does(storage, s3):
    first = storage.save("match.jpg", ContentFile(b"first"))
    second = storage.save("match.jpg", ContentFile(b"second"))
    assert first == "match.jpg" and second != first and second.startswith("match_") and second.endswith(".jpg")
    assert s3.read("match.jpg") == b"first" and s3.read(second) == b"second"
    conditional = [request for request in s3.requests() if request.method == "PUT"]
    assert all(request.headers.get("if-none-match") == "*" for request in conditional)
    assert storage.save_many({"a.jpg": b"1", "2026/12/b-480w.avif": b"2", "2026/12/b.webp": b"3"}) == [
        "a.jpg", "2026/12/b-480w.avif", "2026/12/b.webp"]
    storage.save_many({"a.jpg": b"again"})
    assert s3.read("a.jpg") == b"again"
    assert s3.head("2026/12/b-480w.avif")["ContentType"] == "image/avif"
    assert s3.head("2026/12/b.webp")["ContentType"] == "image/webp"


def test_reading_listing_and_idempotent_deletes(storage, s3):
    storage.save_many({"2026/12/x.jpg": JPEG, "2026/12/y.jpg": b"y", "2026/11/z.jpg": b"z"})
    assert storage.exists("2026/12/x.jpg") and not storage.exists("2026/12/nope.jpg")
    assert storage.size("2026/12/x.jpg") == len(JPEG)
    with storage.open("2026/12/x.jpg") as stored:
        assert stored.read() == JPEG
    with pytest.raises(FileNotFoundError):
        storage.open("2026/12/nope.jpg")
    assert storage.listdir("") == (["2026"], [])
    assert storage.listdir("2026") == (["11", "12"], [])
    assert storage.listdir("2026/12") == ([], ["x.jpg", "y.jpg"])
    storage.delete("2026/11/z.jpg")
    storage.delete("2026/11/z.jpg")  # already gone: fine
    before = len(s3.requests())
    absent = [f"2026/12/x-{width}w.avif" for width in range(320, 2000, 64)]
    storage.delete_many(["2026/12/x.jpg", "2026/12/y.jpg", *absent])
    assert len(s3.requests()) - before == 1  # one DeleteObjects for all 29 names
    assert s3.keys() == []


@pytest.mark.parametrize("name", ["../escape.jpg", "x.php.jpg", ".htaccess", "page.html", "logo.svg", "ok.jpg\nx"])
def test_unsafe_names_are_refused_and_nothing_is_written(storage, s3, name):
    with pytest.raises(SuspiciousFileOperation):
        storage.save(name, ContentFile(b"<?php system($_GET[0]); ?>"))
    with pytest.raises(SuspiciousFileOperation):
        storage.save_many({name: b"x"})
    assert s3.keys() == []


def test_a_store_answering_503_now_and_then_is_retried(storage, s3):
    s3.faults.reply("PUT", 503, "SlowDown", times=2)
    assert storage.save("match.jpg", ContentFile(JPEG)) == "match.jpg"
    assert s3.read("match.jpg") == JPEG


@pytest.mark.parametrize("status,code", [(500, "InternalError"), (503, "ServiceUnavailable")])
def test_a_store_that_keeps_failing_raises_a_host_wide_error_in_time(storage, s3, status, code):
    s3.faults.reply("PUT", status, code, times=None)
    started = time.monotonic()
    with pytest.raises(HOST_WIDE) as failed:
        storage.save_many({"match.jpg": JPEG})
    assert f"{status} {code}" in str(failed.value) and "S3 PUT" in str(failed.value)
    assert time.monotonic() - started < 15
    assert len([request for request in s3.requests() if request.method == "PUT"]) == 3  # bounded retries
    assert s3.keys() == []


def test_an_unreachable_store_fails_fast_with_a_host_wide_error(s3, settings):
    settings.PHOTO_S3 = {**s3.settings, "ENDPOINT_URL": "http://127.0.0.1:9"}
    storage = PhotoS3Storage()
    started = time.monotonic()
    with pytest.raises(HOST_WIDE):
        storage.save_many({"match.jpg": JPEG})
    assert time.monotonic() - started < 15


def test_a_stalled_store_ends_by_the_transfer_deadline(s3, settings):
    settings.PHOTO_S3 = {**s3.settings, "TIMEOUT": 30.0, "TRANSFER_TIMEOUT": 1.5}
    storage = PhotoS3Storage()
    s3.faults.stall("PUT", 4.0)
    started = time.monotonic()
    with pytest.raises(TransferDeadlineExceeded):
        storage.save_many({"match.jpg": JPEG})
    assert 1.4 < time.monotonic() - started < 3.5


def test_wrong_credentials_are_a_login_error_without_the_secret(s3, settings):
    settings.PHOTO_S3 = {**s3.settings, "BUCKET": "no-such-bucket-here"}
    storage = PhotoS3Storage()
    with pytest.raises(StoreLoginError) as refused:
        storage.save_many({"match.jpg": JPEG})
    assert "NoSuchBucket" in str(refused.value)
    assert SECRET_ACCESS_KEY not in str(refused.value)
    assert SECRET_ACCESS_KEY not in repr(PhotoS3Storage().deconstruct())


def test_check_deploy_refuses_an_incomplete_s3_configuration(s3, settings):
    settings.PHOTO_S3 = {**s3.settings, "SECRET_ACCESS_KEY": "", "PUBLIC_URL": ""}
    with pytest.raises(SystemCheckError) as refused:
        call_command("check", "--deploy", "--fail-level", "ERROR")
    assert "cmtch.E003" in str(refused.value) and "AWS_SECRET_ACCESS_KEY, PHOTO_PUBLIC_URL" in str(refused.value)


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_bucket_saves_the_article_and_the_photo_waits(editor_client, s3, settings):
    from django.urls import reverse

    from articles.models import Article, PendingUpload
    from tests.gallery_forms import article_form
    from tests.test_photos import jpeg_bytes, upload

    settings.PHOTO_S3 = {**s3.settings, "ENDPOINT_URL": "http://127.0.0.1:9"}
    settings.STORAGES = {**settings.STORAGES}  # a new default storage, on the dead endpoint
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload("a.jpg", jpeg_bytes())), follow=True)
    assert response.status_code == 200 and "sera publiée automatiquement" in response.content.decode()
    assert Article.objects.count() == 1 and PendingUpload.objects.count() == 1
    assert s3.keys() == []


def test_the_secret_key_never_reaches_a_log_line_even_botocores_debug(storage, s3, caplog):
    caplog.set_level(logging.DEBUG)
    storage.save("match.jpg", ContentFile(JPEG))
    s3.faults.reply("PUT", 500, "InternalError", times=None)
    with pytest.raises(HOST_WIDE):
        storage.save_many({"again.jpg": JPEG})
    assert "InternalError" in caplog.text and "match.jpg" in caplog.text  # botocore did log the requests
    assert SECRET_ACCESS_KEY not in caplog.text


@pytest.mark.parametrize(("status", "code", "message"), [
    (501, "NotImplemented", "A header you provided implies functionality that is not implemented"),
    (400, "InvalidArgument", "Unsupported header 'If-None-Match' received for this API call."),
])
def test_a_store_without_conditional_puts_still_never_replaces_a_file(storage, s3, status, code, message):
    """Some S3-compatible stores answer 501 (or 400) to If-None-Match: save() goes on with plain PUTs,
    the HEAD before each still keeping taken names."""
    storage.save("match.jpg", ContentFile(b"first"))
    s3.faults.reply("PUT", status, code, times=1, message=message)
    second = storage.save("other.jpg", ContentFile(b"second"))
    third = storage.save("match.jpg", ContentFile(b"third"))
    assert second == "other.jpg" and third != "match.jpg"
    assert s3.read("match.jpg") == b"first" and s3.read(second) == b"second" and s3.read(third) == b"third"
    assert [request.headers.get("if-none-match") for request in s3.requests() if request.method == "PUT"] == [
        "*", "*", None, None]


@pytest.mark.django_db(transaction=True)
def test_a_bucket_that_stalls_parks_the_photo_at_the_deadline(editor_client, s3, settings):
    from django.urls import reverse

    from articles.models import Article, PendingUpload
    from tests.gallery_forms import article_form, shown_photo
    from tests.test_photos import jpeg_bytes, upload

    settings.PHOTO_S3 = {**s3.settings, "TRANSFER_TIMEOUT": 2.0}
    settings.STORAGES = {**settings.STORAGES}  # a new default storage, with that deadline
    s3.faults.stall("PUT", 6.0, times=None)
    started = time.monotonic()
    response = editor_client.post(reverse("admin:articles_article_add"),
                                  article_form(photo=upload("a.jpg", jpeg_bytes())), follow=True)
    assert time.monotonic() - started < 10
    page = response.content.decode()
    assert "trop lent" in page and "sera publiée automatiquement" in page
    article = Article.objects.get()
    assert shown_photo(article) is None and PendingUpload.objects.count() == 1


@pytest.mark.parametrize(("status", "code", "message"), [
    (403, "QuotaExceeded", "Your request was denied due to quota exceeded."),  # versitygw
    (403, "AccessDenied", "Storage cap exceeded."),  # B2's cap, said as a 403
    (507, "InsufficientStorage", "Insufficient Storage"),
])
def test_a_full_bucket_is_full_not_a_wrong_key_and_is_not_retried(storage, s3, status, code, message):
    s3.faults.reply("PUT", status, code, times=None, message=message)
    with pytest.raises(StoreFull) as failed:
        storage.save_many({"2026/12/match-0123456789.jpg": b"photo"})
    assert code in str(failed.value)
    assert [request.method for request in s3.requests()].count("PUT") == 1


def test_a_plain_put_refused_too_keeps_conditional_puts(storage, s3):
    """A 400 that was not about the header (the plain PUT is refused as well) is raised, and the next
    save still sends If-None-Match."""
    s3.faults.reply("PUT", 400, "InvalidRequest", times=2, message="Unsupported header: If-None-Match")
    with pytest.raises(StoreError):
        storage.save("match.jpg", ContentFile(b"first"))
    assert storage.save("match.jpg", ContentFile(b"first")) == "match.jpg"
    assert [request.headers.get("if-none-match") for request in s3.requests() if request.method == "PUT"] == [
        "*", None, "*"]


@pytest.mark.parametrize(("code", "message"), [
    ("RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout"),
    ("BadDigest", "The Content-MD5 you specified did not match what we received."),
    ("QuotaExceeded", "Bucket quota exceeded"),
])
def test_a_400_that_is_the_puts_own_is_not_a_reason_to_drop_the_condition(storage, s3, code, message):
    s3.faults.reply("PUT", 400, code, times=None, message=message)  # botocore retries RequestTimeout itself
    with pytest.raises(StoreError):
        storage.save("match.jpg", ContentFile(b"first"))
    s3.faults.clear()
    assert storage.save("other.jpg", ContentFile(b"second")) == "other.jpg"
    conditions = [request.headers.get("if-none-match") for request in s3.requests() if request.method == "PUT"]
    assert len(conditions) >= 2 and set(conditions) == {"*"}  # no plain PUT, before or after


@pytest.mark.parametrize(("status", "code", "message"), [
    (503, "SlowDown", "Please reduce your request rate: request quota exceeded"),
    (429, "TooManyRequests", "Transaction quota exceeded"),
])
def test_a_throttled_store_is_busy_not_full(storage, s3, status, code, message):
    from storage.errors import StoreBusy

    s3.faults.reply("PUT", status, code, times=None, message=message)
    with pytest.raises(StoreBusy):
        storage.save_many({"2026/12/match-0123456789.jpg": b"photo"})


def test_a_refused_key_is_still_a_login_error(storage, s3):
    s3.faults.reply("PUT", 403, "AccessDenied", times=None, message="Access Denied")
    with pytest.raises(StoreLoginError):
        storage.save_many({"2026/12/match-0123456789.jpg": b"photo"})


def test_batch_deletes_carry_the_content_md5_strict_stores_require(storage, s3, s3_server):
    """B2, OVH and older gateways refuse boto3's CRC32 headers and want Content-MD5 on DeleteObjects:
    stock boto3 (since 1.36) is refused there; our storage is not, and its photos' writes pass too."""
    s3_server.strict_checksums = True
    storage.save_many({"2026/12/x.jpg": JPEG, "2026/12/x-480w.jpg": b"small"})
    assert storage.save("2026/12/y.jpg", ContentFile(b"y")) == "2026/12/y.jpg"
    stock = s3.client()
    with pytest.raises(ClientError, match="Content-MD5"):
        stock.delete_objects(Bucket=s3.bucket, Delete={"Objects": [{"Key": "2026/12/x.jpg"}]})
    storage.delete_many(["2026/12/x.jpg", "2026/12/x-480w.jpg", "2026/12/y.jpg", "2026/12/x-320w.avif"])
    assert s3.keys() == []
    delete = [request for request in s3.requests() if request.method == "POST"][-1]
    assert delete.headers["content-md5"] and not [name for name in delete.headers if "checksum" in name]
