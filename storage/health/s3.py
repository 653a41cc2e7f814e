"""check_photo_storage on PHOTO_STORAGE=s3: check_hostgator's counterpart for the bucket, one line per
link as there (✓ ✗ ⚠ ·): the settings, the bucket (credentials, bucket, endpoint), a probe photo
through PhotoS3Storage.save (the path every photo takes) read back, fetched at its public URL
byte-equal with its Content-Type and a year's Cache-Control, deleted; the default images in the
bucket and at their public URL (``fix``: uploaded from storage/default_images/); the photos waiting.

The secret key is never printed: the errors never hold it, and the recorder scrubs it once more."""

import secrets
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile

from storage.health.http import get, http_reason
from storage.health.photo_chain import PROBE_PREFIX, check_pending, probe_jpeg
from storage.health.report import FAILED, OK, WARNING, Recorder, reason
from storage.names import content_type_of
from storage.s3 import CACHE_CONTROL
from storage.shipped import DEFAULT_IMAGES_DIR

SETTINGS = {"BUCKET": "AWS_STORAGE_BUCKET_NAME", "ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID",
            "SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY", "PUBLIC_URL": "PHOTO_PUBLIC_URL"}
PROBE_LINKS = ["read back", "public URL", "Cache-Control", "probe deleted"]


def check_s3(storage, *, fix=False, count_pending=None, on_check=None, defaults_dir=None):
    out = Recorder(storage.secret_key or "", on_check)
    missing = [variable for key, variable in SETTINGS.items() if not settings.PHOTO_S3.get(key)]
    if missing:
        out.add("settings", FAILED, f"{', '.join(missing)} not set")
        out.not_checked(["bucket", "probe upload", *PROBE_LINKS, "default images"], "no settings")
    else:
        out.add("settings", OK, f"bucket {storage.bucket_name} at {storage.endpoint_url or 'AWS S3'}")
        if check_bucket(storage, out):
            check_probe(storage, out)
            check_default_images(storage, out, fix, Path(defaults_dir or DEFAULT_IMAGES_DIR))
        else:
            out.not_checked(["probe upload", *PROBE_LINKS, "default images"], "no bucket")
    if count_pending is not None:
        check_pending(count_pending, out)
    return out.report


def check_bucket(storage, out):
    try:
        storage.head_bucket()
    except Exception as error:  # noqa: BLE001 -- any failure here is a ✗ line, not a traceback
        out.add("bucket", FAILED, reason(error))
        return False
    return out.add("bucket", OK, storage.bucket_name)


def check_probe(storage, out):
    data = probe_jpeg()
    try:
        name = storage.save(f"{PROBE_PREFIX}{secrets.token_hex(4)}.jpg", ContentFile(data))
    except Exception as error:  # noqa: BLE001
        out.add("probe upload", FAILED, reason(error))
        out.not_checked(PROBE_LINKS, "no probe")
        return
    out.add("probe upload", OK, f"{name} ({len(data)} bytes)")
    try:
        with storage.open(name) as stored:
            same = stored.read() == data
        out.add("read back", *((OK, "") if same else (FAILED, "the bucket gave back other bytes")))
        check_public_copy(storage, name, data, out)
    except Exception as error:  # noqa: BLE001
        out.add("read back", FAILED, reason(error))
    finally:
        try:
            storage.delete(name)
            gone = not storage.exists(name)
        except Exception as error:  # noqa: BLE001
            out.add("probe deleted", FAILED, reason(error))
        else:
            out.add("probe deleted", *((OK, "") if gone else (FAILED, f"{name} is still there")))


def check_public_copy(storage, name, data, out):
    url = storage.url(name)
    try:
        served = get(url, storage.timeout)
    except (OSError, ValueError) as error:
        out.add("public URL", FAILED, http_reason(error, url) + " (PHOTO_PUBLIC_URL)")
        out.not_checked(["Cache-Control"], "no public URL")
        return
    if served.status != 200 or served.body != data:
        hint = " (is the bucket public, or PHOTO_PUBLIC_URL its custom domain?)" if served.status in {401, 403} else ""
        out.add("public URL", FAILED, f"HTTP {served.status} at {url}{hint}" if served.status != 200
                else f"{url} served {len(served.body)} bytes that are not the probe's {len(data)}")
        out.not_checked(["Cache-Control"], "no public URL")
        return
    kind = served.headers.get("Content-Type", "")
    out.add("public URL", *((OK, url) if kind == "image/jpeg" else (WARNING, f"{url} served as {kind!r}")))
    cache = served.headers.get("Cache-Control", "")
    out.add("Cache-Control", *((OK, cache) if cache == CACHE_CONTROL else (
        WARNING, f"{cache or 'none'} at the public URL (the bucket holds {CACHE_CONTROL!r}: a CDN rule?)")))


def check_default_images(storage, out, fix, defaults_dir):
    for name in settings.DEFAULT_IMAGE_NAMES:
        try:
            fixed = ""
            if not storage.exists(name) and fix and (defaults_dir / name).is_file():
                storage.save_own_file(name, (defaults_dir / name).read_bytes())
                fixed = " (uploaded now)"
            if not storage.exists(name):
                out.add("default image", FAILED, f"{name} missing in the bucket (check_photo_storage --fix uploads it)")
                continue
            served = get(storage.url(name), storage.timeout)
        except Exception as error:  # noqa: BLE001
            out.add("default image", FAILED, f"{name}: {reason(error)}")
            continue
        if served.status != 200:
            out.add("default image", FAILED, f"{name}: HTTP {served.status} at {storage.url(name)}")
        elif served.headers.get("Content-Type", "") != content_type_of(name):
            out.add("default image", WARNING, f"{name} served as {served.headers.get('Content-Type')!r}{fixed}")
        else:
            out.add("default image", OK, f"{name}{fixed}")
