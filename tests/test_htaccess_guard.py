"""The photo folder's .htaccess guard (storage/photo_folder.htaccess, installed by `check_hostgator --fix`)
on a real Apache 2.4 + mod_php (tests/apache.py), in each way shared hosts wire PHP (``PHP_SETUPS``).

First without the guard, to show that the danger is real in this Apache (a script uploaded in the photo
folder runs, ``x.php.jpg`` too behind AddHandler, the folder is listed, hidden files are served); then
with it: every script, page, hidden or half-uploaded file is refused; photos (every name and format the
site writes) and the default SVG are still served, with nosniff; no folder is listed; the guard itself
is not served and Apache accepts every line of it. A control shows that this Apache does read the
folder's .htaccess at all.
"""

import io
import os
import re
import shutil

import pytest
from PIL import Image

from storage.names import DANGEROUS_EXTENSIONS
from storage.shipped import DEFAULT_IMAGES_DIR, GUARD_FILE
from tests.apache import MIME_TYPES, OLD_GUARD_OPTIONS, PHP_SETUPS, RESTRICTED_OVERRIDES, Apache, apache_available

FOLDER = "static/article_images/"
PHP = b'<?php echo "PWNED-" . (6*7); ?>'
RAN = b"PWNED-42"  # only in a body if PHP ran: no file contains it literally
SOURCE = b"<?php"


def small_image(image_format):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (11, 93, 30)).save(buffer, image_format)
    return buffer.getvalue()


PHOTO = small_image("JPEG")
DEFAULT_SVG = (DEFAULT_IMAGES_DIR / "default_article.svg").read_bytes()
# What the site puts in the folder (storage/images.py photo_name and renditions, check_hostgator's probe,
# the default image) -> (bytes, Content-Type Apache must give).
PHOTOS = {
    "photo.jpg": (PHOTO, "image/jpeg"),
    "2026/11/photo.jpg": (PHOTO, "image/jpeg"),
    "2026/11/finale-dames-3a4b5c6d7e.jpg": (PHOTO, "image/jpeg"),
    "2026/11/finale-dames-3a4b5c6d7e-480w.jpg": (PHOTO, "image/jpeg"),
    "2026/11/tournoi-1a2b3c4d5e.png": (small_image("PNG"), "image/png"),
    "2026/11/tournoi-1a2b3c4d5e-480w.webp": (small_image("WEBP"), "image/webp"),
    "2026/11/finale-dames-3a4b5c6d7e-480w.avif": (small_image("AVIF"), "image/avif"),
    "2026/11/finale-dames-3a4b5c6d7e.avif": (small_image("AVIF"), "image/avif"),
    "2026/11/finale-dames-3a4b5c6d7e-1600w.webp": (small_image("WEBP"), "image/webp"),
    "2026/11/club-0a1b2c3d4e.gif": (small_image("GIF"), "image/gif"),
    "cmtch-probe-1a2b3c4d.jpg": (PHOTO, "image/jpeg"),  # fetched back through the public URL after --fix
    "default_article.jpg": ((DEFAULT_IMAGES_DIR / "default_article.jpg").read_bytes(), "image/jpeg"),
}

# What the folder must never serve, each with the PHP payload: it must neither run (PWNED-42) nor show
# (<?php), whatever the handler set-up.
DANGEROUS_FILES = {
    "evil.php": PHP,
    "evil.php.jpg": PHP,
    "evil.phtml": PHP,
    "evil.phar": PHP,
    "x.php5": PHP,
    "x.php7": PHP,
    "x.php8": PHP,
    "x.pht": PHP,
    "x.phps": PHP,
    "x.PHP": PHP,
    "x.Php.jpg": PHP,
    "x.jpg.php": PHP,
    "x.php.": PHP,  # mod_mime skips the empty last extension: runs behind AddHandler
    "page.html": b"<html><body><script>document.title='x'</script>" + PHP + b"</body></html>",
    "logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><!-- ' + PHP + b" --></svg>",
    "script.js": b"alert(1); // " + PHP,
    "shell.cgi": b"#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho PWNED-$((6*7))\n# " + PHP,
    ".user.ini": b"auto_prepend_file=evil.php.jpg\n; " + PHP,
    ".hidden.jpg": PHOTO + PHP,
    "cmtch-tmp-abc.part": PHOTO[:40] + PHP,
    ".cmtch-tmp-abc.part": PHOTO[:40] + PHP,
    ".htaccess.before-cmtch": b"AddType application/x-httpd-php .jpg\n# " + PHP,  # what --fix keeps aside
    "2026/11/evil.php.jpg": PHP,
    "2026/11/evil.php": PHP,
}

