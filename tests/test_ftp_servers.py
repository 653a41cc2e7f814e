"""The test servers themselves: the embedded HostGator (plain and TLS, recording, latency, every fault),
the black holes and Debian's vsftpd behave as the rest of the suite assumes. Plain ftplib on purpose:
the project's own client is what the other tests examine."""

import ftplib
import io
import select
import signal
import ssl
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509

from storage.embedded_state import EmbeddedState, embedded_hostgator_settings
from storage.shipped import DEFAULT_IMAGES_DIR
from tests.ftp_servers import free_port

PAYLOAD = bytes(range(256)) * 800  # 200 KiB: several reads on the server's side


class SessionReusingFTP_TLS(ftplib.FTP_TLS):
    """What a correct FTPS client does: the data connection resumes the control connection's TLS session."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


def ftps_login(config, client_class=ftplib.FTP_TLS, max_tls=None, timeout=5):
    context = ssl.create_default_context(cafile=config["CA_FILE"])
    if max_tls:
        context.maximum_version = max_tls
    client = client_class(context=context, timeout=timeout)
    client.connect(config["HOST"], config["PORT"])
    client.login(config["USER"], config["PASSWORD"])
    client.prot_p()
    client.cwd(config["DIR"])
    return client


def ftp_login(config, timeout=5):
    client = ftplib.FTP(timeout=timeout)
    client.connect(config["HOST"], config["PORT"])
    client.login(config["USER"], config["PASSWORD"])
    client.cwd(config["DIR"])
    return client


def login(server, **options):
    return (ftps_login if server.tls else ftp_login)(server.settings, **options)


def fetch(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def mode_of(path):
    return stat.S_IMODE(path.stat().st_mode)


# --- embedded_hostgator_settings -------------------------------------------------------------------------

def test_embedded_settings_create_the_state_once_and_every_caller_agrees(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBEDDED_FTP_PORT", raising=False)
    monkeypatch.setenv("EMBEDDED_HTTP_PORT", "8123")
    state_dir = tmp_path / "state"
    barrier = threading.Barrier(8)

    def settings_at_the_same_instant(_):
        barrier.wait(timeout=5)
        return embedded_hostgator_settings(state_dir)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(settings_at_the_same_instant, range(8)))
    assert all(result == results[0] for result in results)
    config = results[0]
    state = EmbeddedState(state_dir)
    assert config == {
        "HOST": "127.0.0.1", "PORT": 2121, "USER": "cmtch", "PASSWORD": state.password(),
        "DIR": "/public_html/static/article_images/", "PUBLIC_URL": "http://127.0.0.1:8123/static/article_images/",
        "TLS": "explicit", "CA_FILE": str(state.cert_file), "TLS_FINGERPRINT": None, "TIMEOUT": 15,
        "PASSIVE": True, "MAX_CONNECTIONS": 3, "FILE_MODE": "644", "TRANSFER_TIMEOUT": 60.0, "EMBEDDED": True,
    }
    assert len(config["PASSWORD"]) >= 24
    assert mode_of(state.password_file) == 0o600 and mode_of(state.key_file) == 0o600
    assert state.photo_folder.is_dir()
    assert sorted(path.name for path in state_dir.iterdir()) == ["ftp-password", "ftp-root", "tls"]  # no temp left
    assert embedded_hostgator_settings(state_dir) == config  # idempotent

    certificate = x509.load_pem_x509_certificate(state.cert_file.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime.days >= 3650


def test_the_embedded_command_runs_in_the_foreground_until_sigterm(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "EMBEDDED_FTP_PORT": str(free_port()), "EMBEDDED_HTTP_PORT": str(free_port())}
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen([sys.executable, "-m", "storage.embedded", "--state-dir", str(tmp_path)], cwd=root,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert select.select([process.stdout], [], [], 10)[0], "no log line within 10 s"
        line = process.stdout.readline()
        config = embedded_hostgator_settings(tmp_path) | {"PORT": int(env["EMBEDDED_FTP_PORT"])}
        with ftps_login(config) as client:
            client.storbinary("STOR dev.jpg", io.BytesIO(b"dev"))
        assert fetch(f"http://127.0.0.1:{env['EMBEDDED_HTTP_PORT']}/static/article_images/dev.jpg") == b"dev"
    finally:
        process.send_signal(signal.SIGTERM)
        output = line + process.communicate(timeout=10)[0]
    assert process.returncode == 0
    assert f"127.0.0.1:{env['EMBEDDED_FTP_PORT']}" in line and "/static/article_images/" in line
    assert config["PASSWORD"] not in output


# --- hostgator / hostgator_plain ---------------------------------------------------------------------------

def test_login_over_verified_tls_then_http_serves_what_ftp_stored(hostgator, settings):
    assert settings.HOSTGATOR_FTP == hostgator.settings
    assert hostgator.public_url == hostgator.settings["PUBLIC_URL"]
    with ftps_login(hostgator.settings) as client:
        assert client.sock.version() in {"TLSv1.2", "TLSv1.3"}
        client.mkd("2026")
        client.storbinary("STOR 2026/photo équipe.jpg", io.BytesIO(PAYLOAD))
    stored = hostgator.root / "2026" / "photo équipe.jpg"
    assert stored.read_bytes() == PAYLOAD
    assert mode_of(stored) == 0o644 and mode_of(stored.parent) == 0o755
    assert fetch(hostgator.public_url + "2026/photo%20%C3%A9quipe.jpg") == PAYLOAD
    for default in DEFAULT_IMAGES_DIR.glob("default_article.*"):
        assert fetch(hostgator.public_url + default.name) == default.read_bytes()


def test_tls_server_refuses_unverified_certificates_and_clear_text_logins(hostgator):
    config = hostgator.settings
    with pytest.raises(ssl.SSLCertVerificationError):
        ftps_login(config | {"CA_FILE": None})
    with ftplib.FTP(timeout=5) as client:
        client.connect(config["HOST"], config["PORT"])
        with pytest.raises(ftplib.error_perm, match="SSL/TLS required"):
            client.login(config["USER"], config["PASSWORD"])


def test_wrong_password_gets_530_quickly(hostgator):
    started = time.monotonic()
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftps_login(hostgator.settings | {"PASSWORD": "wrong"})
    assert time.monotonic() - started < 2


def test_plain_server_speaks_clear_ftp(hostgator_plain, settings):
    assert settings.HOSTGATOR_FTP["TLS"] == "off" and settings.HOSTGATOR_FTP["CA_FILE"] is None
    with ftp_login(hostgator_plain.settings) as client:
        client.storbinary("STOR plain.jpg", io.BytesIO(b"plain"))
    assert mode_of(hostgator_plain.root / "plain.jpg") == 0o644
    assert fetch(hostgator_plain.public_url + "plain.jpg") == b"plain"


def test_stop_takes_ftp_down_and_start_serves_again_on_the_same_port(hostgator):
    port = hostgator.settings["PORT"]
    (hostgator.root / "served.jpg").write_bytes(b"served")
    client = ftps_login(hostgator.settings)
    hostgator.stop()
    with pytest.raises((EOFError, OSError)):
        client.voidcmd("NOOP")  # the open session was closed too
    client.close()
    with pytest.raises(ConnectionRefusedError):
        ftps_login(hostgator.settings)
    assert fetch(hostgator.public_url + "served.jpg") == b"served"  # Apache is still up

    hostgator.start()
    assert hostgator.settings["PORT"] == port
    with ftps_login(hostgator.settings) as client:
        assert client.voidcmd("NOOP").startswith("200")


# --- recording and latency --------------------------------------------------------------------------------

def test_every_command_is_recorded_per_session_without_the_password(hostgator):
    with ftps_login(hostgator.settings) as first:
        first.pwd()
    hostgator.forget_commands()
    with ftps_login(hostgator.settings) as second:
        second.storbinary("STOR a.jpg", io.BytesIO(b"a"))
        second.sendcmd("SITE CHMOD 644 a.jpg")
    sessions = {command.session for command in hostgator.commands}
    assert len(sessions) == 1 and hostgator.sessions == 2
    assert hostgator.verbs() == ["AUTH", "USER", "PASS", "PBSZ", "PROT", "CWD", "TYPE", "PASV", "STOR",
                                 "SITE CHMOD", "QUIT"]
    assert all(hostgator.password not in command.argument for command in hostgator.commands)


def test_latency_delays_each_reply_of_one_session_without_stalling_the_others(hostgator_plain):
    clients = [ftp_login(hostgator_plain.settings) for _ in range(4)]
    hostgator_plain.latency = 0.2
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda client: client.voidcmd("NOOP"), clients))
        elapsed = time.monotonic() - started
    finally:
        for client in clients:
            client.close()
    assert 0.2 <= elapsed < 0.6


# --- faults -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("verb", "reply"), [
    ("STOR", "421 Service not available, closing control connection"),
    ("STOR", "450 Requested file action not taken"),
    ("STOR", "451 Local error in processing"),
    ("STOR", "452 Disk full"),
    ("STOR", "553 Prohibited file name"),
    ("RNTO", "451 Rename failed"),
    ("RNTO", "550 Rename failed"),
    ("SIZE", "550 Could not get file size"),
])
def test_reply_fault_answers_the_chosen_code_instead_of_executing(hostgator, verb, reply):
    hostgator.faults.reply(verb, reply, times=1)
    expected = ftplib.error_temp if reply.startswith("4") else ftplib.error_perm
    with ftps_login(hostgator.settings) as client:
        if verb != "STOR":
            client.storbinary("STOR before.jpg", io.BytesIO(b"x"))
        action = {"STOR": lambda: client.storbinary("STOR new.jpg", io.BytesIO(PAYLOAD)),
                  "RNTO": lambda: client.rename("before.jpg", "after.jpg"),
                  "SIZE": lambda: client.size("before.jpg")}[verb]
        with pytest.raises(expected, match=reply[:3]):
            action()
        assert not (hostgator.root / "new.jpg").exists() and not (hostgator.root / "after.jpg").exists()
        if reply.startswith("421"):
            with pytest.raises((EOFError, OSError)):
                client.voidcmd("NOOP")  # 421 ends the session
            return
        assert client.voidcmd("NOOP").startswith("200")  # nothing stray left on the control connection
        action()  # the fault was used up
    assert hostgator.faults.pending == 0


def test_reply_fault_can_target_an_argument_and_last_forever(hostgator_plain):
    hostgator_plain.faults.reply("STOR", "553 Prohibited file name", times=None, argument_contains=".php")
    with ftp_login(hostgator_plain.settings) as client:
        for _ in range(3):
            with pytest.raises(ftplib.error_perm, match="553"):
                client.storbinary("STOR x.php", io.BytesIO(b"<?php"))
        client.storbinary("STOR x.jpg", io.BytesIO(b"jpg"))
    assert sorted(path.name for path in hostgator_plain.root.iterdir() if path.name.startswith("x")) == ["x.jpg"]


@pytest.mark.parametrize("server_name", ["hostgator", "hostgator_plain"])
def test_drop_upload_closes_both_connections_after_n_bytes(request, server_name):
    server = request.getfixturevalue(server_name)
    server.faults.drop_upload(after_bytes=1000)
    client = login(server)
    with pytest.raises((OSError, EOFError, ftplib.Error)):
        client.storbinary("STOR partial.jpg", io.BytesIO(PAYLOAD))
        client.voidcmd("NOOP")
    client.close()
    partial = server.root / "partial.jpg"
    assert wait_for(lambda: partial.exists() and partial.stat().st_size == 1000)
    assert partial.read_bytes() == PAYLOAD[:1000]
    with login(server) as client:  # the host itself is fine
        client.storbinary("STOR whole.jpg", io.BytesIO(PAYLOAD))
    assert (server.root / "whole.jpg").read_bytes() == PAYLOAD


def test_too_many_connections_from_one_ip_get_pure_ftpds_421(hostgator):
    assert hostgator.max_sessions_per_ip == 8
    hostgator.max_sessions_per_ip = 2
    first, second = ftps_login(hostgator.settings), ftps_login(hostgator.settings)
    with pytest.raises(ftplib.error_temp, match=r"^421 Too many connections \(2\) from this IP$"):
        ftps_login(hostgator.settings)
    second.quit()

    def third_session_allowed():
        try:
            ftps_login(hostgator.settings).quit()
            return True
        except ftplib.error_temp:
            return False

    assert wait_for(third_session_allowed)
    first.quit()


def test_idle_session_is_closed_with_pure_ftpds_421(hostgator):
    hostgator.idle_timeout = 0.3
    client = ftps_login(hostgator.settings)
    time.sleep(0.6)
    with pytest.raises(ftplib.error_temp, match="^421 Timeout - try typing a little faster next time$"):
        client.getresp()  # said unprompted, as Pure-FTPd does
    with pytest.raises((EOFError, OSError)):
        client.voidcmd("NOOP")
    client.close()


# --- black holes ------------------------------------------------------------------------------------------

def test_black_hole_accepts_and_never_answers(black_hole):
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        ftplib.FTP(timeout=0.5).connect("127.0.0.1", black_hole.port)
    assert time.monotonic() - started < 2
    assert wait_for(lambda: black_hole.accepted == 1)
    assert black_hole.settings(timeout=1.0)["PORT"] == black_hole.port


def test_black_hole_after_greeting_never_answers_a_command(black_hole_after_greeting):
    client = ftplib.FTP_TLS(timeout=0.5)
    assert client.connect("127.0.0.1", black_hole_after_greeting.port).startswith("220 ")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.auth()
    assert time.monotonic() - started < 2
    client.close()


# --- vsftpd -----------------------------------------------------------------------------------------------

@pytest.mark.vsftpd
def test_vsftpd_refuses_data_connections_that_do_not_reuse_the_tls_session(vsftpd):
    with ftps_login(vsftpd.settings, max_tls=ssl.TLSVersion.TLSv1_2) as naive:
        with pytest.raises(ftplib.error_perm, match="^522 SSL connection failed: session reuse required$"):
            naive.storbinary("STOR naive.jpg", io.BytesIO(b"naive"))
    with ftps_login(vsftpd.settings, SessionReusingFTP_TLS, max_tls=ssl.TLSVersion.TLSv1_2) as client:
        assert client.sock.version() == "TLSv1.2"
        client.mkd("2026")
        client.storbinary("STOR 2026/.cmtch-tmp-photo.jpg", io.BytesIO(PAYLOAD))
        client.rename("2026/.cmtch-tmp-photo.jpg", "2026/photo.jpg")
        assert client.size("2026/photo.jpg") == len(PAYLOAD)
        client.storbinary("STOR 2026/photo.jpg", io.BytesIO(b"overwritten"))  # anonymous may overwrite
        with pytest.raises(ftplib.error_perm, match="^550"):
            client.sendcmd("SITE CHMOD 644 2026/photo.jpg")  # why its FILE_MODE is None
    stored = vsftpd.folder / "2026" / "photo.jpg"
    assert stored.read_bytes() == b"overwritten" and mode_of(stored) == 0o644
    assert fetch(vsftpd.public_url + "2026/photo.jpg") == b"overwritten"
    assert vsftpd.settings["FILE_MODE"] is None and vsftpd.settings["USER"] == "anonymous"


@pytest.mark.vsftpd
def test_vsftpd_refuses_clear_text_logins(vsftpd):
    with ftplib.FTP(timeout=5) as client:
        client.connect("127.0.0.1", vsftpd.port)
        with pytest.raises(ftplib.error_perm, match="^530"):
            client.login("anonymous", "x@example.org")
