"""Real FTP servers on loopback for the test suite (the fixtures in conftest.py wrap them).

- ``InstrumentedHostGator``: the embedded Pure-FTPd stand-in (storage/embedded.py) that also records
  every command it receives, can answer each one late (``latency``) and misbehaves on request
  (``faults``) -- fault injection lives in the server, the client under test is the real one.
- ``BlackHole``: a host that accepts connections and then never answers (optionally after the greeting).
- ``Vsftpd``: Debian's vsftpd with ``require_ssl_reuse=YES``, the strict FTPS server that refuses data
  connections which do not resume the control connection's TLS session.
"""

import os
import pwd
import secrets
import select
import socket
import subprocess
import threading
import time
from collections import namedtuple
from pathlib import Path

from pyftpdlib.handlers import ThrottledDTPHandler

from storage.embedded import EmbeddedHostGator, PublicFolderServer
from storage.embedded_state import LOOPBACK, REMOTE_PHOTO_DIR, hostgator_settings, self_signed_certificate
from tests.processes import end_process_group

TEST_TIMEOUT = 5.0  # HOSTGATOR_FTP["TIMEOUT"] in tests: a stalled test fails fast, a loaded machine still passes
VSFTPD = "/usr/sbin/vsftpd"

ReceivedCommand = namedtuple("ReceivedCommand", "session verb argument")


def write_certificate(directory: Path):
    """(cert path, key path) of a fresh self-signed certificate for 127.0.0.1/localhost."""
    cert_pem, key_pem = self_signed_certificate()
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    key_file.chmod(0o600)
    return cert_file, key_file


def free_port():
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


# --- The embedded host, instrumented ------------------------------------------------------------------

