"""FTPConnection: one logged-in FTP/FTPS session and what the site does with it. Knows nothing of Django.

Why by hand on top of ftplib rather than a library: no maintained Python FTP client does what a
shared host needs together — certificate verification or pinning before the password is sent,
TLS session reuse on data connections (cpython gh-63699), per-reply timeouts, a small thread-safe
pool under the host's per-IP connection cap, and atomic uploads in few round trips.

Time: every reply is awaited at most ``timeout`` seconds, and a whole operation (waiting for a
connection, every attempt, every byte of every transfer) ends by its deadline,
``transfer_timeout`` seconds after it started (HOSTGATOR_FTP_TRANSFER_TIMEOUT), however slowly
the bytes still flow. After the last byte of an upload, we wait as long as the bytes still in
our send queue keep moving (``wait_until_delivered``), then for the server's final reply until
the deadline (``Transfer.final_wait``: the server may still be reading bytes its kernel has
acknowledged), so a slow but honest link is not cut after ``timeout`` seconds.

Around it: storage/ftp/config.py (settings), storage/ftp/session.py (one ftplib session: TLS,
deadline-bounded replies), storage/ftp/transfer.py (the ends of transfers, name claims),
storage/ftp/replies.py (what replies mean), storage/ftp/pool.py (the pool).
"""

import ftplib
import logging
import posixpath
import select
import ssl
import time
from contextlib import suppress

from storage.errors import (
    TransferDeadlineExceeded,
)
from storage.ftp.config import ServerState
from storage.ftp.replies import (
    RemoteFile,
    parse_ftp_time,
    parse_mlst_facts,
    parse_mlst_reply,
    translate,
)
from storage.ftp.session import PlainFTP, SecureFTP, close_quietly, enable_mode_fact, read_features, tls_context
from storage.ftp.transfer import Transfer
from storage.ftp.upload import CHUNK_SIZE, AtomicUploads
from storage.names import is_temporary

logger = logging.getLogger(__name__)

# Pure-FTPd closes a connection idle for ~15 minutes; do not even try one idle that long.
MAX_IDLE_SECONDS = 10 * 60


class FTPConnection(AtomicUploads):
    """One logged-in control connection. Used by one thread at a time (the pool sees to it)."""

    def __init__(self, config, ftp, server):
        self.config, self.ftp, self.server = config, ftp, server
        self.last_used = time.monotonic()

    @property
    def out_of_step(self):
        """A reply we never read may still come: no more commands here (the pool drops it)."""
        return self.ftp.out_of_step

    @out_of_step.setter
    def out_of_step(self, value):
        self.ftp.out_of_step = value

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
        ftp = SecureFTP(timeout=config.timeout) if secure else PlainFTP(timeout=config.timeout)
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
        MLSD where the server has it, else a unix-style LIST (sizes, but no times then)."""
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
                size = int(parts[4]) if parts[4].isdigit() else None  # the 5th column: bytes
                name, entry = parts[8], RemoteFile(size=size, is_dir=line.startswith("d"))
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

    # --- writing (uploads: storage/ftp/upload.py) ---------------------------------------------
    def stat_command(self, path):
        return f"MLST {path}" if "MLST" in self.features else f"SIZE {path}"

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
        """mkdir -p in one round trip (every MKD the pool does not know of, pipelined: a parent
        already there answers 550 and its child is made all the same), remembered so that a
        folder is never probed twice by this pool."""
        parts = [part for part in path.split("/") if part]
        folders = ["/" + "/".join(parts[:end]) for end in range(1, len(parts) + 1)]
        # Below the deepest folder known to exist, all of them (its parents exist too).
        known = max((index for index, folder in enumerate(folders) if folder in self.server.known_dirs), default=-1)
        unknown = folders[known + 1:]
        for folder, reply in zip(unknown, self.pipeline([f"MKD {folder}" for folder in unknown]), strict=True):
            if isinstance(reply, ftplib.error_temp):
                raise reply
            if not isinstance(reply, ftplib.Error):
                self.server.known_dirs.add(folder)
            # 550/521: already there, or refused (a full disk): STOR will tell; not remembered

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
        return Transfer(self, command)
