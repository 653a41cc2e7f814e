"""check_hostgator (issue 5) against the embedded servers: green once --fix has run, and each link of
the chain broken in turn, in the server or the settings, gives its ✗ and a non-zero exit. The
password never shows."""

import hashlib
import os
import re
import secrets
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from articles.models import PendingUpload, Photo
from storage.health import check_hostgator
from storage.shipped import DEFAULT_IMAGES_DIR, GUARD_FILE
from tests.ftp_servers import InstrumentedHostGator, free_port
from tests.hostgator_check_runs import LINKS, NOT_CONFINED, photo_files

pytestmark = pytest.mark.django_db


def test_green_after_fix_and_nothing_left_behind(hostgator, run):
    for name in ("default_article.jpg", "default_article.svg", ".htaccess"):
        (hostgator.root / name).unlink(missing_ok=True)
    before = run()
    assert before.code == 1
    assert before.status("default image") == "✗✗" and before.status(".htaccess guard") == "✗"

    fixed = run("--fix")
    assert fixed.code == 0, fixed.output
    assert fixed.labels() == LINKS
    assert {fixed.status(label) for label in LINKS if label != NOT_CONFINED} == {"✓", "✓✓"}
    assert fixed.status(NOT_CONFINED) == "⚠" and "/public_html/static" in fixed.line(NOT_CONFINED)
    assert "uploaded by --fix" in fixed.line("default image") and "installed" in fixed.line(".htaccess guard")
    assert (hostgator.root / ".htaccess").read_bytes() == GUARD_FILE.read_bytes()
    for name in ("default_article.jpg", "default_article.svg"):
        assert (hostgator.root / name).read_bytes() == (DEFAULT_IMAGES_DIR / name).read_bytes()
        assert oct((hostgator.root / name).stat().st_mode & 0o777) == "0o644"

    again = run()
    assert again.code == 0 and again.labels() == LINKS and "All checks passed." in again.output
    # The probe went through the storage's atomic upload and is gone; no trial or temporary file stays.
    assert photo_files(hostgator.root) == [".htaccess", "default_article.jpg", "default_article.svg"]
    verbs = hostgator.verbs()
    assert {"STOR", "MLST", "RNFR", "RNTO", "DELE"} <= set(verbs)
    assert f"SHA-256 {server_fingerprint(hostgator)}" in again.line("TLS certificate")


def test_wrong_password(healthy, settings, run):
    settings.HOSTGATOR_FTP = {**healthy.settings, "PASSWORD": "wrong-" + secrets.token_urlsafe(12)}
    result = run()
    assert result.code == 1
    assert result.status("connect") == "✓" and result.status("TLS certificate") == "✓"
    assert result.status("login") == "✗" and "530" in result.line("login")
    assert result.status("probe upload") == "·"


@pytest.mark.parametrize("where", ["unknown host", "closed port"])
def test_host_unreachable(healthy, settings, run, where):
    change = {"HOST": "ftp.cmtch-nowhere.invalid"} if where == "unknown host" else {"PORT": free_port()}
    settings.HOSTGATOR_FTP = {**healthy.settings, **change}
    result = run()
    assert result.code == 1
    assert result.status("connect") == "✗"
    assert ("unknown host" if where == "unknown host" else "refused") in result.line("connect")
    assert result.status("login") == "·" and result.status("folder") == "·"
    # Only the broken link counts as a failure; the links after it were not checked.
    not_checked = sum(line.startswith("·") for line in result.lines)
    assert not_checked >= 10 and not_checked == result.output.count("not checked (")
    assert [line[0] for line in result.lines].count("✗") == 1
    assert f"CommandError: 1 check failed (connect); {not_checked} not checked;" in result.output


def test_stalled_host_fails_within_the_timeout(black_hole, settings, run):
    settings.HOSTGATOR_FTP = black_hole.settings(timeout=1.0)
    started = datetime.now(UTC)
    result = run()
    assert result.code == 1 and result.status("connect") == "✗" and "no answer in time" in result.line("connect")
    assert datetime.now(UTC) - started < timedelta(seconds=5)


