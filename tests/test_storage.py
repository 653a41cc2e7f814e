"""HostGatorStorage against real FTP servers on loopback (issue 3): names, TLS, atomic writes,
threads. Faults injected in the server live in test_storage_faults.py."""

import io
import logging
import threading
import urllib.request

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile

from storage.backends import HostGatorStorage
from storage.errors import StoreError, StoreLoginError, StoreTLSError
from storage.ftp.config import FTPConfig
from storage.ftp.connection import FTPConnection

NAMES = ["match.jpg", "photo équipe.jpg", "صورة الفريق.png", "2026/11/été à Sousse.webp", "a b/c#d?e.jpg"]


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def payload(index):
    return bytes((index * 7 + position) % 256 for position in range(1000 + index * 333))


def disk_files(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()
                  and not path.name.startswith("default_article"))


@pytest.fixture
def storage(hostgator):
    storage = HostGatorStorage()
    yield storage
    storage.disconnect()


def test_every_operation_with_any_name_over_one_tls_connection(storage, hostgator):
    saved = {}
    for index, name in enumerate(NAMES):
        saved[storage.save(name, ContentFile(payload(index)))] = payload(index)
    assert sorted(saved) == sorted(NAMES)
    for name, data in saved.items():
        assert storage.exists(name)
        assert storage.size(name) == len(data)
        with storage.open(name) as stored:
            assert stored.read() == data
        assert (hostgator.root / name).read_bytes() == data
        assert fetch(storage.url(name)) == data  # the public URL serves the same bytes
        assert storage.get_modified_time(name).tzinfo is not None
    defaults = ["default_article.jpg", "default_article.svg"]
    top_files = sorted([*defaults, "match.jpg", "photo équipe.jpg", "صورة الفريق.png"])
    assert storage.listdir("") == (["2026", "a b"], top_files)
    assert storage.listdir("2026/11") == ([], ["été à Sousse.webp"])
    for name in saved:
        storage.delete(name)
        assert not storage.exists(name)
    storage.delete(NAMES[0])  # deleting what is gone is fine
    assert disk_files(hostgator.root) == []
    # Well over ten transfers, all on the first connection: TLS data channels kept working.
    assert storage.pool.connections_opened == 1


def test_a_name_saved_twice_keeps_both_files(storage, hostgator):
    for name in ["match.jpg", "photo é.jpg", "صورة.jpg"]:
        first = storage.save(name, ContentFile(b"first"))
        second = storage.save(name, ContentFile(b"second"))
        assert first == name and second != name
        assert second.endswith(".jpg") and second.startswith(name[:-4] + "_")
        assert (hostgator.root / first).read_bytes() == b"first"
        assert (hostgator.root / second).read_bytes() == b"second"


def test_long_names_respect_max_length(storage):
    name = "x" * 40 + ".jpg"
    assert storage.save(name, ContentFile(b"1"), max_length=44) == name
    other = storage.save(name, ContentFile(b"2"), max_length=44)
    assert len(other) <= 44 and other != name and storage.exists(other)


def test_url_is_string_building_without_network(storage, hostgator):
    hostgator.stop()
    assert storage.url("2026/11/été #1.jpg") == hostgator.public_url + "2026/11/%C3%A9t%C3%A9%20%231.jpg"
    assert storage.url("صورة.jpg") == hostgator.public_url + "%D8%B5%D9%88%D8%B1%D8%A9.jpg"
    legacy = "https://www.cmtch.online/static/article_images/old%20photo.jpg"
    assert storage.url(legacy) == legacy


@pytest.mark.parametrize("name", [
    "../escape.jpg", "a/../../escape.jpg", "/etc/passwd.jpg", "shell.php", "photo.php.jpg", "x.phtml",
    "x.phar.png", ".htaccess", "a/.htaccess", ".user.ini", "page.html", "logo.svg", "ok.jpg\nDELE x",
    "tab\there.jpg", "nul\x00.jpg", "back\\slash.jpg", "noextension", "script.js", "archive.JPG.PHP",
])
def test_unsafe_names_are_refused_and_nothing_is_written(storage, hostgator, name):
    with pytest.raises(SuspiciousFileOperation):
        storage.save(name, ContentFile(b"<?php system($_GET[0]); ?>"))
    assert disk_files(hostgator.root) == []


def test_no_temporary_file_is_left_or_listed(storage, hostgator):
    for index in range(3):
        storage.save(f"t{index}.jpg", ContentFile(payload(index)))
    assert all(not name.startswith(".") for name in disk_files(hostgator.root))
    assert [name for name in storage.listdir("")[1] if name.startswith("t")] == ["t0.jpg", "t1.jpg", "t2.jpg"]


