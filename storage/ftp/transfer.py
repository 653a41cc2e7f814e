"""The moments of a transfer that ftplib gets wrong on a shared host: the end of an upload on a
slow link (wait while the bytes still move), a data connection that breaks (read the server's
reason), and two uploads of one name at once (NameClaim)."""

import array
import fcntl
import ftplib
import ssl
import termios
import time

from storage.errors import StoreBusy, StoreRefused
from storage.ftp.session import REPLY_AFTER_BROKEN_DATA_SECONDS

DELIVERY_POLL_SECONDS = 0.05
DELIVERY_WAIT_THRESHOLD = 64 * 1024  # bytes still in flight that any reply timeout covers
UPLOAD_COMMANDS = ("STOR", "APPE")


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
            raise StoreBusy("upload", self.path, detail="another upload of this name outlived the deadline")
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
                raise StoreRefused("upload", taken, detail="the name is taken and no other name is left")
            self.lock()
            exists_reply = self.connection.pipeline([self.connection.stat_command(self.path)])[0]
        return self.path


class Transfer:
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
        """How long the end of the transfer (TLS close, final reply) may take, never past the deadline.

        An upload: the rest of the deadline. The server answers only once it has read every byte,
        and its kernel may hold many it has acknowledged but not read yet -- a throttled host with
        a 1 MB receive buffer read at 64 KB/s answers 16 s after our side has sent everything.
        Nothing on our side shows those bytes, so no shorter wait is safe (a reply timeout of 8 s
        cut such an upload on CI). A host that stops reading while bytes are still ours is caught
        earlier, by wait_until_delivered. A download or a listing: the server has sent everything
        already, so the reply timeout, or as long as the transfer itself took if that was longer."""
        left = self.connection.seconds_left(self.operation, self.path)
        if self.operation in UPLOAD_COMMANDS:
            return left
        return min(max(self.connection.config.timeout, time.monotonic() - self.started), left)

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
        self.ftp.reply_wait = REPLY_AFTER_BROKEN_DATA_SECONDS
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
