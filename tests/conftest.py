"""Fixtures shared by the whole suite: real FTP servers on loopback (server code in ftp_servers.py).

- ``hostgator``: the embedded Pure-FTPd stand-in with explicit TLS, its folder served over HTTP, default
  images in place, ``settings.HOSTGATOR_FTP`` pointed at it. Attributes: ``root`` (photo folder on disk),
  ``public_url``, ``settings``, ``stop()``/``start()`` (FTP down / up again on the same port), ``commands``,
  ``verbs()``, ``latency``, ``faults``, ``max_sessions_per_ip``, ``idle_timeout`` (see InstrumentedHostGator).
- ``hostgator_plain``: the same without TLS (HOSTGATOR_FTP_TLS=off).
- ``black_hole`` / ``black_hole_after_greeting``: hosts that never answer; ``.settings(timeout=...)``.
- ``vsftpd``: Debian's vsftpd requiring TLS session reuse on data connections; ``.settings``, ``.folder``,
  ``.public_url`` (settings are not applied: do ``settings.HOSTGATOR_FTP = vsftpd.settings``).
- ``pure_ftpd``: a factory starting Debian's Pure-FTPd as cPanel runs it (tests/pureftpd.py).
- ``photo_store``: each store the photos may live on, in turn (parametrised: "hostgator", then "s3"), with
  one interface for the tests: ``kind``, ``public_url``, ``files()`` (names, default images left out),
  ``read(name)``, ``forget()`` then ``downloads()`` / ``uploads()`` / ``written()`` (files read, written since;
  {name: times}), ``slow(seconds)`` (a delay on every answer), ``down()`` /
  ``up()`` (the FTP server stopped; the bucket answering 503 to everything).
- ``s3``: an empty bucket on moto's S3 server (tests/s3_server.py), ``settings.PHOTO_S3`` pointed at it and
  PHOTO_STORAGE=s3 (the default storage is then a PhotoS3Storage). Attributes: ``bucket``, ``settings``,
  ``public_url``, ``server`` (``faults``, ``requests_of()``), ``requests()``, ``keys()``, ``head(key)``.
"""


import pytest

from storage.embedded_state import place_default_images
from tests.ftp_servers import BlackHole, Vsftpd, start_hostgator, vsftpd_available, write_certificate
from tests.photo_stores import Bucket, HostGatorStore, S3Store
from tests.processes import require
from tests.pureftpd import PureFTPd, pure_ftpd_available
from tests.s3_server import S3Server

# check_hostgator's ``run`` and ``healthy`` fixtures, for its test modules.
pytest_plugins = ["tests.hostgator_check_runs", "tests.browser"]


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory):
    """(cert path, key path): one self-signed certificate for 127.0.0.1/localhost for the whole run."""
    return write_certificate(tmp_path_factory.mktemp("tls"))


def _serve_hostgator(tmp_path, settings, certificate):
    server = start_hostgator(tmp_path, certificate)
    try:
        place_default_images(server.root)
        settings.HOSTGATOR_FTP = server.settings
        yield server
    finally:
        server.close()


@pytest.fixture
def hostgator(tmp_path, settings, tls_certificate):
    yield from _serve_hostgator(tmp_path, settings, tls_certificate)


@pytest.fixture
def hostgator_plain(tmp_path, settings):
    yield from _serve_hostgator(tmp_path, settings, None)


@pytest.fixture
def black_hole():
    server = BlackHole()
    yield server
    server.stop()


@pytest.fixture
def black_hole_after_greeting():
    server = BlackHole(greeting=b"220 ---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n")
    yield server
    server.stop()


@pytest.fixture
def vsftpd(tmp_path_factory, tls_certificate):
    require(vsftpd_available(), "CMTCH_REQUIRE_VSFTPD", "Debian's vsftpd is not installed (apt-get install vsftpd)")
    server = Vsftpd(tmp_path_factory.mktemp("vsftpd"), tls_certificate).start()
    yield server
    server.stop()


@pytest.fixture
def pure_ftpd(tmp_path_factory, tls_certificate):
    """Start Debian's Pure-FTPd as cPanel runs it: ``pure_ftpd(max_per_ip=8, quota_mb=None)``."""
    require(pure_ftpd_available(), "CMTCH_REQUIRE_PUREFTPD",
            "Debian's Pure-FTPd is not unpacked in /opt/pure-ftpd (see .ci/run), or this is not root")
    servers = []

    def start(**options):
        servers.append(PureFTPd(tmp_path_factory.mktemp("pure-ftpd"), tls_certificate, **options).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Pages render without `collectstatic` having run: the manifest storage (production) would
    refuse every {% static %} with no manifest, so the suite uses Django's plain storage."""
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(autouse=True)
def renditions_later_off(settings):
    """A photo's AVIF/WebP and other widths are not made behind a test's back (a thread of the test
    process outliving the test's database): tests that want them set PHOTO_RENDITIONS_LATER="now"."""
    settings.PHOTO_RENDITIONS_LATER = "off"


@pytest.fixture
def editor_client(client, django_user_model):
    """The test client logged in as an editor (a superuser)."""
    client.force_login(django_user_model.objects.create_superuser("editeur", "e@example.org", "pw-tests-only"))
    return client


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server, settings):
    bucket = Bucket(s3_server)
    s3_server.forget()
    settings.PHOTO_S3 = bucket.settings
    settings.PHOTO_STORAGE = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": settings.PHOTO_BACKENDS["s3"]}}
    yield bucket
    s3_server.faults.clear()
    s3_server.latency = 0.0
    s3_server.strict_checksums = False


@pytest.fixture(params=["hostgator", "s3"])
def photo_store(request):
    if request.param == "hostgator":
        return HostGatorStore(request.getfixturevalue("hostgator"))
    return S3Store(request.getfixturevalue("s3"))
