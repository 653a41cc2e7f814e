"""``check_hostgator``: prove the whole photo chain, one link at a time, as the club checks it after a
deploy. Each link gives one line, ✓ or ✗ with the reason (⚠: works, but look at it); the labels are
those of README.md's troubleshooting table, which says how to fix each ✗.

Links, in order: connect (DNS + TCP), TLS certificate (verified or pinned; its SHA-256 printed so
that it can be pinned), login, folder, folder writable, probe upload (through HostGatorStorage.save,
the path every photo takes), mode 644, public URL (the probe fetched back byte-equal), probe
deleted, the default images over FTP and HTTP, pending uploads, leftover temporary files, and the
folder's .htaccess guard. ``fix=True`` uploads missing default images and the guard (through the
transport: the storage refuses .svg and dot files on purpose) and deletes old temporary files.

The password is never printed: messages come from storage.errors, which never hold it, and every
line is scrubbed once more before it leaves.
"""

import ftplib
import hashlib
import io
import posixpath
import secrets
import ssl
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from storage.errors import HostGatorError, HostGatorTLSError
from storage.ftp import FTPConnection, RemoteFile, parse_ftp_time, translate
from storage.names import VISIBLE_TEMP_PREFIX, is_temporary

OK, FAILED, WARNING, NOT_CHECKED = "✓", "✗", "⚠", "·"

HERE = Path(__file__).resolve().parent
DEFAULT_IMAGES_DIR = HERE / "default_images"
GUARD_FILE = HERE / "photo_folder.htaccess"
GUARD_NAME = ".htaccess"
PROBE_PREFIX = "cmtch-probe-"
EXPECTED_MODE = "644"
LEFTOVER_AGE = timedelta(hours=1)
USER_AGENT = "cmtch-check_hostgator"  # mod_security on shared hosts may refuse Python-urllib's default
# The write trial has a temporary name (one left by a dropped connection is cleaned like the
# others), the visible kind: some servers refuse dot files, and that is not what is checked here.
TRIAL_PREFIX = f"{VISIBLE_TEMP_PREFIX}check-"


@dataclass
class Check:
    label: str
    status: str
    detail: str = ""

    def line(self):
        return f"{self.status} {self.label:<16} {self.detail}".rstrip()


@dataclass
class HealthReport:
    checks: list = field(default_factory=list)

    @property
    def failures(self):
        return [check for check in self.checks if check.status in {FAILED, NOT_CHECKED}]

    @property
    def ok(self):
        return not self.failures

    def lines(self):
        return [check.line() for check in self.checks]


class _Recorder:
    """Collects checks, scrubs the password out of them, hands each to ``on_check`` as it comes."""

    def __init__(self, password, on_check):
        self.report = HealthReport()
        self.password = password
        self.on_check = on_check

    def add(self, label, status, detail=""):
        if self.password:
            detail = detail.replace(self.password, "***")
        check = Check(label, status, detail)
        self.report.checks.append(check)
        if self.on_check:
            self.on_check(check)
        return status == OK

    def not_checked(self, labels, reason):
        for label in labels:
            self.add(label, NOT_CHECKED, f"not checked ({reason})")


def check_hostgator(storage=None, *, fix=False, count_pending=None, on_check=None, defaults_dir=None, guard_file=None):
    """Run every check against ``storage`` (default: default_storage, a HostGatorStorage) and return a
    HealthReport. ``count_pending``: a callable giving the number of photos waiting in the database
    (the articles app's PendingUpload; storage/ does not import it). ``on_check`` gets each Check as
    soon as it is known, so that a slow host shows progress."""
    storage = storage or default_storage
    try:
        config = storage.pool.config
    except (ValueError, KeyError) as error:
        recorder = _Recorder("", on_check)
        recorder.add("settings", FAILED, str(error))
        return recorder.report
    out = _Recorder(config.password, on_check)
    connection = connect_and_log_in(config, out)
    try:
        folder_ok = connection is not None and check_folder(connection, storage.remote_dir, out)
        if folder_ok:
            check_probe(storage, connection, out)
            check_default_images(storage, connection, out, fix, Path(defaults_dir or DEFAULT_IMAGES_DIR))
        else:
            if connection is None:
                out.not_checked(["folder", "folder writable"], "no FTP session")
            out.not_checked(["probe upload", "default images"], "no FTP session" if connection is None else "no folder")
        if count_pending is not None:
            check_pending(count_pending, out)
        if folder_ok:
            check_leftovers(storage, connection, out, fix)
            check_guard(storage, connection, out, fix, Path(guard_file or GUARD_FILE))
        else:
            out.not_checked(["temporary files", ".htaccess guard"],
                            "no FTP session" if connection is None else "no folder")
    finally:
        if connection is not None:
            connection.close()
    return out.report


