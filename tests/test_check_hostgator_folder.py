"""check_hostgator on what keeps the photo folder photos only (issue 8 §6), against the suite's pyftpdlib
host: the FTP account's reach (not confined, confined with HOSTGATOR_FTP_DIR=/, read-only above the folder),
guard probes always deleted or named, stray .htaccess files and their --fix, a bounded tree walk, and a fresh
embedded default (bin/dev) passing. The same checks against a real Apache: test_check_hostgator_apache.py."""

import secrets

import pytest
from django.core.files.base import ContentFile

from storage.backends import HostGatorStorage
from storage.embedded import EmbeddedHostGator
from storage.embedded_state import EmbeddedState, prepare_photo_folder
from storage.health.http import fetch
from tests.ftp_servers import ConfinedHostGator
from tests.hostgator_check_runs import LINKS, NOT_CONFINED, photo_files

pytestmark = pytest.mark.django_db


def test_an_account_that_can_write_outside_the_folder_is_warned_and_the_probe_is_gone(healthy, run):
    result = run()
    assert result.code == 0
    line = result.line("FTP confinement")
    assert line.startswith("⚠") and "can write outside the photo folder" in line and "/public_html/static" in line
    assert "confined" in line and "README" in line
    # The probe above the folder was deleted at once: only the photo folder is there.
    assert sorted(path.name for path in healthy.root.parent.iterdir()) == ["article_images"]


@pytest.fixture
def confined(tmp_path, settings, tls_certificate):
    """``start(how)``: a started ConfinedHostGator confined ``how``, the settings pointed at it."""
    def start(how):
        certfile, keyfile = tls_certificate
        server = ConfinedHostGator(tmp_path / "ftp-root", secrets.token_urlsafe(16), certfile=certfile, keyfile=keyfile,
                                   confined=how).start()
        servers.append(server)
        settings.HOSTGATOR_FTP = server.settings
        return server

    servers = []
    yield start
    for server in servers:
        server.close()


def test_an_account_confined_to_the_folder_with_dir_slash_is_green(confined, run):
    """The README's recommended set-up: a cPanel FTP account whose home is the photo folder,
    HOSTGATOR_FTP_DIR=/ and the same public URL."""
    server = confined("home")
    assert server.settings["DIR"] == "/" and server.settings["PUBLIC_URL"].endswith("/static/article_images/")
    result = run("--fix")
    assert result.code == 0, result.output
    assert result.labels() == LINKS and {result.status(label) for label in LINKS} == {"✓", "✓✓"}, result.output
    assert "HOSTGATOR_FTP_DIR=/" in result.line("FTP confinement")
    assert result.line("folder") == "✓ folder           /"
    assert photo_files(server.root) == [".htaccess", "default_article.jpg", "default_article.svg"]

    # The storage writes, names and serves photos there as under /public_html/static/article_images/.
    storage = HostGatorStorage()
    try:
        name = storage.save("2026/11/finale-0a1b2c3d4e.jpg", ContentFile(b"\xff\xd8 photo"))
        assert name == "2026/11/finale-0a1b2c3d4e.jpg" and storage.listdir("2026") == (["11"], [])
        assert (server.root / name).read_bytes() == b"\xff\xd8 photo"
        assert storage.url(name) == server.settings["PUBLIC_URL"] + name
        assert fetch(storage.url(name), 5) == b"\xff\xd8 photo"
    finally:
        storage.disconnect()


def test_an_account_that_may_write_only_in_the_folder_is_confined(confined, run):
    confined("read-only-above")
    result = run("--fix")
    assert result.code == 0, result.output
    line = result.line("FTP confinement")
    assert line.startswith("✓ FTP confinement  the account cannot write in /public_html/static") and "550" in line


def test_guard_probes_that_cannot_be_deleted_are_named(healthy, run):
    healthy.faults.reply("DELE", "550 Permission denied", times=None, argument_contains="cmtch-probe-guard-")
    result = run()
    healthy.faults.clear()
    assert result.code == 1
    line = result.line("guard effect")
    left = [name for name in photo_files(healthy.root) if name.startswith("cmtch-probe-guard-")]
    assert len(left) == 5 and line.startswith("✗") and "could not delete" in line and "File Manager" in line
    assert all(name in line for name in left)