# The same files reached by other spellings of the URL.
DANGEROUS_URLS = [
    *DANGEROUS_FILES,
    "evil.php/photo.jpg",  # PATH_INFO: the script runs, the URL looks like a photo
    "evil.php.jpg/photo.jpg",
    "evil%2Ephp",
    "evil.php?x=.jpg",
    "2026/11/evil.php.jpg?download",
]

FOLDERS = ["", "2026/", "2026/11/"]

# Which URLs run PHP without the guard in each set-up: the proof that the guard has something to stop.
RUNS_WITHOUT_GUARD = {
    "sethandler": ["evil.php", "evil.phtml", "x.php5", "x.jpg.php", "evil.php/photo.jpg", "evil%2Ephp",
                   "2026/11/evil.php"],
    "addhandler": ["evil.php", "evil.php.jpg", "x.PHP", "x.Php.jpg", "x.php.", "evil.php/photo.jpg",
                   "evil.php.jpg/photo.jpg", "2026/11/evil.php.jpg"],
    "multiphp": ["evil.php", "evil.php.jpg", "evil.phtml", "x.php8", "x.PHP", "x.php.", "2026/11/evil.php.jpg"],
    "addtype": ["evil.php", "x.PHP", "x.php.", "evil.php/photo.jpg", "2026/11/evil.php"],
}

# Gaps found on this Apache (see test_the_guard_also_refuses_...): names the guard lets through although
# cPanel's PHP-FPM runs them or the storage refuses them (storage/names.py DANGEROUS_EXTENSIONS).
GAP_FILES = {
    "x.php10": PHP,  # cPanel's PHP-FPM vhosts: <FilesMatch \.(phtml|php[0-9]*)$>; the guard has php\d?
    "x.php56": PHP,
    "DEFAULT_ARTICLE.SVG": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    **{f"x.{extension}": PHP for extension in sorted(DANGEROUS_EXTENSIONS)},
    **{f"y.{extension}.jpg": PHP for extension in sorted(DANGEROUS_EXTENSIONS)},
}


def require_apache():
    if not apache_available():
        if os.environ.get("CMTCH_REQUIRE_APACHE"):
            pytest.fail("Apache + mod_php are required here (CMTCH_REQUIRE_APACHE) but /usr/sbin/apache2 or "
                        "libphp*.so is missing (apt-get install apache2 libapache2-mod-php)")
        pytest.skip("Apache + mod_php are not installed (apt-get install apache2 libapache2-mod-php)")


@pytest.fixture(scope="module", params=sorted(PHP_SETUPS))
def apache(request):
    """A running Apache for one PHP set-up, shared by the module's tests of that set-up."""
    require_apache()
    server = Apache(php=request.param).start()
    yield server
    server.stop()


def fill_folder(apache):
    """The photo folder filled afresh with photos and hostile files, no guard yet. Returns ``install(text=None)``
    which writes the guard (or ``text``) as the folder's .htaccess."""
    shutil.rmtree(apache.docroot / "static", ignore_errors=True)
    for name, (content, _type) in PHOTOS.items():
        apache.put(FOLDER + name, content)
    apache.put(FOLDER + "default_article.svg", DEFAULT_SVG)
    for name, content in DANGEROUS_FILES.items():
        apache.put(FOLDER + name, content)

    def install(text=None):
        apache.put(FOLDER + ".htaccess", GUARD_FILE.read_bytes() if text is None else text)

    return install


@pytest.fixture
def folder(apache):
    return fill_folder(apache)


def fetch(apache, url):
    return apache.get(FOLDER + url)


def describe(response):
    return f"{response.status} {response.headers.get('Content-Type')} {response.body[:100]!r}"