def test_a_warm_upload_takes_at_most_five_round_trips(storage):
    storage.save("warm-up.jpg", ContentFile(b"x"))
    connection = storage.pool._idle[0]
    before = connection.round_trips
    storage.save("second.jpg", ContentFile(b"y" * 5000))
    assert connection.round_trips - before <= 5
    before = connection.round_trips
    storage.save("second.jpg", ContentFile(b"z"))  # taken: one more round trip for another name
    assert connection.round_trips - before <= 6


def test_sixteen_threads_save_sixty_four_files(storage, hostgator):
    results, errors = {}, []

    def work(thread):
        try:
            for index in range(4):
                number = thread * 4 + index
                results[storage.save("concurrent.jpg", ContentFile(payload(number)))] = payload(number)
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(thread,)) for thread in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == 64
    for name, data in results.items():
        assert (hostgator.root / name).read_bytes() == data
    assert storage.pool.connections_opened <= 4


def test_save_many_uploads_in_parallel_and_replaces_same_names(storage, hostgator):
    files = {f"2026/11/p-{index}.jpg": payload(index) for index in range(6)}
    assert sorted(storage.save_many(files)) == sorted(files)
    storage.save_many({"2026/11/p-0.jpg": payload(0)})
    assert disk_files(hostgator.root) == sorted(files)
    storage.delete_many(list(files))
    assert disk_files(hostgator.root) == []


def test_plain_ftp_only_when_asked(hostgator_plain):
    storage = HostGatorStorage()
    assert storage.tls == "off"
    name = storage.save("plain.jpg", ContentFile(b"plain"))
    assert (hostgator_plain.root / name).read_bytes() == b"plain"
    storage.disconnect()


def test_certificate_is_verified_before_the_password_is_sent(hostgator, caplog):
    values = {**hostgator.settings, "CA_FILE": None}
    with pytest.raises(StoreTLSError) as refused:
        FTPConnection.open(FTPConfig.from_settings(values))
    assert "certificate" in str(refused.value)