def test_stray_configuration_files_in_subfolders(healthy, run):
    month = healthy.root / "2026" / "11"
    month.mkdir(parents=True)
    (month / ".htaccess").write_text('<FilesMatch "\\.jpg$">\n    SetHandler application/x-httpd-php\n</FilesMatch>\n')
    (healthy.root / "2026" / ".user.ini").write_text("auto_prepend_file=photo.jpg\n")
    (month / "photo.jpg").write_bytes(b"\xff\xd8 photo")
    result = run()
    assert result.code == 1
    line = result.line("stray .htaccess")
    assert line.startswith("✗") and "2026/11/.htaccess" in line and "2026/.user.ini" in line and "--fix" in line

    (healthy.root / ".user.ini").write_text("auto_prepend_file=default_article.jpg\n")
    fixed = run("--fix")
    line = fixed.line("stray .htaccess")
    assert fixed.code == 1 and line.startswith("✗") and "deleted (--fix): 2026/.user.ini, 2026/11/.htaccess" in line
    assert ".user.ini: " in line and "File Manager" in line  # in the folder itself: reported, never deleted
    assert photo_files(healthy.root) == [".htaccess", ".user.ini", "2026/11/photo.jpg", "default_article.jpg",
                                         "default_article.svg"]
    (healthy.root / ".user.ini").unlink()
    assert run().line("stray .htaccess") == "✓ stray .htaccess  none in the photo folder's subfolders"


def test_folders_too_deep_to_scan_are_named(healthy, run):
    (healthy.root / "a" / "b" / "c" / "d" / "e").mkdir(parents=True)
    result = run()
    assert result.code == 0
    assert result.line("stray .htaccess").startswith("⚠") and "a/b/c/d/e" in result.line("stray .htaccess")


def test_a_fresh_embedded_default_passes(tmp_path, settings, run):
    """What bin/dev starts (python -m storage.embedded): its photo folder prepared as --fix leaves the
    host, so check_hostgator passes at once; only the account's reach is a warning."""
    state = EmbeddedState(tmp_path / "embedded").prepare()
    prepare_photo_folder(state.photo_folder)
    server = EmbeddedHostGator(state.ftp_root, state.password(), certfile=state.cert_file,
                               keyfile=state.key_file).start()
    try:
        settings.HOSTGATOR_FTP = server.settings
        result = run()
    finally:
        server.close()
    assert result.code == 0, result.output
    assert {line[0] for line in result.lines if not line[2:].startswith(NOT_CONFINED)} == {"✓"}, result.output
    assert "served as plain files, not run" in result.line("guard effect")
    assert result.status("nosniff") == "✓"


def test_a_host_that_refuses_script_names_over_ftp_leaves_the_guard_unproven(healthy, run):
    for refused in (".php", ".phtml"):  # .php also catches .php.jpg and .php7
        healthy.faults.reply("STOR", "553 Prohibited file name", times=None, argument_contains=refused)
    result = run()
    assert result.code == 0  # a warning: nothing ran, nothing could be proven either
    line = result.line("guard effect")
    assert line.startswith("⚠ guard effect     not proven: the FTP server refused every probe script") and "553" in line
    assert result.status("nosniff") == "✓"
    assert photo_files(healthy.root) == [".htaccess", "default_article.jpg", "default_article.svg"]


def test_a_tree_that_cannot_be_listed_fails_both_of_its_lines(healthy, run):
    healthy.faults.reply("MLSD", "425 Can't open data connection", times=None)
    result = run()
    assert result.code == 1
    for label in ("temporary files", "stray .htaccess"):
        assert result.status(label) == "✗" and "425" in result.line(label)
    assert result.status("guard effect") == "✓" and result.status("FTP confinement") == "⚠"