# --- connect, TLS, login --------------------------------------------------------------------------

def connect_and_log_in(config, out):
    """One FTPConnection.open; the stage it failed at says which link broke."""
    where = f"{config.host}:{config.port}"
    try:
        connection = FTPConnection.open(config)
    except HostGatorError as error:
        stage = error.operation
        if stage == "connect":
            out.add("connect", FAILED, f"{where}: {reason(error)}")
            out.not_checked(["TLS certificate", "login"], "no connection")
            return None
        out.add("connect", OK, where)
        if stage == "AUTH TLS":
            detail = untrusted_certificate(config, error) if isinstance(error, HostGatorTLSError) else reason(error)
            out.add("TLS certificate", FAILED, detail)
            out.not_checked(["login"], "the password is not sent to an unverified server")
            return None
        out.add("TLS certificate", *tls_summary(config))
        out.add("login", FAILED, f"as {config.user}: {reason(error)}")
        return None
    out.add("connect", OK, where)
    sock = connection.ftp.sock
    fingerprint = certificate_fingerprint(sock.getpeercert(binary_form=True)) if isinstance(sock, ssl.SSLSocket) \
        else None
    out.add("TLS certificate", *tls_summary(config, fingerprint))
    out.add("login", OK, f"as {config.user}")
    return connection


def tls_summary(config, fingerprint=None):
    if config.tls == "off":
        return WARNING, "off (HOSTGATOR_FTP_TLS=off): the password and photos travel unencrypted"
    if config.tls_fingerprint:
        how = "pinned"
    else:
        how = f"verified ({'HOSTGATOR_FTP_CA_FILE' if config.ca_file else 'system CAs'})"
    return OK, f"{how}, SHA-256 {fingerprint}" if fingerprint else how


def certificate_fingerprint(der):
    return hashlib.sha256(der).hexdigest()


def untrusted_certificate(config, error):
    """Why the certificate was refused, what it names and its SHA-256, to pin it if it is the host's own.
    The certificate is read on a separate connection after AUTH TLS with verification off ONLY to
    print it: no USER or PASS is ever sent there."""
    try:
        der = peek_certificate(config)
    except (OSError, EOFError, ftplib.Error) as peek_error:
        return f"{reason(error)}; its certificate could not be read ({reason(translate(peek_error, 'AUTH TLS'))})"
    fingerprint, names = certificate_fingerprint(der), certificate_names(der)
    if config.tls_fingerprint:
        return f"SHA-256 {fingerprint} is not the pinned HOSTGATOR_FTP_TLS_FINGERPRINT (certificate for {names})"
    why = error.reason or "verification failed"
    return (f"not trusted: {why} (certificate for {names}); if it is your host's, pin it: "
            f"HOSTGATOR_FTP_TLS_FINGERPRINT={fingerprint}")


def peek_certificate(config):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # noqa: S323 -- only reads the certificate; nothing secret is sent
    ftp = ftplib.FTP_TLS(context=context, timeout=config.timeout)  # noqa: S321 -- TLS, and no login
    try:
        ftp.connect(config.host, config.port, timeout=config.timeout)
        ftp.auth()
        return ftp.sock.getpeercert(binary_form=True)
    finally:
        ftp.close()


def certificate_names(der):
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        certificate = x509.load_der_x509_certificate(der)
        try:
            alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = [*alternative.get_values_for_type(x509.DNSName),
                     *(str(address) for address in alternative.get_values_for_type(x509.IPAddress))]
        except x509.ExtensionNotFound:
            names = [attribute.value for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    except (ImportError, ValueError):
        names = []
    return ", ".join(names) or "an unnamed host"


def reason(error):
    """The short part of a HostGatorError: the server's reply and what it means."""
    if isinstance(error, HostGatorError):
        parts = [error.reply, f"({error.detail})" if error.reply and error.detail else error.detail]
        return " ".join(part for part in parts if part) or str(error)
    return str(error) or type(error).__name__


# --- folder, probe --------------------------------------------------------------------------------

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
    except (HostGatorError, SuspiciousFileOperation, OSError) as error:
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


def fetch(url, timeout):
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url} is not an http(s) URL")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310 -- checked just above
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return response.read()


def http_reason(error, url):
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} at {url}"
    detail = getattr(error, "reason", None) or error
    return f"cannot fetch {url}: {detail}"