def test_pinned_fingerprint_replaces_name_checks(hostgator):
    import hashlib
    import ssl

    pem = open(hostgator.settings["CA_FILE"]).read()
    fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    pinned = {**hostgator.settings, "CA_FILE": None, "HOST": "localhost",
              "TLS_FINGERPRINT": ":".join(fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()}
    connection = FTPConnection.open(FTPConfig.from_settings(pinned))
    connection.upload_atomically(hostgator.settings["DIR"] + "pinned.jpg", io.BytesIO(b"pinned"))
    connection.close()
    assert (hostgator.root / "pinned.jpg").read_bytes() == b"pinned"
    wrong = {**pinned, "TLS_FINGERPRINT": "00" * 32}
    with pytest.raises(StoreTLSError) as refused:
        FTPConnection.open(FTPConfig.from_settings(wrong))
    assert fingerprint in str(refused.value)


@pytest.mark.django_db
def test_the_password_never_shows(hostgator, settings, caplog, capsys):
    secret = hostgator.settings["PASSWORD"]
    caplog.set_level(logging.DEBUG)
    texts = []
    for broken in ({"PASSWORD": secret + "-wrong"}, {"CA_FILE": None}, {"PORT": 1}, {"TLS_FINGERPRINT": "ab" * 32}):
        settings.HOSTGATOR_FTP = {**hostgator.settings, **broken, "TIMEOUT": 2}
        storage = HostGatorStorage()
        with pytest.raises(StoreError) as failed:
            storage.save("x.jpg", ContentFile(b"x"))
        texts += [str(failed.value), repr(failed.value), repr(storage), repr(storage.pool.config),
                  str(storage.deconstruct())]
        storage.disconnect()
    assert isinstance(StoreLoginError("login"), StoreError)
    settings.HOSTGATOR_FTP = hostgator.settings
    explicit = HostGatorStorage(password=secret)
    texts += [str(explicit.deconstruct()), repr(explicit.pool.config)]
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", "-v", "3")
    captured = capsys.readouterr()
    texts += [captured.out, captured.err, caplog.text]
    leaks = [text for text in texts if secret in text]
    assert leaks == []


@pytest.mark.vsftpd
def test_tls_session_reuse_keeps_a_strict_server_working(vsftpd, settings):
    """vsftpd with require_ssl_reuse=YES refuses (522) any data connection that does not resume the
    control connection's TLS session: twelve uploads, reads and listings on one connection prove
    every data connection resumed it."""
    settings.HOSTGATOR_FTP = vsftpd.settings
    storage = HostGatorStorage()
    for index in range(12):
        name = storage.save(f"2026/11/reuse-{index} é.jpg", ContentFile(payload(index)))
        with storage.open(name) as stored:
            assert stored.read() == payload(index)
        assert fetch(storage.url(name)) == payload(index)
    assert len(storage.listdir("2026/11")[1]) == 12
    # vsftpd has no MLSD: the sizes come from its LIST lines (transfer_photos compares them).
    assert storage.file_sizes("2026/11") == {f"reuse-{index} é.jpg": len(payload(index)) for index in range(12)}
    assert storage.pool.connections_opened == 1
    storage.disconnect()


def test_mode_is_checked_with_the_size_and_set_only_when_wrong(storage, hostgator):
    """The host makes files 644 already (like Pure-FTPd on cPanel): the size check's MLST shows it,
    so no SITE CHMOD is sent (a host that makes them 600 gets one: test_check_hostgator's mode test)."""
    storage.save("mode.jpg", ContentFile(b"x" * 100))
    hostgator.forget_commands()
    storage.save("mode-2.jpg", ContentFile(b"y" * 100))
    assert hostgator.verbs() == ["PASV", "STOR", "MLST", "MLST", "RNFR", "RNTO"]
    assert oct((hostgator.root / "mode-2.jpg").stat().st_mode & 0o777) == "0o644"


def test_many_threads_opening_a_new_month_folder_at_once(storage, hostgator):
    files = {f"2027/0{month}/photo-{index}.jpg": payload(index) for month in (1, 2) for index in range(8)}
    results, errors = [], []

    def save(item):
        try:
            results.append(storage.save(item[0], ContentFile(item[1])))
        except Exception as error:  # asserted below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(item,)) for item in files.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and sorted(results) == sorted(files)
    assert all((hostgator.root / name).read_bytes() == data for name, data in files.items())


def test_listing_a_folder_that_does_not_exist_is_empty(storage):
    assert storage.listdir("1999/01") == ([], [])


@pytest.mark.parametrize("server_kind", ["pyftpdlib", "vsftpd", "pure-ftpd"])
def test_delete_many_sends_its_deletes_together_and_minds_only_what_remains(server_kind, request, settings):
    """A photo's clean-up names some 30 files, most absent: the DELEs go in one round trip and the
    refused ones are checked in one more, on each kind of server the host may run."""
    if server_kind == "pyftpdlib":
        server = request.getfixturevalue("hostgator")
        folder = server.root
    elif server_kind == "vsftpd":
        server = request.getfixturevalue("vsftpd")
        settings.HOSTGATOR_FTP, folder = server.settings, server.folder
    else:
        server = request.getfixturevalue("pure_ftpd")()
        settings.HOSTGATOR_FTP, folder = server.settings, server.folder
    storage = HostGatorStorage()
    present = {f"2026/12/photo-{index}.jpg": payload(index) for index in range(3)}
    storage.save_many(present)
    absent = [f"2026/12/photo-0-{width}w.avif" for width in range(320, 2000, 64)]
    before = {id(connection): connection.round_trips for connection in storage.pool._idle}
    storage.delete_many([*absent, *present])
    assert not [path for path in folder.rglob("photo-*")]
    # 30 DELEs, then the 27 refused checked: two round trips on the one connection that did it.
    assert sorted(connection.round_trips - before.get(id(connection), 0) for connection in storage.pool._idle)[-1] == 2
    storage.disconnect()


@pytest.mark.parametrize("server_kind", ["pyftpdlib", "vsftpd", "pure-ftpd"])
def test_each_transfer_sends_its_pasv_and_command_together(server_kind, request, settings):
    """PASV and STOR (RETR, MLSD) leave in one write, before the data connection exists: each server
    the host may run waits for it. A warm upload is then 3 round trips (PASV + STOR, MLST, RNFR +
    RNTO); a refused STOR (a new month folder) is read as a refusal, and the session stays in step."""
    if server_kind == "pyftpdlib":
        settings.HOSTGATOR_FTP = request.getfixturevalue("hostgator").settings
    elif server_kind == "vsftpd":
        settings.HOSTGATOR_FTP = request.getfixturevalue("vsftpd").settings
    else:
        settings.HOSTGATOR_FTP = request.getfixturevalue("pure_ftpd")().settings
    storage = HostGatorStorage()
    storage.save_many({"warm-up.jpg": b"x"})
    connection = storage.pool._idle[0]
    before = connection.round_trips
    storage.save_many({"2031/05/new-month.jpg": payload(1)})  # STOR refused, MKDs (one round trip), STOR again
    assert connection.round_trips - before == 5
    before = connection.round_trips
    storage.save_many({"2031/05/warm.jpg": payload(2)})
    assert connection.round_trips - before == 3
    with storage.open("2031/05/warm.jpg") as stored:
        assert stored.read() == payload(2)
    assert storage.listdir("2031/05")[1] == ["new-month.jpg", "warm.jpg"]
    assert storage.pool.connections_opened == 1
    storage.disconnect()
