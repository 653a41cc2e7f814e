"""The FTP/FTPS transport to HostGator. Knows nothing of Django.

Why by hand on top of ftplib rather than a library: no maintained Python FTP client does what a
shared host needs together — certificate verification or pinning before the password is sent,
TLS session reuse on data connections (cpython gh-63699), per-reply timeouts, a small thread-safe
pool under the host's per-IP connection cap, and atomic uploads in few round trips.

Round trips of one warm upload (``upload_atomically``):
  1. EPSV/PASV  2. STOR <temporary>  3. MLST <temporary> (size and mode) + MLST <final> (is the
  name free?)  4. RNFR + RNTO. SITE CHMOD only when the mode is wrong; without MLST, SIZE +
  SITE CHMOD instead. Steps 3 and 4 are pipelined (several commands sent before the replies are read, as RFC 959
allows); each pipeline is harmless if an earlier command in it fails (a failed RNFR turns RNTO
into a 503, nothing else changes).

Time: every reply is awaited at most ``timeout`` seconds, and a whole operation (waiting for a
connection, every attempt, every byte of every transfer) ends by its deadline,
``transfer_timeout`` seconds after it started (HOSTGATOR_FTP_TRANSFER_TIMEOUT), however slowly
the bytes still flow. After the last byte of an upload, the wait for the server's final reply
lasts as long as the bytes still in flight keep moving (see ``wait_until_delivered``), so a slow
but honest link is not cut after ``timeout`` seconds.

The pool lives in storage/ftp_pool.py, the meaning of replies in storage/ftp_replies.py.
"""

import array
import fcntl
import ftplib
import hashlib
import io
import logging
import posixpath
import secrets
import select
import socket
import ssl
import termios
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field

from storage.errors import (
    HostGatorBusy,
    HostGatorRefused,
    HostGatorTLSError,
    HostGatorUnavailable,
    TransferDeadlineExceeded,
)
from storage.ftp_replies import (
    RemoteFile,
    means_host_full,
    mlst_reports_mode,
    parse_ftp_time,
    parse_mlst_facts,
    parse_mlst_reply,
    reply_text,
    same_mode,
    translate,
)
from storage.names import TEMP_PREFIX, VISIBLE_TEMP_PREFIX, is_temporary

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
# Sent in slices of one TLS record at most, the deadline checked before each: a slice on a link
# crawling at 16 KB/s takes about a second, so no send overshoots the deadline by more.
SEND_SLICE = 16 * 1024
# Pure-FTPd closes a connection idle for ~15 minutes; do not even try one idle that long.
MAX_IDLE_SECONDS = 10 * 60
DELIVERY_POLL_SECONDS = 0.05
DELIVERY_WAIT_THRESHOLD = 64 * 1024  # bytes still in flight that any reply timeout covers
BROKEN_TRANSFER_REPLY_SECONDS = 5.0  # how long to wait for the reason after a data connection broke


@dataclass(frozen=True)
class FTPConfig:
    host: str
    user: str
    password: str = field(repr=False)
    port: int = 21
    tls: str = "explicit"
    ca_file: str | None = None
    tls_fingerprint: str | None = field(default=None, repr=False)
    timeout: float = 15.0
    passive: bool = True
    # 3: a photo's three files in parallel, and of the host's 8 per IP enough left (even with a
    # second gunicorn worker) for check_hostgator, the retry or the migration run from the same address.
    max_connections: int = 3
    file_mode: str | None = "644"
    transfer_timeout: float = 60.0
    cap_recovery_seconds: float = 60.0  # after a 421 lowered the pool's limit, try one more again

    @classmethod
    def from_settings(cls, values):
        """Build from the HOSTGATOR_FTP settings dict (keys: DESIGN.md)."""
        tls = str(values.get("TLS") or "explicit").strip().lower()
        if tls not in {"explicit", "off"}:
            raise ValueError(f"HOSTGATOR_FTP_TLS must be 'explicit' or 'off', not {tls!r}")
        fingerprint = values.get("TLS_FINGERPRINT") or None
        if fingerprint:
            fingerprint = fingerprint.replace(":", "").strip().lower()
            if len(fingerprint) != 64 or any(char not in "0123456789abcdef" for char in fingerprint):
                raise ValueError("HOSTGATOR_FTP_TLS_FINGERPRINT must be a SHA-256 (64 hex digits, colons allowed)")
        return cls(
            host=values["HOST"], port=int(values.get("PORT") or 21), user=values["USER"],
            password=values.get("PASSWORD") or "", tls=tls, ca_file=values.get("CA_FILE") or None,
            tls_fingerprint=fingerprint, timeout=float(values.get("TIMEOUT") or 15),
            passive=bool(values.get("PASSIVE", True)), max_connections=max(1, int(values.get("MAX_CONNECTIONS") or 3)),
            file_mode=str(values["FILE_MODE"]) if values.get("FILE_MODE") else None,
            transfer_timeout=float(values.get("TRANSFER_TIMEOUT") or 60),
            cap_recovery_seconds=float(values.get("CAP_RECOVERY_SECONDS", 60)),
        )


