"""check_photo_storage on PHOTO_STORAGE=s3, against moto's S3 server: every link of the chain, what
--fix mends, and a line that says why for each thing that is wrong."""


import pytest

from tests.commands import run_command
from tests.s3_server import SECRET_ACCESS_KEY

pytestmark = pytest.mark.django_db


def check(*arguments):
    return run_command("check_photo_storage", *arguments)


def labels(output, status):
    return [line[2:].split("  ")[0].strip() for line in output.splitlines() if line.startswith(status)]


def test_a_healthy_bucket_passes_every_link_after_fix_puts_the_default_images(s3):
    code, output = check()
    assert code == 1 and labels(output, "✗") == ["default image", "default image"]
    assert "check_photo_storage --fix uploads it" in output
    code, output = check("--fix")
    assert code == 0, output
    assert labels(output, "✓") == ["settings", "bucket", "probe upload", "read back", "public URL", "Cache-Control",
                                   "probe deleted", "default image", "default image", "pending uploads"]
    assert "(uploaded now)" in output
    assert [key for key in s3.keys() if "probe" in key] == []
    assert s3.head("default_article.svg")["ContentType"] == "image/svg+xml"
    assert check()[0] == 0


def test_a_missing_bucket_says_so_and_checks_nothing_after_it(s3, settings):
    settings.PHOTO_S3 = {**s3.settings, "BUCKET": "no-such-bucket"}
    settings.STORAGES = {**settings.STORAGES}
    code, output = check()
    assert code == 1 and labels(output, "✗") == ["bucket"] and "404" in output
    assert "probe upload" in "".join(line for line in output.splitlines() if line.startswith("·"))
    assert SECRET_ACCESS_KEY not in output


def test_a_private_bucket_fails_the_public_url_with_a_hint(s3):
    s3.client().delete_bucket_policy(Bucket=s3.bucket)
    code, output = check("--fix")
    assert code == 1 and "public URL" in labels(output, "✗")
    assert "HTTP 403" in output and "is the bucket public" in output


def test_missing_settings_are_named(s3, settings):
    settings.PHOTO_S3 = {**s3.settings, "ACCESS_KEY_ID": "", "PUBLIC_URL": ""}
    settings.STORAGES = {**settings.STORAGES}
    code, output = check()
    assert code == 1 and "AWS_ACCESS_KEY_ID, PHOTO_PUBLIC_URL not set" in output
