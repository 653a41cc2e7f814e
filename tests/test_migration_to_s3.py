"""migrate_images_to_hostgator when the site's photos live in a bucket (PHOTO_STORAGE=s3): the
photos go where the pages read them, never to a store the site does not show; a HostGator URL whose
file is not in the bucket yet fails (and stays in its gallery) instead of being taken for missing."""

import urllib.parse
import urllib.request

import pytest

from articles.photo_migration import PIPELINE_NAME
from storage.names import rendition_name
from tests.commands import run_command
from tests.gallery_forms import article_with_photo, shown_photo
from tests.test_migration import normalised, photo

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(*arguments):
    return run_command("migrate_images_to_hostgator", *arguments)


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def test_on_s3_photos_go_to_the_bucket_and_a_hostgator_url_waits_for_transfer_photos(s3, tmp_path):
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "old.jpg").write_bytes(photo(1, wide=True))
    local = article_with_photo("Old", "articles/old.jpg")
    s3.client().put_object(Bucket=s3.bucket, Key="club.jpg", Body=photo(2))
    copied = article_with_photo("Club, copied over", "https://www.cmtch.online/static/article_images/club.jpg")
    in_bucket = article_with_photo("Bucket URL", s3.public_url + "club.jpg")
    not_copied = article_with_photo("Club, still on HostGator",
                                    "https://cmtch.online/static/article_images/" + urllib.parse.quote("fête.jpg"))

    code, output = migrate("--source", str(tmp_path), "--workers", "2")
    assert code == 1, output
    assert "1 migrated, 0 already there, 2 normalised, 0 missing, 1 failed" in output
    assert ("not on s3 nor in the source folders: if it is on HostGator, copy the photos over first "
            "(transfer_photos --from hostgator --to s3), then run this again") in output
    processed = normalised(photo(1, wide=True))
    name = shown_photo(local).name
    assert PIPELINE_NAME.match(name)
    expected = {name: processed.original.data, "club.jpg": photo(2)}
    expected.update({rendition_name(name, width): rendition.data for width, rendition in processed.renditions.items()})
    assert s3.keys() == sorted(expected)
    for key, data in expected.items():
        assert fetch(s3.public_url + key) == data  # what the pages link to
    assert shown_photo(copied).name == shown_photo(in_bucket).name == "club.jpg"
    # Not taken out of its gallery: once transfer_photos has copied it, a run normalises it.
    assert shown_photo(not_copied).name == "https://cmtch.online/static/article_images/f%C3%AAte.jpg"
    s3.client().put_object(Bucket=s3.bucket, Key="fête.jpg", Body=photo(3))
    code, output = migrate("--source", str(tmp_path))
    assert code == 0 and "0 migrated, 2 already there, 1 normalised, 0 missing, 0 failed" in output
    assert shown_photo(not_copied).name == "fête.jpg"


def test_names_already_on_hostgator_keep_their_galleries_until_they_are_in_the_bucket(s3, tmp_path):
    """The pipeline's names (and an earlier run's) are on HostGator, not on Render's disk: on an empty
    bucket they fail, with the way out, and stay in their galleries; once copied, they are there."""
    name = "2026/11/finale-0123456789.jpg"
    article = article_with_photo("Finale", name, width=400, height=300)
    gone = article_with_photo("Ancienne", "articles/gone.jpg")
    code, output = migrate("--source", str(tmp_path))
    assert code == 1 and "0 migrated, 0 already there, 0 normalised, 0 missing, 2 failed" in output
    assert shown_photo(article).name == name and shown_photo(gone).name == "articles/gone.jpg"
    s3.client().put_object(Bucket=s3.bucket, Key=name, Body=photo(5))  # transfer_photos did it
    code, output = migrate("--source", str(tmp_path))
    assert "0 migrated, 1 already there, 0 normalised, 0 missing, 1 failed" in output
    assert shown_photo(article).name == name


def test_the_buckets_cap_on_workers_is_not_hostgators(s3, tmp_path):
    (tmp_path / "old.jpg").write_bytes(photo(4))
    article = article_with_photo("Old", "old.jpg")
    code, output = migrate("--source", str(tmp_path), "--workers", "17")
    assert code == 1 and "--workers must be between 1 and 16 (each one holds a photo in memory)" in output
    code, output = migrate("--source", str(tmp_path), "--workers", "9")
    assert code == 0 and "1 migrated" in output  # more than HostGator's 8
    assert shown_photo(article).name in s3.keys()