@dataclass
class ServerState:
    """What one server told us, shared by all connections of a pool so that later connections
    skip those round trips: its FEAT answer, folders known to exist, whether SITE CHMOD works."""

    features: dict | None = None  # None until a connection has asked (FEAT)
    known_dirs: set = field(default_factory=set)
    chmod_refused: bool = False
    # Temporary files of uploads whose connection died: deleted through the next healthy one.
    orphans: set = field(default_factory=set)
    temp_prefix: str | None = None  # TEMP_PREFIX, or VISIBLE_TEMP_PREFIX where dot files are refused
    login_reply: str = ""  # the last 230 reply, every line
    name_locks: tuple = field(default_factory=lambda: tuple(threading.Lock() for _ in range(64)))

    def lock_for(self, path):
        return self.name_locks[hash(path) % len(self.name_locks)]



def tls_context(config):
    if config.tls_fingerprint:
        # Shared hosts present a certificate for their own name (gatorNNNN...), not ftp.<domain>:
        # the pinned SHA-256 is checked instead of the chain and name, before USER/PASS is sent.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context()
        if config.ca_file:
            context.load_verify_locations(cafile=config.ca_file)
    # TLS 1.2 on purpose: data connections must resume the control connection's session (vsftpd
    # require_ssl_reuse, ProFTPD, some Pure-FTPd set-ups). Under TLS 1.3 the tickets arrive after
    # the handshake and each one is used up by a single resumption, so transfers after the first
    # few would be refused with 522/425. A TLS 1.2 session resumes any number of times.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def send_without_delay(sock):
    """Turn off Nagle's algorithm: FTP's commands and the last TLS records of a transfer are small,
    and each would otherwise wait for the previous segment's acknowledgement (a delayed ACK: up to
    40 ms on Linux) before leaving."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _CountingFTPMixin:
    """Counts commands sent and round trips waited for (a pipelined batch is one round trip), and
    bounds every wait by ``deadline`` (monotonic; None: the reply timeout alone): each reply and
    each data connection waits at most min(timeout, time left), the one place that enforces
    HOSTGATOR_FTP_TRANSFER_TIMEOUT for every command, login and transfer alike."""

    commands_sent = 0
    round_trips = 0
    _awaiting_reply = False
    deadline = None
    reply_wait = None  # seconds for the next replies instead of ``timeout`` (see _Transfer.final_wait)

    def bounded_timeout(self):
        wait = self.reply_wait or self.timeout
        if self.deadline is None:
            return wait
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TransferDeadlineExceeded("FTP", detail="no time left within HOSTGATOR_FTP_TRANSFER_TIMEOUT")
        return min(wait, left)

    def transfer_connection(self, cmd, rest=None):
        """ftplib's data connection, its connect bounded like a reply."""
        full, self.timeout = self.timeout, self.bounded_timeout()
        try:
            conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321 (TLS-wrapped by _SecureFTP)
        finally:
            self.timeout = full
        send_without_delay(conn)
        return conn, size

    def connect(self, *args, **kwargs):
        welcome = super().connect(*args, **kwargs)
        send_without_delay(self.sock)
        self._text_file()
        return welcome

    def putcmd(self, line):
        self.commands_sent += 1
        self._awaiting_reply = True
        super().putcmd(line)

    def putcmds(self, lines):
        """Several commands in one write, so that a pipeline leaves in one segment."""
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError("an illegal newline character should not be contained")
        self.commands_sent += len(lines)
        self._awaiting_reply = True
        self.sock.sendall("".join(f"{line}\r\n" for line in lines).encode(self.encoding))

    def getresp(self):
        if self._awaiting_reply:
            self.round_trips += 1
            self._awaiting_reply = False
        if self.sock is not None:
            self.sock.settimeout(self.bounded_timeout())
        try:
            return super().getresp()
        except TimeoutError:
            if self.deadline is not None and time.monotonic() >= self.deadline - 0.05:
                raise TransferDeadlineExceeded("FTP", detail="no reply within HOSTGATOR_FTP_TRANSFER_TIMEOUT") from None
            raise

    def _text_file(self):
        # A reply echoing a name in another encoding must not kill the connection.
        self.file = self.sock.makefile("r", encoding=self.encoding, errors="replace")