def leaks(answers):
    """The answers that served something: a 200, the script's output or its source."""
    return {url: describe(answer) for url, answer in answers.items()
            if answer.status == 200 or RAN in answer.body or SOURCE in answer.body}


def test_without_the_guard_scripts_run_and_the_folder_is_listed(apache, folder):
    answers = {url: fetch(apache, url) for url in RUNS_WITHOUT_GUARD[apache.php]}
    did_not_run = {url: describe(answer) for url, answer in answers.items()
                   if answer.status != 200 or RAN not in answer.body}
    assert not did_not_run, f"expected to run as PHP without the guard ({apache.php})"

    evil_photo = fetch(apache, "evil.php.jpg").body
    if apache.php in {"addhandler", "multiphp"}:  # a double extension is enough
        assert RAN in evil_photo
    else:  # not run, but the source goes out as a "photo"
        assert evil_photo == PHP
    if apache.php == "sethandler":  # case-sensitive FilesMatch: x.PHP's source is served
        assert fetch(apache, "x.PHP").body == PHP

    listing = fetch(apache, "")
    assert listing.status == 200 and b"evil.php" in listing.body and b".user.ini" in listing.body
    hidden = fetch(apache, ".htaccess.before-cmtch")  # this Apache has no "^\.ht" denial of its own
    assert hidden.status == 200 and SOURCE in hidden.body


def test_the_guard_refuses_every_dangerous_file(apache, folder):
    folder()
    answers = {url: fetch(apache, url) for url in DANGEROUS_URLS}
    leaked = leaks(answers)
    assert not leaked, f"served with the guard in place ({apache.php}): {sorted(leaked)}\n{leaked}"
    not_refused = {url: describe(answer) for url, answer in answers.items() if answer.status != 403}
    assert not not_refused, f"not 403 ({apache.php}): {not_refused}"


def test_the_guard_serves_photos_with_nosniff(apache, folder):
    folder()
    for name, (content, content_type) in PHOTOS.items():
        answer = fetch(apache, name)
        assert answer.status == 200, f"{name}: {describe(answer)}"
        assert answer.headers["Content-Type"] == content_type, name
        assert answer.headers["X-Content-Type-Options"] == "nosniff", name
        assert "sandbox" in answer.headers["Content-Security-Policy"], name
        assert answer.body == content, name

    svg = fetch(apache, "default_article.svg")
    assert svg.status == 200, describe(svg)
    assert svg.headers["Content-Type"] == "image/svg+xml"
    assert svg.headers["X-Content-Type-Options"] == "nosniff"
    assert re.search(r"default-src 'none'.*sandbox", svg.headers["Content-Security-Policy"])
    assert svg.body == DEFAULT_SVG


def test_the_guard_lists_no_folder(apache, folder):
    folder()
    for url in FOLDERS:
        answer = fetch(apache, url)
        assert answer.status == 403, f"{url!r}: {describe(answer)}"
        assert b"photo.jpg" not in answer.body and b"evil" not in answer.body


def test_the_guard_is_not_served_and_apache_accepts_every_line(apache, folder):
    log_before = len(apache.error_log())
    folder()
    answer = fetch(apache, ".htaccess")
    assert answer.status == 403, describe(answer)
    assert b"FilesMatch" not in answer.body
    assert fetch(apache, "photo.jpg").status == 200
    assert fetch(apache, "2026/11/photo.jpg").status == 200
    # An unknown or forbidden directive is logged as "<path>/.htaccess: <complaint>" and makes the whole
    # folder answer 500: nothing of the kind.
    log = apache.error_log()[log_before:]
    assert not re.search(r"\.htaccess: ", log), log


def test_apache_does_read_the_folder_htaccess(apache, folder):
    """The control: this Apache honours .htaccess in the photo folder and a broken one takes the photos
    down, so a guard Apache ignored or choked on could not pass for a working one."""
    folder("Options -Indexes\nThisIsNotADirective on\n")
    assert fetch(apache, "photo.jpg").status == 500
    assert "ThisIsNotADirective" in apache.error_log()
    folder("Options -Indexes\n")
    assert fetch(apache, "").status == 403
    assert fetch(apache, "photo.jpg").status == 200


