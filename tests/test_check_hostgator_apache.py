"""check_hostgator proves the photo folder's guard by its effect (issue 8 §6), on a real Apache 2.4 + PHP
(tests/apache.py) whose public_html is the home of a real FTP server (the suite's pyftpdlib host): the
check uploads through FTP and fetches through Apache, as on HostGator.

Each set-up is one a shared host may have: ``AllowOverride None`` (the guard's bytes are there and
ignored: PHP runs), ``All`` in each PHP wiring (the guard refuses every probe), a stray .htaccess in a
month folder (photos there run as PHP), an override the guard needs forbidden (every photo answers 500),
the old guard on a host that forbids ``Options``, no mod_headers (no nosniff). After every run, failed
or not, no probe is left on the host.
"""

import os
import secrets

import pytest

from storage.embedded_state import place_default_images
from storage.health import check_hostgator
from storage.shipped import GUARD_FILE
from tests.apache import OLD_GUARD_OPTIONS, PHP_SETUPS, RESTRICTED_OVERRIDES, Apache, apache_available
from tests.ftp_servers import InstrumentedHostGator
from tests.hostgator_check_runs import LINKS, NOT_CONFINED, Result

pytestmark = pytest.mark.django_db

FOLDER = "static/article_images/"
RAN = b"PWNED-42"
PHP = b'<?php echo "PWNED-" . (6*7); ?>'
# A stray .htaccess as found on hacked shared hosts: every .jpg of its folder runs as PHP.
JPG_AS_PHP = '<FilesMatch "\\.jpg$">\n    SetHandler application/x-httpd-php\n</FilesMatch>\n'
OLD_GUARD = OLD_GUARD_OPTIONS + GUARD_FILE.read_text()  # as installed before it dropped its Options line


class Host:
    """Apache serving public_html, the FTP account's home holding it (as HostGator's main account)."""

    def __init__(self, apache, ftp):
        self.apache, self.ftp = apache, ftp
        self.root = ftp.root  # the photo folder on disk
        self.settings = {**ftp.settings, "PUBLIC_URL": apache.url(FOLDER)}

    def probes_left(self):
        return sorted(str(path.relative_to(self.apache.docroot)) for path in self.apache.docroot.rglob("*cmtch-probe*"))

    def run(self, fix=False):
        """check_hostgator once; no probe may be left, whatever the outcome."""
        report = check_hostgator(fix=fix)
        result = Result(0 if report.ok else 1, "\n".join(report.lines()))
        assert self.probes_left() == [], result.output
        assert result.labels() == [label for label in LINKS if label != "pending uploads"], result.output
        return result


@pytest.fixture
def host(tmp_path, settings, tls_certificate):
    """``start(php=..., allow_override=..., without_modules=...)`` -> a Host, settings pointed at it."""
    if not apache_available():
        if os.environ.get("CMTCH_REQUIRE_APACHE"):
            pytest.fail("Apache + mod_php are required here (CMTCH_REQUIRE_APACHE)")
        pytest.skip("Apache + mod_php are not installed (apt-get install apache2 libapache2-mod-php)")
    started = []

    def start(php="sethandler", allow_override="All", without_modules=()):
        apache = Apache(php=php, allow_override=allow_override, without_modules=without_modules).start()
        certfile, keyfile = tls_certificate
        ftp = InstrumentedHostGator(apache.base_dir, secrets.token_urlsafe(16), certfile=certfile, keyfile=keyfile)
        started.append((apache, ftp))
        ftp.start()
        place_default_images(ftp.root)
        host = Host(apache, ftp)
        settings.HOSTGATOR_FTP = host.settings
        return host

    yield start
    for apache, ftp in started:
        ftp.close()
        apache.stop()


def test_allow_override_none_the_guard_is_in_place_but_php_runs(host):
    served = host(allow_override="None")
    first = served.run(fix=True)
    assert first.code == 1
    assert first.line(".htaccess guard") == "✓ .htaccess guard  installed (--fix)"
    assert (served.root / ".htaccess").read_bytes() == GUARD_FILE.read_bytes()

    again = served.run()
    assert again.code == 1 and again.line(".htaccess guard") == "✓ .htaccess guard  in place"
    line = again.line("guard effect")
    assert line.startswith("✗ guard effect     PHP runs in the photo folder: the probe ran as .php .phtml .php7 ")
    assert "AllowOverride None" in line and "AllowOverride AuthConfig FileInfo" in line
    assert again.status("nosniff") == "⚠" and "ignores the guard (AllowOverride None)" in again.line("nosniff")