def check_public_url(url, expected, timeout, out):
    try:
        served = fetch(url, timeout)
    except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
        out.add("public URL", FAILED, f"{http_reason(error, url)} (HOSTGATOR_PUBLIC_URL)")
        return
    if served != expected:
        out.add("public URL", FAILED, f"{url} served {len(served)} bytes that are not the probe's {len(expected)}")
        return
    out.add("public URL", OK, url)


# --- default images, pending uploads -------------------------------------------------------------

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


# --- leftovers, guard -----------------------------------------------------------------------------

def list_entries(connection, folder):
    """[(name, RemoteFile)] in ``folder``, temporary names included. LIST gives no usable time:
    there, MDTM is asked for the leftovers only."""
    entries = connection.entries(folder)
    if "MLST" in connection.features:
        return entries
    dated = []
    for name, entry in entries:
        if not entry.is_dir and is_leftover_name(name):
            try:
                modified = parse_ftp_time(connection.ftp.sendcmd(f"MDTM {folder}/{name}")[4:].strip())
            except ftplib.error_perm:
                modified = None
            entry = RemoteFile(size=None, modified=modified)
        dated.append((name, entry))
    return dated


def is_leftover_name(name):
    return is_temporary(name) or name.startswith(PROBE_PREFIX)


def find_leftovers(storage, older_than):
    """Temporary upload files (and probes of an interrupted check) older than ``older_than``, in the
    whole photo tree. Folders of one level are listed in parallel over the storage's connections."""
    leftovers = []
    level = [storage.remote_dir.rstrip("/")]
    with ThreadPoolExecutor(max_workers=max(1, storage.pool.limit)) as executor:
        while level:
            listings = executor.map(
                lambda folder: (folder, storage.pool.run("MLSD", folder, lambda c: list_entries(c, folder))), level)
            level = []
            for folder, entries in listings:
                for name, entry in entries:
                    path = posixpath.join(folder, name)
                    if entry.is_dir:
                        level.append(path)
                    elif is_leftover_name(name) and entry.modified is not None and entry.modified < older_than:
                        leftovers.append(path)
    return sorted(leftovers)


def check_leftovers(storage, connection, out, fix):
    label = "temporary files"
    try:
        leftovers = find_leftovers(storage, datetime.now(UTC) - LEFTOVER_AGE)
        if leftovers and fix:
            for path in leftovers:
                connection.delete(path)
            out.add(label, OK, f"{len(leftovers)} left by interrupted uploads, deleted (--fix)")
            return
    except Exception as error:  # noqa: BLE001
        out.add(label, FAILED, reason(translate(error, "MLSD", storage.remote_dir)))
        return
    if leftovers:
        shown = ", ".join(posixpath.relpath(path, storage.remote_dir) for path in leftovers[:3])
        more = f" and {len(leftovers) - 3} more" if len(leftovers) > 3 else ""
        out.add(label, WARNING, f"{len(leftovers)} older than an hour, left by interrupted uploads: {shown}{more} "
                                f"(--fix deletes them)")
    else:
        out.add(label, OK, "none older than an hour")


def check_guard(storage, connection, out, fix, guard_file):
    label = ".htaccess guard"
    path = posixpath.join(storage.remote_dir, GUARD_NAME)
    wanted = guard_file.read_bytes()
    try:
        current = read_remote_file(connection, path)
        if current != wanted and fix:
            if current is not None:  # somebody's own rules: kept beside it, not lost
                connection.upload_atomically(f"{path}.before-cmtch", io.BytesIO(current), overwrite=True)
            connection.upload_atomically(path, io.BytesIO(wanted), overwrite=True)
            installed = read_remote_file(connection, path) == wanted
            out.add(label, *((OK, "installed (--fix)") if installed else (FAILED, "could not be installed")))
            return
    except Exception as error:  # noqa: BLE001
        out.add(label, FAILED, reason(translate(error, "guard", path)))
        return
    if current is None:
        out.add(label, FAILED, "missing: Apache could run a script put in the folder (--fix installs it)")
    elif current != wanted:
        out.add(label, FAILED, f"differs from {guard_file.name} (--fix replaces it, keeping the old one as "
                               f"{GUARD_NAME}.before-cmtch)")
    else:
        out.add(label, OK, "in place")


def read_remote_file(connection, path):
    """The bytes of a small remote file, or None if it is not there."""
    if connection.stat(path) is None:
        return None
    chunks = []
    connection.retrieve(path, chunks.append)
    return b"".join(chunks)