class Faults:
    """What the server does wrong, set per test. Rules are consumed by the session threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._replies = []  # [verb, reply, times left (None: forever), argument_contains]
        self._drops = []  # [after_bytes, times left]

    def reply(self, verb, reply, times=1, argument_contains=None):
        """Answer ``reply`` (e.g. ``"452 Disk full"``) to the next ``times`` ``verb`` commands (None: all of
        them; only those whose argument contains ``argument_contains`` if given) instead of executing them.
        ``verb`` as the client sends it, ``"SITE CHMOD"`` for SITE commands. A 421 also ends the session,
        as Pure-FTPd does."""
        with self._lock:
            self._replies.append([verb.upper(), reply, times, argument_contains])

    def drop_upload(self, after_bytes=0, times=1):
        """Close the data and control connections of the next ``times`` STOR/APPE once ``after_bytes``
        have arrived, with no reply; the bytes received stay in the file, as a real host leaves them."""
        with self._lock:
            self._drops.append([after_bytes, times])

    def clear(self):
        with self._lock:
            self._replies.clear()
            self._drops.clear()

    @property
    def pending(self):
        """How many faults with a finite count have not fired yet (0: the client met every one)."""
        with self._lock:
            return sum(rule[2] or 0 for rule in self._replies) + sum(rule[1] for rule in self._drops)

    def _take_reply(self, verb, argument):
        with self._lock:
            for rule in self._replies:
                rule_verb, reply, times, argument_contains = rule
                if rule_verb != verb or times == 0:
                    continue
                if argument_contains is not None and argument_contains not in argument:
                    continue
                if times is not None:
                    rule[2] -= 1
                return reply
        return None

    def _take_drop(self):
        with self._lock:
            for rule in self._drops:
                if rule[1] > 0:
                    rule[1] -= 1
                    return rule[0]
        return None


class RecordingFaultyHandler:
    """Control-connection mixin: records each command, waits ``latency``, then applies ``faults``."""

    transfer_verbs = {"STOR", "APPE", "STOU", "RETR", "LIST", "NLST", "MLSD"}
    auth_failed_timeout = 0.3  # the pause before "530" (pyftpdlib's 3 s would slow every login-failure test)

    def __init__(self, *args, **kwargs):
        self.session_id = self.hostgator._open_session()
        self.drop_upload_after = None
        super().__init__(*args, **kwargs)

    def pre_process_command(self, line, cmd, arg):
        verb = f"SITE {arg.split(' ')[0].upper()}" if cmd == "SITE" and arg else cmd
        self.hostgator._record(ReceivedCommand(self.session_id, verb, "" if cmd == "PASS" else arg))
        if self.hostgator.latency:
            time.sleep(self.hostgator.latency)  # this session's thread only (one thread per session)
        reply = self.hostgator.faults._take_reply(verb, arg)
        if reply is not None:
            if verb in self.transfer_verbs:
                # An error reply to a transfer means no transfer: drop the data connection being set up.
                self._shutdown_connecting_dtp()
                if self.data_channel is not None:
                    self.data_channel.close()
            self.respond(reply)
            if reply.startswith("421"):
                self.close_when_done()
            return
        if verb in {"STOR", "APPE"}:
            self.drop_upload_after = self.hostgator.faults._take_drop()
        super().pre_process_command(line, cmd, arg)


class DroppingDataHandler:
    """Data-connection mixin for ``Faults.drop_upload``."""

    def _upload_bytes_left(self):
        limit = self.cmd_channel.drop_upload_after
        return None if limit is None or not self.receive else limit - self.tot_bytes_received

    def recv(self, buffer_size):
        left = self._upload_bytes_left()
        return super().recv(buffer_size if left is None else max(1, min(buffer_size, left)))  # not past the limit

    def handle_read_event(self):
        # pyftpdlib's IO loop calls handle_read_event (an alias of DTPHandler.handle_read, or the TLS mixin's).
        left = self._upload_bytes_left()
        if left is not None and left <= 0:
            self._vanish()
            return
        super().handle_read_event()
        left = self._upload_bytes_left()
        if left is not None and left <= 0 and not self._closed:
            self._vanish()

    def _vanish(self):
        control = self.cmd_channel
        control.drop_upload_after = None
        for channel in (self, control):
            # Shut the TCP connections first so that closing sends no TLS close_notify and no reply.
            sock = channel.socket
            try:
                (sock.sock_shutdown if hasattr(sock, "sock_shutdown") else sock.shutdown)(socket.SHUT_RDWR)
            except OSError:
                pass
        control.close()  # closes this data channel too; the file keeps what arrived


class ThrottledDataHandler(ThrottledDTPHandler):
    """Data-connection mixin: the server reads uploads at ``hostgator.read_limit`` bytes per second
    (0: no limit), pyftpdlib's own throttling -- a host on a slow, honest link. With
    ``hostgator.receive_buffer`` (bytes, 0: the kernel's choice), the data socket's receive buffer
    is that large: a throttled server whose kernel has already acknowledged much of the upload
    that it has not read yet."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if size := self.cmd_channel.hostgator.receive_buffer:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)

    @property
    def read_limit(self):
        return self.cmd_channel.hostgator.read_limit


class InstrumentedHostGator(EmbeddedHostGator):
    """The embedded host plus what tests and benchmarks need.

    - ``root``: the photo folder on disk (FTP ``/public_html/static/article_images/``).
    - ``commands``: every command received, as ``ReceivedCommand(session, verb, argument)`` (PASS's
      argument blanked); ``verbs(session=None)``, ``sessions``, ``forget_commands()``.
    - ``latency``: seconds slept before answering each command (per session: others are not stalled).
    - ``read_limit``: bytes per second the server reads of an upload (0: as fast as it comes);
      ``receive_buffer``: the size of its data sockets' receive buffers (0: the kernel's choice).
    - ``faults``: see ``Faults``; also ``max_sessions_per_ip`` and ``idle_timeout`` (Pure-FTPd's 8 and 900 s).
    """

    handler_mixins = (RecordingFaultyHandler,)
    data_handler_mixins = (DroppingDataHandler, ThrottledDataHandler)

    def __init__(self, *args, latency=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.latency = latency
        self.read_limit = 0
        self.receive_buffer = 0
        self.faults = Faults()
        self._commands = []
        self._sessions_opened = 0
        self._lock = threading.Lock()

    @property
    def root(self):
        return self.photo_folder

    @property
    def settings(self):
        return {**super().settings, "TIMEOUT": TEST_TIMEOUT}

    @property
    def commands(self):
        with self._lock:
            return list(self._commands)

    def verbs(self, session=None):
        return [command.verb for command in self.commands if session is None or command.session == session]

    @property
    def sessions(self):
        """Number of control connections accepted so far (including those refused with 421)."""
        with self._lock:
            return self._sessions_opened

    def forget_commands(self):
        with self._lock:
            self._commands.clear()

    def _open_session(self):
        with self._lock:
            self._sessions_opened += 1
            return self._sessions_opened

    def _record(self, command):
        with self._lock:
            self._commands.append(command)


class ConfinedHostGator(InstrumentedHostGator):
    """The embedded host with an FTP account that cannot write outside the photo folder, the two ways
    a cPanel host does it. ``confined="home"``: the account's home is the photo folder (cPanel → FTP
    Accounts, Directory public_html/static/article_images), so HOSTGATOR_FTP_DIR is "/" in
    ``settings``; ``confined="read-only-above"``: the home holds public_html as usual, but only the photo
    folder may be written (the server refuses STOR elsewhere with 550)."""

    def __init__(self, *args, confined="home", **kwargs):
        if confined not in {"home", "read-only-above"}:
            raise ValueError("confined must be 'home' or 'read-only-above'")
        super().__init__(*args, **kwargs)
        self.confined = confined

    @property
    def settings(self):
        return {**super().settings, "DIR": "/"} if self.confined == "home" else super().settings

    def _make_handler_class(self):
        from pyftpdlib.authorizers import DummyAuthorizer

        handler = super()._make_handler_class()
        authorizer = DummyAuthorizer()
        if self.confined == "home":
            authorizer.add_user(self.user, self.password, str(self.photo_folder), perm="elradfmwMT")
        else:
            authorizer.add_user(self.user, self.password, str(self.ftp_root), perm="elr")
            authorizer.override_perm(self.user, str(self.photo_folder), perm="elradfmwMT", recursive=True)
        handler.authorizer = authorizer
        return handler


def start_hostgator(base_dir: Path, certificate=None, **options):
    """A started InstrumentedHostGator whose FTP home is ``base_dir/ftp-root``; TLS with ``certificate``
    (cert path, key path), plain FTP without."""
    certfile, keyfile = certificate or (None, None)
    server = InstrumentedHostGator(base_dir / "ftp-root", secrets.token_urlsafe(16), certfile=certfile,
                                   keyfile=keyfile, **options)
    return server.start()


# --- A host that never answers ---------------------------------------------------------------------------

class BlackHole:
    """Accepts TCP connections and never answers; with ``greeting`` (e.g. ``b"220 ready\\r\\n"``) it sends
    that first and then nothing more. What a stalled or firewalled host looks like to a client."""

    def __init__(self, greeting=None):
        self.greeting = greeting
        self.accepted = 0
        self._listener = socket.create_server((LOOPBACK, 0), backlog=64)
        self.port = self._listener.getsockname()[1]
        self._connections = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_forever, name=f"black-hole-{self.port}", daemon=True)
        self._thread.start()

    def settings(self, timeout=1.0, tls=True):
        """HOSTGATOR_FTP pointing at this host (PUBLIC_URL points at it too: nothing is served there)."""
        return hostgator_settings(ftp_port=self.port, http_port=self.port, password="never-checked",
                                  ca_file=None, tls=tls, timeout=timeout)

    def _accept_forever(self):
        while not self._stopping.is_set():
            readable, _, _ = select.select([self._listener], [], [], 0.05)
            if not readable:
                continue
            connection, _address = self._listener.accept()
            self._connections.append(connection)
            self.accepted += 1
            if self.greeting:
                connection.sendall(self.greeting)

    def stop(self):
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self._connections:
            connection.close()


# --- FTP daemons from Debian's packages -------------------------------------------------------------------

class FTPDaemon:
    """A real FTP server binary in the foreground on loopback, in a process group of its own (stop()
    ends the listener and its per-session children together), its ``public_html`` served over HTTP.
    Subclasses set ``name``, ``self.base_dir``, ``self._http``, and give ``_prepare()`` and ``_command()``."""

    name = "ftpd"
    port = None
    _process = None

    def start(self, attempts=3):
        self._prepare()
        output_path = self.base_dir / f"{self.name}.out"
        for _attempt in range(attempts):  # the free port may be taken between probing and the server's bind
            self.port = free_port()
            command = self._command()
            with open(output_path, "wb") as output:
                # stdin too: vsftpd writes its start-up errors ("500 OOPS: ...") to fd 0.
                self._process = subprocess.Popen(command, stdin=output, stdout=output, stderr=output,
                                                 start_new_session=True)
            if self._wait_until_listening(deadline=time.monotonic() + 10):
                self._http.start()
                return self
            self.stop()
        errors = output_path.read_text(errors="replace").strip() if output_path.exists() else ""
        raise RuntimeError(f"{self.name} did not start: {errors or 'no output'}")

    def stop(self):
        self._http.stop()
        if self._process is not None:
            end_process_group(self._process)
            self._process = None

    def _wait_until_listening(self, deadline):
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1) as probe:
                    return probe.recv(100).startswith(b"220")
            except OSError:
                time.sleep(0.02)
        return False