def server_fingerprint(hostgator):
    pem = Path(hostgator.settings["CA_FILE"]).read_text()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def test_untrusted_certificate_shows_its_fingerprint_and_never_sends_the_password(healthy, settings, run):
    settings.HOSTGATOR_FTP = {**healthy.settings, "CA_FILE": None}
    result = run()
    assert result.code == 1
    line = result.line("TLS certificate")
    assert line.startswith("✗") and "certificate" in line and "HOSTGATOR_FTP_TLS_FINGERPRINT" in line
    assert server_fingerprint(healthy) in line and "localhost" in line
    assert result.status("login") == "·"
    assert not {"USER", "PASS"} & set(healthy.verbs())

    # The operator pins what was printed: the whole chain is green again.
    printed = re.search(r"HOSTGATOR_FTP_TLS_FINGERPRINT=([0-9a-f]{64})", line).group(1)
    settings.HOSTGATOR_FTP = {**healthy.settings, "CA_FILE": None, "TLS_FINGERPRINT": printed}
    pinned = run()
    assert pinned.code == 0, pinned.output
    assert pinned.line("TLS certificate").startswith("✓ TLS certificate  pinned")


def test_wrong_pin_is_refused_before_the_password(healthy, settings, run):
    settings.HOSTGATOR_FTP = {**healthy.settings, "CA_FILE": None, "TLS_FINGERPRINT": "ab" * 32}
    result = run()
    assert result.code == 1 and result.status("TLS certificate") == "✗"
    assert f"SHA-256 {server_fingerprint(healthy)} is not the pinned" in result.line("TLS certificate")
    assert not {"USER", "PASS"} & set(healthy.verbs())


def test_folder_missing(healthy, settings, run):
    settings.HOSTGATOR_FTP = {**healthy.settings, "DIR": "/public_html/static/no_such_folder/"}
    result = run()
    assert result.code == 1
    assert result.status("folder") == "✗" and "not found" in result.line("folder")
    assert result.status("probe upload") == "·"
    assert not (healthy.root.parent / "no_such_folder").exists()


def test_folder_not_writable(healthy, run):
    # What Pure-FTPd answers in a 555 folder. Injected in the server: the tests run as root here,
    # and root writes through a chmod 555.
    healthy.root.chmod(0o555)
    healthy.faults.reply("STOR", "553 Can't open that file: Permission denied", times=None)
    try:
        result = run()
    finally:
        healthy.root.chmod(0o755)
    assert result.code == 1
    assert result.status("folder") == "✓"
    assert result.status("folder writable") == "✗" and "553" in result.line("folder writable")
    assert result.status("probe upload") == "✗"
    assert result.status("default image") == "✓✓" and result.status(".htaccess guard") == "✓"


@pytest.mark.parametrize("wrong", ["nothing listens", "another folder"])
def test_public_url_wrong(healthy, settings, run, wrong):
    url = (f"http://127.0.0.1:{free_port()}/static/article_images/" if wrong == "nothing listens"
           else healthy.public_url.replace("/article_images/", "/other_images/"))
    settings.HOSTGATOR_FTP = {**healthy.settings, "PUBLIC_URL": url}
    result = run()
    assert result.code == 1
    line = result.line("public URL")
    assert line.startswith("✗") and url in line
    assert ("refused" if wrong == "nothing listens" else "HTTP 404") in line
    assert result.status("probe upload") == "✓" and result.status("probe deleted") == "✓"
    assert result.status("default image") == "✗✗"
    assert photo_files(healthy.root) == [".htaccess", "default_article.jpg", "default_article.svg"]