@pytest.mark.parametrize("php", sorted(PHP_SETUPS))
def test_allow_override_all_the_guard_refuses_every_probe(host, php):
    served = host(php=php)
    before = served.run()  # the default images are there, the guard is not
    assert before.code == 1 and before.status(".htaccess guard") == "✗"
    assert before.line("guard effect").startswith("✗ guard effect     PHP runs in the photo folder: the probe ran as")
    assert "--fix installs it" in before.line("guard effect")

    fixed = served.run(fix=True)
    assert fixed.code == 0, fixed.output
    assert fixed.line("guard effect") == "✓ guard effect     no probe script ran: .php .php.jpg .phtml .php7 refused"
    assert fixed.line("nosniff") == "✓ nosniff          photos are served with X-Content-Type-Options: nosniff"
    assert {fixed.status(label) for label in LINKS if label not in {NOT_CONFINED, "pending uploads"}} <= {"✓", "✓✓"}


def test_a_stray_htaccess_in_a_month_folder_is_named_and_fix_deletes_it(host):
    served = host(php="multiphp")  # public_html/.htaccess holds cPanel's own lines: never touched
    assert served.run(fix=True).code == 0
    site_rules = (served.apache.docroot / ".htaccess").read_bytes()
    served.apache.put(FOLDER + "2026/11/.htaccess", JPG_AS_PHP)
    served.apache.put(FOLDER + "2026/11/match.jpg", PHP)
    ran = served.apache.get(FOLDER + "2026/11/match.jpg")
    assert ran.status == 200 and RAN in ran.body  # the guard above does not stop it: the danger is real

    found = served.run()
    assert found.code == 1
    line = found.line("stray .htaccess")
    assert line.startswith("✗ stray .htaccess  2026/11/.htaccess: ") and "--fix deletes it" in line

    fixed = served.run(fix=True)
    assert fixed.code == 0 and fixed.line("stray .htaccess") == "✓ stray .htaccess  deleted (--fix): 2026/11/.htaccess"
    assert not (served.root / "2026/11/.htaccess").exists()
    assert (served.root / ".htaccess").read_bytes() == GUARD_FILE.read_bytes()
    assert (served.apache.docroot / ".htaccess").read_bytes() == site_rules
    after = served.apache.get(FOLDER + "2026/11/match.jpg")
    assert RAN not in after.body and after.body == PHP  # a file again, served as it is


def test_a_forbidden_override_is_reported_with_its_fix(host):
    served = host(allow_override="FileInfo")  # the guard's Require needs AuthConfig
    assert served.run().status("default image") == "✓✓"  # photos are served before the guard
    installed = served.run(fix=True)
    assert installed.code == 1 and installed.status("guard effect") == "✗"
    result = served.run()
    assert result.code == 1 and result.line(".htaccess guard") == "✓ .htaccess guard  in place"
    assert "HTTP 500" in result.line("default image")
    line = result.line("guard effect")
    assert line.startswith("✗ guard effect     every photo answers HTTP 500 under the guard: the host forbids")
    assert "not allowed" in line and "AllowOverride AuthConfig FileInfo" in line
    assert result.line("nosniff") == "· nosniff          not checked (photos answer HTTP 500)"
    assert "Require not allowed" in served.apache.error_log()  # what the line tells the operator to look for


def test_the_old_guard_on_a_host_that_restricts_options_is_replaced_by_fix(host):
    served = host(allow_override=RESTRICTED_OVERRIDES[-1])
    (served.root / ".htaccess").write_text(OLD_GUARD)
    (served.root / ".htaccess").chmod(0o644)
    broken = served.run()
    assert broken.code == 1 and "differs" in broken.line(".htaccess guard")
    assert "HTTP 500" in broken.line("default image")
    assert "not the current guard (older ones needed the Options override" in broken.line("guard effect")
    assert "--fix installs the current one" in broken.line("guard effect")

    fixed = served.run(fix=True)
    assert fixed.status("guard effect") == "✓", fixed.output  # proven right after the new guard went in
    assert (served.root / ".htaccess.before-cmtch").read_text() == OLD_GUARD
    again = served.run()
    assert again.code == 0, again.output
    assert again.status("default image") == "✓✓" and again.status("public URL") == "✓"


def test_no_nosniff_is_reported(host):
    served = host(without_modules=("headers_module",))
    result = served.run(fix=True)
    assert result.code == 0, result.output  # the guard works; the header is a warning
    assert result.status("guard effect") == "✓"
    line = result.line("nosniff")
    assert line.startswith("⚠ nosniff          photos are served without X-Content-Type-Options: nosniff")
    assert "applies the guard but has no mod_headers" in line