class _PlainFTP(_CountingFTPMixin, ftplib.FTP):
    def ntransfercmd(self, cmd, rest=None):
        return self.transfer_connection(cmd, rest)


class _SecureFTP(_CountingFTPMixin, ftplib.FTP_TLS):
    """FTP_TLS that verifies (or pins) the certificate and resumes the control connection's TLS
    session on every data connection — ftplib does neither by itself (cpython gh-63699)."""

    fingerprint = None

    def auth(self):
        response = super().auth()
        self._text_file()
        self.check_pin(self.sock, "AUTH TLS")
        return response

    def check_pin(self, tls_socket, operation):
        if not self.fingerprint:
            return
        seen = hashlib.sha256(tls_socket.getpeercert(binary_form=True)).hexdigest()
        if not secrets.compare_digest(seen, self.fingerprint):
            raise HostGatorTLSError(operation, detail=f"certificate SHA-256 is {seen}, not the pinned "
                                                       f"HOSTGATOR_FTP_TLS_FINGERPRINT")

    def ntransfercmd(self, cmd, rest=None):
        conn, size = self.transfer_connection(cmd, rest)
        if self._prot_p:
            try:
                conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
                self.check_pin(conn, "data connection")
            except BaseException:
                conn.close()
                raise
        return conn, size


def enable_mode_fact(ftp, features):
    """Ask MLST to report UNIX.mode where the server offers it but not by default (pyftpdlib);
    Pure-FTPd reports it anyway. Per session, so once per connection."""
    facts = [fact for fact in features.get("MLST", "").split(";") if fact]
    if not any(fact.lower() == "unix.mode" for fact in facts):  # offered, not on ("unix.mode*" is on)
        return
    enabled = [fact.rstrip("*") for fact in facts if fact.endswith("*") or fact.lower() == "unix.mode"]
    with suppress(ftplib.Error):
        ftp.sendcmd(f"OPTS MLST {';'.join(enabled)};")