class CatchAllPage(BaseHTTPRequestHandler):
    """A parked domain or a CMS: 200 and the same page whatever is asked."""

    def do_GET(self):
        body = b"<html><body>Bienvenue sur cmtch.online</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_public_url_serving_other_bytes(healthy, settings, run):
    server = ThreadingHTTPServer(("127.0.0.1", 0), CatchAllPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.HOSTGATOR_FTP = {**healthy.settings,
                                  "PUBLIC_URL": f"http://127.0.0.1:{server.server_port}/static/article_images/"}
        result = run()
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 1
    assert result.status("public URL") == "✗" and "not the probe's" in result.line("public URL")
    assert result.status("default image") == "✗✗"


def test_default_image_missing(healthy, run):
    (healthy.root / "default_article.svg").unlink()
    result = run()
    assert result.code == 1
    assert result.status("default image") == "✓✗" and "default_article.svg missing" in result.output
    fixed = run("--fix")
    assert fixed.code == 0 and "default_article.svg on FTP and HTTP (uploaded by --fix)" in fixed.output
    shipped = DEFAULT_IMAGES_DIR / "default_article.svg"
    assert (healthy.root / "default_article.svg").read_bytes() == shipped.read_bytes()


def test_guard_missing_or_changed(healthy, run):
    (healthy.root / ".htaccess").unlink()
    result = run()
    assert result.code == 1 and result.status(".htaccess guard") == "✗" and "missing" in result.line(".htaccess guard")

    (healthy.root / ".htaccess").write_bytes(b"# the club's own rules\nOptions +Indexes\n")
    changed = run()
    assert changed.code == 1 and "differs" in changed.line(".htaccess guard")
    assert run("--fix").code == 0
    assert (healthy.root / ".htaccess").read_bytes() == GUARD_FILE.read_bytes()
    assert (healthy.root / ".htaccess.before-cmtch").read_bytes() == b"# the club's own rules\nOptions +Indexes\n"


class PrivateFilesHostGator(InstrumentedHostGator):
    """A host whose FTP server creates files 600 (umask 077) and ignores nothing else."""

    def _make_handler_class(self):
        handler = super()._make_handler_class()

        class PrivateFiles(handler.abstracted_fs):
            def open(self, filename, mode):
                file = super().open(filename, mode)
                if any(flag in mode for flag in "wa"):
                    os.fchmod(file.fileno(), 0o600)
                return file

        handler.abstracted_fs = PrivateFiles
        return handler


def test_mode_wrong(tmp_path, settings, tls_certificate, run):
    certfile, keyfile = tls_certificate
    server = PrivateFilesHostGator(tmp_path / "ftp-root", secrets.token_urlsafe(16), certfile=certfile,
                                   keyfile=keyfile).start()
    try:
        settings.HOSTGATOR_FTP = {**server.settings, "FILE_MODE": None}  # no SITE CHMOD: the umask decides
        result = run("--fix")
        assert result.code == 1
        assert result.status("mode 644") == "✗" and "600" in result.line("mode 644")
        assert result.status("probe upload") == "✓" and result.status("probe deleted") == "✓"

        settings.HOSTGATOR_FTP = server.settings  # FILE_MODE 644: SITE CHMOD puts it right
        assert run().code == 0
    finally:
        server.close()


def test_pending_uploads_are_a_warning(healthy, run):
    photo = Photo.objects.create(name="2026/11/en-attente-0123456789.jpg", width=1, height=1, on_store=False)
    PendingUpload.objects.create(photo=photo, name=photo.name, data=b"x", width=1, height=1)
    result = run()
    assert result.code == 0
    assert result.line("pending uploads").startswith("⚠") and "1 photo(s) waiting" in result.line("pending uploads")


def test_old_temporary_files_are_reported_and_fix_deletes_them(healthy, run):
    folder = healthy.root / "2026" / "11"
    folder.mkdir(parents=True)
    old, fresh, probe = folder / ".cmtch-tmp-0123456789ab.part", folder / ".cmtch-tmp-ba9876543210.part", \
        healthy.root / "cmtch-probe-00ff00ff.jpg"
    for path in (old, fresh, probe):
        path.write_bytes(b"half a photo")
    two_hours_ago = (datetime.now() - timedelta(hours=2)).timestamp()
    for path in (old, probe):
        os.utime(path, (two_hours_ago, two_hours_ago))

    result = run()
    assert result.code == 0
    line = result.line("temporary files")
    assert line.startswith("⚠ temporary files  2 older than an hour")
    assert "2026/11/.cmtch-tmp-0123456789ab.part" in line and "cmtch-probe-00ff00ff.jpg" in line
    assert "ba9876543210" not in line

    fixed = run("--fix")
    assert fixed.code == 0 and "2 left by interrupted uploads, deleted" in fixed.line("temporary files")
    assert not old.exists() and not probe.exists() and fresh.exists()  # one being written now is left alone


def test_plain_ftp_is_a_warning(hostgator_plain, run):
    result = run("--fix")
    assert result.code == 0, result.output
    assert result.line("TLS certificate").startswith("⚠") and "unencrypted" in result.line("TLS certificate")


def test_functions_report_without_the_command(healthy):
    """The logic is importable: the report says what the command prints."""
    seen = []
    report = check_hostgator(on_check=seen.append)
    assert report.ok and report.checks == seen
    assert [check.label for check in report.checks] == [label for label in LINKS if label != "pending uploads"]