def test_the_guard_also_refuses_php_fpm_names_and_what_the_storage_refuses(apache, folder):
    """Names outside the guard's list: x.php10 runs behind cPanel's PHP-FPM FilesMatch (sethandler here),
    the others are served (XHTML in .xml, JavaScript in .mjs, PHP sources in .inc, a case variant of the
    one SVG allowed). The guard should refuse at least what storage/names.py refuses."""
    for name, content in GAP_FILES.items():
        apache.put(FOLDER + name, content)
    folder()
    answers = {name: fetch(apache, name) for name in GAP_FILES}
    leaked = leaks(answers)
    assert not leaked, f"served with the guard in place ({apache.php}): {sorted(leaked)}\n{leaked}"


def test_without_its_deny_list_the_guard_still_runs_nothing(apache, folder):
    """Defence in depth: with the guard's "Require all denied" section taken out, what is left of the guard
    (RemoveHandler, RemoveType...) must still keep PHP from running, whatever the file is called."""
    guard = GUARD_FILE.read_text()
    without_deny = re.sub(r"(?s)<FilesMatch[^>]*>((?!</FilesMatch>).)*Require all denied.*?</FilesMatch>\n?", "",
                          guard)
    assert without_deny != guard and "Require all denied" not in without_deny
    apache.put(FOLDER + "x.php10", PHP)
    folder(without_deny)
    ran = {url: describe(answer) for url in [*DANGEROUS_URLS, "x.php10"]
           if RAN in (answer := fetch(apache, url)).body}
    assert not ran, f"PHP ran without the deny list ({apache.php}): {sorted(ran)}"
    assert fetch(apache, "photo.jpg").status == 200



@pytest.mark.parametrize("allow_override", RESTRICTED_OVERRIDES)
@pytest.mark.parametrize("php", ["sethandler", "addhandler"])
def test_the_guard_needs_no_options_override(php, allow_override):
    """Where the host forbids the Options override (or allows only some options), a guard with an Options
    line makes every photo answer 500; this guard has none and does its whole job there."""
    require_apache()
    apache = Apache(php=php, allow_override=allow_override).start()
    try:
        install = fill_folder(apache)
        install(OLD_GUARD_OPTIONS + GUARD_FILE.read_text())  # the old guard: refused here
        assert fetch(apache, "photo.jpg").status == 500
        install()
        leaked = leaks({url: fetch(apache, url) for url in DANGEROUS_URLS})
        assert not leaked, f"served with the guard under AllowOverride {allow_override}: {leaked}"
        for name, (content, content_type) in PHOTOS.items():
            answer = fetch(apache, name)
            assert (answer.status, answer.headers["Content-Type"], answer.body) == (200, content_type, content), name
            assert answer.headers["X-Content-Type-Options"] == "nosniff", name
        for url in FOLDERS:
            assert fetch(apache, url).status == 403, url
    finally:
        apache.stop()


def test_the_guard_gives_avif_and_webp_their_type_on_an_apache_that_predates_them(tmp_path):
    """An older host's mime.types knows neither AVIF (2019) nor WebP: without the guard Apache would
    send them with no type; the guard names both, so every browser takes them for images."""
    require_apache()
    old_types = tmp_path / "mime.types"
    old_types.write_text("".join(line for line in MIME_TYPES.read_text().splitlines(keepends=True)
                                 if not re.match(r"image/(avif|webp)\s", line)))
    old_types.chmod(0o644)
    apache = Apache(mime_types=old_types).start()
    try:
        install = fill_folder(apache)
        assert "image/avif" not in (fetch(apache, "2026/11/finale-dames-3a4b5c6d7e.avif").headers.get("Content-Type")
                                    or "")
        install()
        for name in ("2026/11/finale-dames-3a4b5c6d7e-480w.avif", "2026/11/tournoi-1a2b3c4d5e-480w.webp"):
            content, content_type = PHOTOS[name]
            answer = fetch(apache, name)
            assert (answer.status, answer.headers["Content-Type"], answer.body) == (200, content_type, content), name
    finally:
        apache.stop()
