"""check_hostgator's photo links: the folder (there, writable), a probe photo through the storage
(HostGatorStorage.save, the path every photo takes: upload, mode 644, fetched back byte-equal over the
public URL, deleted), the default images on FTP and HTTP, and the photos waiting in the database."""

import io
import posixpath
import secrets

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile

from storage.errors import StoreError
from storage.ftp.replies import translate
from storage.health.http import fetch, http_reason
from storage.health.report import FAILED, OK, WARNING, reason
from storage.names import VISIBLE_TEMP_PREFIX

PROBE_PREFIX = "cmtch-probe-"
EXPECTED_MODE = "644"
# The write trial has a temporary name (one left by a dropped connection is cleaned like the
# others), the visible kind: some servers refuse dot files, and that is not what is checked here.
TRIAL_PREFIX = f"{VISIBLE_TEMP_PREFIX}check-"


def check_folder(connection, remote_dir, out):
    folder = remote_dir.rstrip("/") or "/"
    try:
        found = connection.stat(folder)
    except Exception as error:  # noqa: BLE001 -- any failure here is a ✗ line, not a traceback
        out.add("folder", FAILED, f"{folder}: {reason(translate(error, 'MLST', folder))}")
        out.not_checked(["folder writable"], "no folder")
        return False
    if found is None or not found.is_dir:
        out.add("folder", FAILED, f"{folder}: {'not found' if found is None else 'is a file, not a folder'} "
                                  f"(HOSTGATOR_FTP_DIR)")
        out.not_checked(["folder writable"], "no folder")
        return False
    out.add("folder", OK, folder)
    trial = posixpath.join(folder, f"{TRIAL_PREFIX}{secrets.token_hex(6)}.part")
    try:
        connection.store_bytes(trial, b"")
        connection.delete(trial)
    except Exception as error:  # noqa: BLE001
        out.add("folder writable", FAILED, reason(translate(error, "STOR", trial)))
        return True  # reading still works: the default images and the guard can be checked
    out.add("folder writable", OK)
    return True


def probe_jpeg():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


def check_probe(storage, connection, out):
    data = probe_jpeg()
    try:
        name = storage.save(f"{PROBE_PREFIX}{secrets.token_hex(4)}.jpg", ContentFile(data))
    except (StoreError, SuspiciousFileOperation, OSError) as error:
        out.add("probe upload", FAILED, reason(error))
        out.not_checked(["mode 644", "public URL", "probe deleted"], "no probe")
        return
    out.add("probe upload", OK, f"{name} ({len(data)} bytes)")
    path = storage.remote_path(name)
    try:
        check_mode(connection, path, out)
        check_public_url(storage.url(name), data, connection.config.timeout, out)
    finally:
        try:
            storage.delete(name)
            gone = connection.stat(path) is None
        except Exception as error:  # noqa: BLE001
            out.add("probe deleted", FAILED, reason(translate(error, "DELE", path)))
        else:
            out.add("probe deleted", *((OK, "") if gone else (FAILED, f"{name} is still there")))


def check_mode(connection, path, out):
    try:
        mode = remote_mode(connection, path)
    except Exception as error:  # noqa: BLE001
        out.add("mode 644", FAILED, reason(translate(error, "MLST", path)))
        return
    if mode == EXPECTED_MODE:
        out.add("mode 644", OK)
    elif mode is None:
        out.add("mode 644", WARNING, "the server does not tell file modes (no MLST UNIX.mode, no LIST)")
    else:
        out.add("mode 644", FAILED, f"the probe got mode {mode}: Apache needs 644 (HOSTGATOR_FTP_FILE_MODE=644)")


def remote_mode(connection, path):
    """'644', from MLST's UNIX.mode fact, else from a LIST line ('-rw-r--r-- 1 ...'); None if unknown."""
    found = connection.stat(path)
    if found is not None and found.mode:
        return found.mode
    listing = connection.listing_lines(f"LIST {path}")
    for line in listing:
        if line[:1] == "-" and len(line) >= 10:
            return permissions_to_mode(line[1:10])
    return None


def permissions_to_mode(permissions):
    """'rw-r--r--' -> '644'."""
    digits = []
    for start in (0, 3, 6):
        triplet = permissions[start:start + 3]
        digits.append(str((triplet[0] == "r") * 4 + (triplet[1] == "w") * 2 + (triplet[2] not in "-ST") * 1))
    return "".join(digits)


def check_public_url(url, expected, timeout, out):
    try:
        served = fetch(url, timeout)
    except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
        server_failed = getattr(error, "code", 0) >= 500
        out.add("public URL", FAILED, http_reason(error, url) + ("" if server_failed else " (HOSTGATOR_PUBLIC_URL)"))
        return
    if served != expected:
        out.add("public URL", FAILED, f"{url} served {len(served)} bytes that are not the probe's {len(expected)}")
        return
    out.add("public URL", OK, url)


def check_default_images(storage, connection, out, fix, defaults_dir):
    for name in settings.DEFAULT_IMAGE_NAMES:
        path = storage.remote_path(name)
        label = "default image"
        try:
            found = connection.stat(path)
            fixed = ""
            if found is None and fix:
                shipped = defaults_dir / name
                if not shipped.is_file():
                    out.add(label, FAILED, f"{name} missing on the host, and {shipped} is not in this copy of the site")
                    continue
                with shipped.open("rb") as source:
                    connection.upload_atomically(path, source, overwrite=True)
                found, fixed = connection.stat(path), " (uploaded by --fix)"
        except Exception as error:  # noqa: BLE001
            out.add(label, FAILED, f"{name}: {reason(translate(error, 'upload', path))}")
            continue
        if found is None:
            out.add(label, FAILED, f"{name} missing on the host (--fix uploads it)")
            continue
        url = storage.url(name)
        try:
            served = fetch(url, connection.config.timeout)
        except (OSError, ValueError) as error:
            out.add(label, FAILED, f"{name} is on FTP but not over HTTP: {http_reason(error, url)}")
            continue
        if found.size is not None and len(served) != found.size:
            out.add(label, FAILED, f"{url} served {len(served)} bytes, the FTP file has {found.size}")
            continue
        out.add(label, OK, f"{name} on FTP and HTTP{fixed}")


def check_pending(count_pending, out):
    try:
        waiting = count_pending()
    except Exception as error:  # noqa: BLE001 -- e.g. the database is unreachable
        out.add("pending uploads", FAILED, f"cannot count them: {error}")
        return
    if waiting:
        out.add("pending uploads", WARNING, f"{waiting} photo(s) waiting: python manage.py retry_pending_uploads")
    else:
        out.add("pending uploads", OK, "none waiting")


