"""``manage.py regenerate_renditions`` (issue 10) on a store of photos that have only the JPEG copies
the first site made, against the real FTP server on loopback: everything new lands, a second run
uploads nothing, an interrupted run resumes, and a photo that cannot be completed says why."""

import io

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from PIL import Image

from articles import photo_regeneration
from articles.models import Photo
from articles.photo_processing import process_upload
from articles.photo_renditions import files_missing
from articles.photos import store_photo

pytestmark = pytest.mark.django_db(transaction=True)


def photo_bytes(index, size=(1000, 750)):
    image = Image.merge("RGB", (Image.linear_gradient("L").resize(size), Image.effect_noise(size, 30 + index),
                                Image.radial_gradient("L").resize(size)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def old_photos():
    """Four photos as the first site left them: the original and its 480 and 1024 px JPEG copies
    (1024 only when narrower), Photo.files saying so (migration 0007), on the default storage."""
    photos = []
    for index, size in enumerate([(1000, 750), (1200, 900), (800, 600), (1600, 1200)]):
        photo, _ = store_photo(process_upload(photo_bytes(index, size), f"p{index}.jpg"), f"photo-{index}")
        photos.append(photo)
    for photo in photos:
        assert set(photo.files) == {"jpg"} and files_missing(photo)
    return photos


@pytest.fixture
def old_store(hostgator):
    return old_photos()


@pytest.fixture
def old_store_anywhere(photo_store):
    return old_photos()


def run(*args):
    output = io.StringIO()
    call_command("regenerate_renditions", *args, stdout=output)
    return output.getvalue()


def every_missing(photos):
    return {photo.pk: files_missing(Photo.objects.get(pk=photo.pk)) for photo in photos}


def test_everything_new_lands_and_a_second_run_uploads_nothing(old_store_anywhere, photo_store):
    old_store = old_store_anywhere
    before = set(photo_store.files())
    expected_new = sum(len(missing) for missing in every_missing(old_store).values())
    assert expected_new == 2 * (6 + 7 + 5 + 8) + 4 + 4 + 3 + 5  # AVIF, WebP at every width; the new JPEG widths

    output = run("--dry-run")
    assert f"DRY RUN — nothing changed. 4 photos would get {expected_new} files" in output
    assert set(photo_store.files()) == before

    photo_store.forget()
    output = run("--workers", "3")
    assert f"4 photos completed ({expected_new} files" in output and "0 failed" in output
    assert photo_store.downloads() == 4  # each original downloaded once
    after = set(photo_store.files())
    assert len(after - before) == expected_new and before <= after
    assert every_missing(old_store) == {photo.pk: set() for photo in old_store}
    full_widths = {photo.name.rsplit(".", 1)[0]: photo.width for photo in old_store}
    for name in after - before:  # each new file decodes, in its format, at the width its name says
        image = Image.open(io.BytesIO(photo_store.read(name)))
        stem, extension = name.rsplit(".", 1)
        assert image.format == {"avif": "AVIF", "webp": "WEBP", "jpg": "JPEG"}[extension], name
        assert stem.endswith(f"-{image.width}w") or full_widths[stem] == image.width, name

    photo_store.forget()
    output = run()
    assert "0 photos completed (0 files" in output and "4 had them all already" in output
    assert photo_store.uploads() == 0 and photo_store.downloads() == 0


def test_an_interrupted_run_resumes_where_it_stopped(old_store, hostgator, monkeypatch):
    seen = []

    def interrupt_after_the_first(outcome):
        seen.append(outcome)
        raise KeyboardInterrupt  # Ctrl-C as the first photo ends

    with pytest.raises(KeyboardInterrupt):
        photo_regeneration.regenerate_renditions(workers=1, progress=interrupt_after_the_first)
    left = [pk for pk, missing in every_missing(old_store).items() if missing]
    assert len(left) == 3  # the first photo is complete and recorded, the others untouched
    hostgator.forget_commands()
    assert "3 photos completed" in run()
    assert hostgator.verbs().count("RETR") == 3  # only those left
    assert not any(every_missing(old_store).values())


def test_a_photo_that_cannot_be_completed_fails_alone_and_the_host_down_stops_the_run(old_store, hostgator):
    (hostgator.root / old_store[2].name).unlink()  # its original is gone from the store
    with pytest.raises(CommandError, match="1 photo\\(s\\) not completed"):
        run()
    missing = every_missing(old_store)
    assert missing[old_store[2].pk] and not any(missing[photo.pk] for photo in old_store if photo != old_store[2])

    # The host down: nothing is recorded, every photo is reported, and the command fails.
    (hostgator.root / old_store[2].name).write_bytes(b"")  # still unreadable: a 0-byte original
    hostgator.stop()
    with pytest.raises(CommandError):
        run("-v", "2")
    assert Photo.objects.get(pk=old_store[2].pk).files == {"jpg": [480, 800]}
    assert settings.PHOTO_RENDITIONS_LATER == "off"