class FTPConnection:
    """One logged-in control connection. Used by one thread at a time (the pool sees to it)."""

    def __init__(self, config, ftp, server):
        self.config, self.ftp, self.server = config, ftp, server
        self.last_used = time.monotonic()
        self.out_of_step = False  # a reply we never read may still come: no more commands here

    @property
    def deadline(self):
        """Monotonic time the current operation must end by (set by the pool), or None."""
        return self.ftp.deadline

    @deadline.setter
    def deadline(self, value):
        self.ftp.deadline = value

    def seconds_left(self, operation, path):
        """Until the deadline (the reply timeout when there is none); past it, the operation ends."""
        if self.deadline is None:
            return self.config.timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TransferDeadlineExceeded(operation, path, detail="still not done after "
                                           f"HOSTGATOR_FTP_TRANSFER_TIMEOUT ({self.config.transfer_timeout:g} s)")
        return left

    def bounded_timeout(self, operation, path):
        """The reply timeout, shortened so that no wait outlives the deadline."""
        return min(self.config.timeout, self.seconds_left(operation, path))

    def end_operation(self):
        self.ftp.deadline = None
        self.last_used = time.monotonic()
        with suppress(OSError):
            if self.ftp.sock is not None:
                self.ftp.sock.settimeout(self.config.timeout)

    @property
    def features(self):
        return self.server.features

    @classmethod
    def open(cls, config, server=None, deadline=None):
        """Connect, secure, verify, log in, all before ``deadline`` (monotonic) if given. ``server``:
        the ServerState shared with the other connections of a pool (what one connection learns,
        e.g. FEAT, saves the others a round trip)."""
        server = server or ServerState()
        secure = config.tls == "explicit"
        ftp = _SecureFTP(timeout=config.timeout) if secure else _PlainFTP(timeout=config.timeout)
        ftp.encoding = "utf-8"
        ftp.deadline = deadline
        stage = "connect"
        try:
            if secure:
                ftp.context = tls_context(config)  # a CA file that cannot be read fails here, translated
            ftp.connect(config.host, config.port, timeout=ftp.bounded_timeout())
            ftp.timeout = config.timeout  # connect() kept the shortened one; replies get theirs each time
            if secure:
                stage = "AUTH TLS"
                ftp.fingerprint = config.tls_fingerprint
                ftp.auth()  # certificate checked here, before the password leaves
            stage = "login"
            # Pure-FTPd's welcome tells the account's quota use ("230 0 Kbytes used (97%)..."):
            # check_hostgator reads it to warn before the host is full.
            server.login_reply = ftp.login(config.user, config.password)
            if secure:
                ftp.prot_p()
            ftp.set_pasv(config.passive)
            if server.features is None:
                server.features = read_features(ftp)
            enable_mode_fact(ftp, server.features)
            if "UTF8" in server.features:
                # Pure-FTPd may answer 504 and still take UTF-8 names: fine either way.
                with suppress(ftplib.Error):
                    ftp.sendcmd("OPTS UTF8 ON")
            ftp.voidcmd("TYPE I")
        except BaseException as error:
            close_quietly(ftp)
            raise translate(error, stage, f"{config.host}:{config.port}") from None
        return cls(config, ftp, server)

    @property
    def round_trips(self):
        return self.ftp.round_trips

    @property
    def commands_sent(self):
        return self.ftp.commands_sent

    def looks_alive(self):
        """True unless the server has hung up or said something unasked (e.g. '421 Timeout').
        Costs no round trip: a peek at the socket."""
        if time.monotonic() - self.last_used > MAX_IDLE_SECONDS:
            return False
        sock = self.ftp.sock
        if sock is None:
            return False
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self):
        close_quietly(self.ftp)

    # --- reading --------------------------------------------------------------------------------
    def stat(self, path):
        """RemoteFile, or None if nothing is there. One round trip (MLST, else SIZE + MDTM)."""
        if "MLST" in self.features:
            try:
                return parse_mlst_reply(self.ftp.sendcmd(f"MLST {path}"))
            except ftplib.error_perm:
                return None
        try:
            size = self.ftp.size(path)
        except ftplib.error_perm:
            return self._stat_by_listing(path)
        modified = None
        if "MDTM" in self.features:
            with suppress(ftplib.error_perm):
                modified = parse_ftp_time(self.ftp.sendcmd(f"MDTM {path}")[4:].strip())
        return RemoteFile(size=size, modified=modified)

    def _stat_by_listing(self, path):
        # For servers without MLST whose SIZE refuses directories: look for the name in its folder.
        folder, name = posixpath.split(path)
        dirs, files = self.listdir(folder)
        if name in dirs:
            return RemoteFile(size=None, is_dir=True)
        return RemoteFile(size=None) if name in files else None

    def retrieve(self, path, write):
        """Stream the file at ``path`` to ``write(bytes)``, chunk by chunk, within the deadline."""
        with self._transfer(f"RETR {path}") as conn:
            while True:
                conn.settimeout(self.bounded_timeout("download", path))
                chunk = conn.recv(CHUNK_SIZE)
                if not chunk:
                    break
                write(chunk)

    def entries(self, path):
        """[(name, RemoteFile)] in ``path``, temporary names included, '.' and '..' left out.
        MLSD where the server has it, else a unix-style LIST (no sizes or times then)."""
        command = "MLSD" if "MLST" in self.features else "LIST -a"
        try:
            lines = self.listing_lines(f"{command} {path}")
        except ftplib.error_perm as error:
            if str(error)[:3] in {"550", "501"}:  # no such folder (Pure-FTPd: 550, pyftpdlib: 501)
                return []
            raise
        found = []
        for line in lines:
            if command == "MLSD":
                facts, _, name = line.partition(" ")
                entry = parse_mlst_facts(facts)
            else:  # 'drwxr-xr-x 2 user group 4096 Nov 25 09:00 name'
                parts = line.split(None, 8)
                if len(parts) < 9:
                    continue
                name, entry = parts[8], RemoteFile(size=None, is_dir=line.startswith("d"))
            if name and name not in {".", ".."}:
                found.append((name, entry))
        return found

    def listdir(self, path):
        """(folders, files) in ``path``, without temporary upload names."""
        dirs, files = [], []
        for name, entry in self.entries(path):
            if not is_temporary(name):
                (dirs if entry.is_dir else files).append(name)
        return sorted(dirs), sorted(files)

    def listing_lines(self, command):
        """The lines a listing command (MLSD, LIST...) sends on its data connection."""
        with self._transfer(command) as conn, conn.makefile("r", encoding="utf-8", errors="replace") as lines:
            return [line.rstrip("\r\n") for line in lines if line.strip()]

    # --- writing --------------------------------------------------------------------------------
    def upload_atomically(self, path, fileobj, overwrite=False, alternatives=()):
        """Write ``fileobj`` to ``path`` so that no reader ever sees a half file there: upload to a
        hidden temporary name in the same folder, check its size, set the mode, rename.

        With overwrite=False an existing file is never replaced: the next name from
        ``alternatives`` (an iterable of paths) is used instead. Returns the path written.
        """
        if fileobj.seekable():
            fileobj.seek(0)  # a retry starts from the beginning
        claim = None if overwrite else NameClaim(self, path, iter(alternatives))
        temporary = None
        try:
            temporary, sent = self._store_temporary(posixpath.dirname(path), fileobj)
            # Where MLST tells the mode, one command checks size and mode, and SITE CHMOD is only
            # sent when the server's default is not already right (Pure-FTPd on cPanel: 644).
            mode_known = mlst_reports_mode(self.features)
            checks = [f"MLST {temporary}" if mode_known else f"SIZE {temporary}"]
            set_mode = bool(self.config.file_mode) and not self.server.chmod_refused
            if set_mode and not mode_known:
                checks.append(f"SITE CHMOD {self.config.file_mode} {temporary}")
            if claim:
                claim.lock()
                checks.append(self.stat_command(path))
            replies = self.pipeline(checks)
            stored = None if isinstance(replies[0], Exception) else (
                parse_mlst_reply(replies[0]) if mode_known else RemoteFile(size=int(replies[0].split()[-1])))
            if stored is None or stored.size != sent:
                raise HostGatorUnavailable("verify upload", path, str(replies[0]).strip(),
                                           f"{sent} bytes sent; the server did not keep them all")
            if set_mode and mode_known and not same_mode(stored.mode, self.config.file_mode):
                self.note_chmod_refusal(self.pipeline([f"SITE CHMOD {self.config.file_mode} {temporary}"])[0])
            elif set_mode and not mode_known:
                self.note_chmod_refusal(replies[1])
            if claim:
                path = claim.first_free(replies[-1])
            for reply in self.pipeline([f"RNFR {temporary}", f"RNTO {path}"]):
                if isinstance(reply, Exception):
                    raise reply
        except BaseException:
            if temporary:
                self.discard_temporary(temporary)
            raise
        finally:
            if claim:
                claim.release()
        self.last_used = time.monotonic()
        return path

    def note_chmod_refusal(self, reply):
        if isinstance(reply, Exception):
            # cPanel's Pure-FTPd allows SITE CHMOD; a server that does not already applies its own
            # umask (usually 644). Say it once and stop asking.
            self.server.chmod_refused = True
            logger.warning("FTP server refused SITE CHMOD (%s); files keep the server's default mode",
                           str(reply).strip())

    def _store_temporary(self, folder, fileobj):
        """Upload under a temporary name in ``folder``: (its path, bytes sent). Hidden name first;
        if the server refuses dot files, the visible prefix from then on."""
        prefixes = [self.server.temp_prefix] if self.server.temp_prefix else [TEMP_PREFIX, VISIBLE_TEMP_PREFIX]
        for prefix in prefixes:
            temporary = posixpath.join(folder, f"{prefix}{secrets.token_hex(6)}.part")
            try:
                sent = self._store(temporary, fileobj)
            except ftplib.error_perm as refusal:
                self.discard_temporary(temporary)  # a refusal may come after part of the data
                if prefix == prefixes[-1] or not fileobj.seekable() or means_host_full(reply_text(refusal)):
                    raise
                fileobj.seek(0)
                continue
            except BaseException:
                self.discard_temporary(temporary)
                raise
            self.server.temp_prefix = prefix
            return temporary, sent
        raise AssertionError("unreachable")

    def _store(self, path, fileobj):
        folder = posixpath.dirname(path)
        # Read before sending: another thread may create the folder while this upload is refused.
        folder_known = folder in self.server.known_dirs
        try:
            return self._send(path, fileobj)
        except ftplib.error_perm as refusal:
            if folder_known or not fileobj.seekable() or means_host_full(reply_text(refusal)):
                raise
        # The folder may be missing (a new month): make it, then try once more.
        self.makedirs(folder)
        fileobj.seek(0)
        return self._send(path, fileobj)

    def _send(self, path, fileobj):
        sent = 0
        with self._transfer(f"STOR {path}") as conn:
            while chunk := fileobj.read(CHUNK_SIZE):
                view = memoryview(chunk)
                for start in range(0, len(view), SEND_SLICE):
                    self._send_slice(conn, view[start:start + SEND_SLICE], path)
                sent += len(chunk)
            wait_until_delivered(conn, self, path)
        self.server.known_dirs.add(posixpath.dirname(path))
        return sent

    def _send_slice(self, conn, piece, path):
        """Send once the data connection can take more, unless the server has answered meanwhile:
        a reply in the middle of an upload is a refusal (Pure-FTPd over quota stops reading and
        says "552 Quota exceeded"), and waiting for the blocked socket would hide it."""
        timeout = self.bounded_timeout("upload", path)
        readable, writable, _ = select.select([self.ftp.sock], [conn], [], timeout)
        if readable:
            raise ConnectionAbortedError("the server replied before the end of the upload")
        if not writable:
            raise TimeoutError("the server stopped reading the upload")
        conn.settimeout(timeout)
        conn.sendall(piece)

    def server_has_replied(self):
        try:
            return bool(select.select([self.ftp.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def stat_command(self, path):
        return f"MLST {path}" if "MLST" in self.features else f"SIZE {path}"

    def discard_temporary(self, temporary):
        """Best effort: a failed upload leaves no temporary file behind. On a dead connection the
        name waits in ``orphans`` for the next healthy one (and stays recognisable by its prefix
        for check_hostgator's clean-up should this process die first)."""
        if self.out_of_step or (self.deadline is not None and time.monotonic() >= self.deadline):
            self.server.orphans.add(temporary)  # no reply to trust here, or no time left to wait for one
            return
        try:
            self.ftp.sendcmd(f"DELE {temporary}")
        except ftplib.error_perm:
            pass  # never created
        except Exception:
            self.server.orphans.add(temporary)

    def delete_orphans(self):
        while self.server.orphans:
            orphan = self.server.orphans.pop()
            try:
                self.delete(orphan)
            except BaseException:
                self.server.orphans.add(orphan)
                raise

    def delete(self, path):
        """Idempotent: deleting what is not there is fine."""
        try:
            self.ftp.sendcmd(f"DELE {path}")
        except ftplib.error_perm:
            if self.stat(path) is not None:
                raise

    def makedirs(self, path):
        """mkdir -p, remembered so that a folder is never probed twice by this pool."""
        known = self.server.known_dirs
        partial = ""
        for part in [part for part in path.split("/") if part]:
            partial = f"{partial}/{part}"
            if partial in known:
                continue
            try:
                self.ftp.sendcmd(f"MKD {partial}")
            except ftplib.error_perm:
                continue  # 550/521: already there, or refused (a full disk): STOR will tell; not remembered
            known.add(partial)

    def store_bytes(self, path, data):
        """Plain (non-atomic) upload, for small files of our own such as the folder's guard."""
        self._store(path, io.BytesIO(data))

    # --- plumbing -------------------------------------------------------------------------------
    def pipeline(self, commands):
        """Send ``commands`` at once, then read one reply each: one round trip for all of them.
        A refusal (4xx/5xx) is returned in place of its reply, so the next replies stay in step."""
        self.ftp.putcmds(commands)
        replies = []
        for _ in commands:
            try:
                replies.append(self.ftp.getresp())
            except (ftplib.error_temp, ftplib.error_perm) as refusal:
                replies.append(refusal)
        for reply in replies:
            if isinstance(reply, ftplib.error_temp) and str(reply).startswith("421"):
                raise reply  # the server is closing the connection
        return replies

    def _transfer(self, command):
        return _Transfer(self, command)


class NameClaim:
    """Makes "is the name free?" and "rename onto it" one step for the threads of this process.

    FTP has no create-if-absent, so two uploads of photo.jpg at once could both find the name
    free and the second rename would replace the first. A lock per name (striped, see
    ServerState) is held from the check to the rename. Other processes can still race in the
    one round trip between check and rename; the site's own photos carry a content hash in their
    names, so for them a collision is the same bytes."""

    def __init__(self, connection, path, alternatives):
        self.connection, self.path, self.alternatives = connection, path, alternatives
        self._held = None

    def lock(self):
        lock = self.connection.server.lock_for(self.path)
        if not lock.acquire(timeout=self.connection.seconds_left("upload", self.path)):
            raise HostGatorBusy("upload", self.path, detail="another upload of this name outlived the deadline")
        self._held = lock

    def release(self):
        if self._held is not None:
            self._held.release()
            self._held = None

    def first_free(self, exists_reply):
        """The first of path, alternatives... that the server says is free (its lock held)."""
        while not isinstance(exists_reply, ftplib.error_perm):  # 2xx: something is there
            if isinstance(exists_reply, Exception):
                raise exists_reply
            self.release()
            taken, self.path = self.path, next(self.alternatives, None)
            if self.path is None:
                raise HostGatorRefused("upload", taken, detail="the name is taken and no other name is left")
            self.lock()
            exists_reply = self.connection.pipeline([self.connection.stat_command(self.path)])[0]
        return self.path


class _Transfer:
    """A data connection for one command; on exit, closes it (TLS close_notify first) and reads
    the server's final reply (226).

    When the data connection breaks, the server's reply usually says why better than the broken
    socket does: Pure-FTPd over quota closes the data connection mid-upload, then answers
    "552 Quota exceeded" on the control connection. That reply is read and raised instead of
    "EOF occurred in violation of protocol", which would look like a host that is down."""

    def __init__(self, connection, command):
        self.connection, self.ftp, self.command = connection, connection.ftp, command
        self.operation = command.split(" ", 1)[0]
        self.path = command.split(" ", 1)[-1]

    def __enter__(self):
        self.conn, _ = self.ftp.ntransfercmd(self.command)
        self.started = time.monotonic()
        return self.conn

    def final_wait(self):
        """How long the end of the transfer (TLS close, final reply) may take: the reply timeout,
        or as long as the transfer itself took when that was longer -- on a slow link the server
        still has buffered bytes to read before it can answer -- never past the deadline."""
        waited = max(self.connection.config.timeout, time.monotonic() - self.started)
        return min(waited, self.connection.seconds_left(self.operation, self.path))

    def __exit__(self, exc_type, exc, traceback):
        failure = exc
        if exc_type is None and isinstance(self.conn, ssl.SSLSocket):
            try:
                self.conn.settimeout(self.final_wait())
                self.conn.unwrap()
            except OSError as error:  # e.g. the server hung up without TLS close_notify
                failure = error
            except BaseException:
                self.conn.close()
                raise
        self.conn.close()
        if failure is None:
            self.ftp.reply_wait = self.final_wait()
            try:
                self.ftp.voidresp()
            finally:
                self.ftp.reply_wait = None
            return False
        reply = None
        if isinstance(failure, OSError | EOFError) and not isinstance(failure, TimeoutError):
            reply = self._reply_after_broken_data_connection()
        if reply is None:
            self.connection.out_of_step = True  # the transfer's reply may still arrive later
        if isinstance(reply, ftplib.Error):
            raise reply
        if reply is None and exc is None:
            raise failure
        return False

    def _reply_after_broken_data_connection(self):
        """The server's reply (or its refusal, as an ftplib.Error), or None if it says nothing soon."""
        self.ftp.reply_wait = BROKEN_TRANSFER_REPLY_SECONDS
        try:
            return self.ftp.voidresp()
        except ftplib.Error as refusal:
            return refusal
        except Exception:
            return None
        finally:
            self.ftp.reply_wait = None


def unsent_bytes(sock):
    """Bytes of ours the kernel still holds for ``sock``, not sent or not acknowledged yet
    (Linux SIOCOUTQ); None where the system does not say."""
    try:
        count = array.array("i", [0])
        fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, count, True)
    except (OSError, ValueError):
        return None
    return count[0]


def wait_until_delivered(conn, connection, path):
    """After the last sendall(): wait while the upload's bytes still sit in our send buffer.

    A kernel send buffer holds megabytes, so on a slow link sendall() returns long before the
    server has the bytes, and the final reply cannot come before it has them all. Waiting for it
    with the plain reply timeout cut honest uploads (1.5 MB at 16 KB/s failed at 15 s). So: as
    long as the bytes keep leaving, wait (until the deadline); once they stop moving for the
    reply timeout, the host has stalled."""
    left = unsent_bytes(conn)
    if not left or left <= DELIVERY_WAIT_THRESHOLD:
        return  # what remains travels within any reply timeout
    last_progress, pause = time.monotonic(), 0.001
    while left:
        connection.seconds_left("upload", path)  # past the deadline: TransferDeadlineExceeded
        time.sleep(pause)
        pause = min(pause * 2, DELIVERY_POLL_SECONDS)
        now_left, now = unsent_bytes(conn), time.monotonic()
        if now_left is None:
            return
        if connection.server_has_replied():
            raise ConnectionAbortedError("the server replied before the end of the upload")
        if now_left < left:
            last_progress = now
        elif now - last_progress > connection.config.timeout:
            raise TimeoutError("the server stopped reading the upload")
        left = now_left


def read_features(ftp):
    """FEAT -> {'MLST': ..., 'UTF8': ..., 'SIZE': ...}; empty when the server has no FEAT."""
    features = {}
    try:
        reply = ftp.sendcmd("FEAT")
    except ftplib.Error:
        return features
    for line in reply.splitlines()[1:-1]:
        name, _, argument = line.strip().partition(" ")
        if name:
            features[name.upper()] = argument
    return features


def close_quietly(ftp):
    with suppress(Exception):
        if ftp.sock is not None:
            ftp.sock.settimeout(1)
            ftp.quit()
    with suppress(Exception):
        ftp.close()