class Vsftpd(FTPDaemon):
    """Debian's vsftpd: explicit FTPS required for login and data, ``require_ssl_reuse=YES``,
    anonymous account with write rights on ``folder`` (FTP ``/public_html/static/article_images/``,
    served over HTTP at ``public_url``).

    Anonymous because it needs no system account; the anonymous root itself must not be writable
    (vsftpd refuses that), so only the photo folder belongs to the ``ftp`` user.
    """

    name = "vsftpd"

    def __init__(self, base_dir: Path, certificate):
        self.base_dir = base_dir
        self.certfile, self.keyfile = certificate
        self.anon_root = base_dir / "anon-root"
        self.folder = self.anon_root / REMOTE_PHOTO_DIR.strip("/")
        self.log_file = base_dir / "vsftpd.log"
        self._http = PublicFolderServer(self.anon_root / "public_html")

    @property
    def public_url(self):
        return self.settings["PUBLIC_URL"]

    @property
    def settings(self):
        """HOSTGATOR_FTP for this server. FILE_MODE None: anonymous users may not SITE CHMOD (anon_umask
        022 gives 644 anyway)."""
        return hostgator_settings(ftp_port=self.port, http_port=self._http.port, password="cmtch@example.org",
                                  ca_file=self.certfile, user="anonymous", timeout=TEST_TIMEOUT, file_mode=None)

    def _command(self):
        config = self.base_dir / "vsftpd.conf"
        config.write_text(self._config())
        config.chmod(0o600)
        return [VSFTPD, str(config)]

    def _prepare(self):
        ftp_user = pwd.getpwnam("ftp")
        (self.base_dir / "empty").mkdir(mode=0o755, exist_ok=True)  # secure_chroot_dir: empty, not writable
        self.folder.mkdir(parents=True, exist_ok=True)
        for folder in (self.folder, *self.folder.parents):
            folder.chmod(0o755)
            if folder == self.anon_root:
                break
        os.chown(self.folder, ftp_user.pw_uid, ftp_user.pw_gid)

    def _config(self):
        options = {
            "listen": "YES", "listen_ipv6": "NO", "background": "NO",
            "listen_address": LOOPBACK, "listen_port": self.port,
            "pasv_enable": "YES", "pasv_address": LOOPBACK, "port_enable": "NO", "connect_from_port_20": "NO",
            "anonymous_enable": "YES", "local_enable": "NO", "write_enable": "YES",
            "anon_root": self.anon_root, "anon_upload_enable": "YES", "anon_mkdir_write_enable": "YES",
            "anon_other_write_enable": "YES", "anon_umask": "022", "no_anon_password": "NO",
            "ssl_enable": "YES", "allow_anon_ssl": "YES", "force_anon_logins_ssl": "YES",
            "force_anon_data_ssl": "YES", "require_ssl_reuse": "YES", "ssl_ciphers": "HIGH",
            "ssl_sslv2": "NO", "ssl_sslv3": "NO", "ssl_tlsv1": "YES",
            "rsa_cert_file": self.certfile, "rsa_private_key_file": self.keyfile,
            "secure_chroot_dir": self.base_dir / "empty",
            "seccomp_sandbox": "NO", "isolate": "NO", "isolate_network": "NO",
            "syslog_enable": "NO", "xferlog_enable": "YES", "xferlog_std_format": "NO",
            "log_ftp_protocol": "YES", "vsftpd_log_file": self.log_file,
            "idle_session_timeout": 300, "data_connection_timeout": 60,
        }
        return "".join(f"{name}={value}\n" for name, value in options.items())


def vsftpd_available():
    return Path(VSFTPD).exists()
